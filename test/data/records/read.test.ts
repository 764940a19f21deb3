// Record readers: JSONL and JSON arrays with the line each record starts on; malformed input as a
// record-level fault (JSONL line) or a file-level error (JSON array, missing file).
import { expect } from 'chai';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { elementLines, readRecords } from '../../../lib/data/records/read.ts';
import { makeRng } from '../../helpers/rng.ts';
import { rejectionOf } from '../../helpers/rejection.ts';

async function collect(file: string) {
  const out: { line?: number; value?: unknown; fault?: string; kind?: string }[] = [];
  for await (const it of readRecords(file)) {
    if (it.ok) out.push({ line: it.record.line, value: it.record.value });
    else out.push({ line: it.fault.line, fault: it.fault.message, kind: it.fault.kind });
  }
  return out;
}

function jsonError(text: string): string {
  try {
    JSON.parse(text);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('expected invalid JSON');
}

describe('readRecords', () => {
  let dir: string;
  before(() => (dir = mkdtempSync(path.join(tmpdir(), 'stic-read-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('JSONL: line numbers count blank lines, CRLF and a BOM are handled, a bad line is a fault', async () => {
    const file = path.join(dir, 'a.jsonl');
    writeFileSync(file, '\uFEFF{"id":"a"}\r\n\r\n{"id":"b","t":"x\\ny"}\r\n{"id": c}\n  \n{"id":"d"}');
    const got = await collect(file);
    expect(got).to.deep.equal([
      { line: 1, value: { id: 'a' } },
      { line: 3, value: { id: 'b', t: 'x\ny' } },
      { line: 4, fault: `${file}:4: malformed JSON (${jsonError('{"id": c}')})`, kind: 'malformed JSON' },
      { line: 6, value: { id: 'd' } },
    ]);
  });

  it('JSON array: each element with the line it starts on, pretty or compact, strings with brackets and escapes', async () => {
    const file = path.join(dir, 'b.json');
    const text = '[\n  {"id": "x", "v": "a [tricky], {string} with \\" quote"},\n  "plain",\n\n  [1, [2, 3]],\n  {\n    "id": "y"\n  }, 42\n]\n';
    writeFileSync(file, text);
    const got = await collect(file);
    expect(got.map((g) => g.line)).to.deep.equal([2, 3, 5, 6, 8]);
    expect(got.map((g) => g.value)).to.deep.equal(JSON.parse(text));
  });

  it('elementLines agrees with a plain per-element search on random arrays', () => {
    const rng = makeRng(11);
    for (let trial = 0; trial < 20; trial++) {
      const n = rng.int(0, 12);
      const values = Array.from({ length: n }, (_, i) => ({ id: `r${i}`, text: 'q"[{,\n'.repeat(rng.int(0, 3)), n: rng.normal() }));
      const parts = values.map((v) => `${'\n'.repeat(rng.int(0, 3))}${JSON.stringify(v, null, rng.int(0, 2) ? 2 : undefined)}`);
      const text = `[${parts.join(',')}\n]`;
      let pos = 1;
      const want = parts.map((p) => {
        const start = text.indexOf(p, pos) + p.length - p.trimStart().length;
        pos = start + 1;
        return text.slice(0, start).split('\n').length;
      });
      expect(elementLines(text)).to.deep.equal(want);
    }
  });

  it('a malformed JSON array is a file-level error naming the line', async () => {
    const file = path.join(dir, 'c.json');
    const text = '[\n  {"id": "a"},\n  {"id": "b",}\n]';
    writeFileSync(file, text);
    const err = await rejectionOf(collect(file));
    expect(err.name).to.equal('InputFileError');
    expect(err.message).to.equal(`${file}:3: malformed JSON (${jsonError(text)})`);
  });

  it('a JSON object that is not an array, a missing file and a folder are file-level errors', async () => {
    const obj = path.join(dir, 'd.json');
    writeFileSync(obj, '{"id": "a",\n "x": 1}');
    // not an array: read as JSONL, whose lines are not records
    const got = await collect(obj);
    expect(got.map((g) => g.kind)).to.deep.equal(['malformed JSON', 'malformed JSON']);
    const missing = path.join(dir, 'nope.jsonl');
    expect((await rejectionOf(collect(missing))).message).to.equal(`${missing}: cannot read the file (file not found)`);
    const folder = path.join(dir, 'folder.json');
    mkdirSync(folder);
    expect((await rejectionOf(collect(folder))).message).to.equal(`${folder}: cannot read the file (is a folder, expected a file)`);
  });
});
