// Hostile record files (issue 20): a record nested 100,000 levels deep used to end the whole run
// with "Maximum call stack size exceeded" in the record checks; bytes that are not UTF-8 used to be
// passed on as U+FFFD. Now the first is a skipped, counted record with its line, and the second is
// reported with the file, line and byte (a JSONL line is skipped; a JSON array file is refused).
import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { instructionFormat } from '../../../lib/data/records/instructions.ts';
import { loadRecords } from '../../../lib/data/records/load.ts';
import { MAX_RECORD_DEPTH, firstInvalidUtf8, readRecords, tooDeep } from '../../../lib/data/records/read.ts';
import { loadDpoData } from '../../../lib/stic/stages/train_data.ts';
import { makeRng } from '../../helpers/rng.ts';
import { rejectionOf } from '../../helpers/rejection.ts';

const deepArray = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;
const deepObject = (n: number) => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`;
const sample = (id: string) => JSON.stringify({ id, conversations: [{ from: 'human', value: 'Hi' }, { from: 'gpt', value: 'Hello' }] });

describe('hostile record files', () => {
  let dir: string;
  before(() => (dir = mkdtempSync(path.join(tmpdir(), 'stic-hostile-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('a record nested 100,000 deep is a skipped record with its line (JSONL and JSON array)', async () => {
    const lines = [`{"id":"a","conversations":${deepArray(100_000)}}`, sample('ok'), `{"id":${deepObject(100_000)}}`];
    for (const [name, text, at] of [['d.jsonl', `${lines.join('\n')}\n`, [1, 3]], ['d.json', `[${lines.join(',\n')}]`, [1, 3]]] as const) {
      const file = path.join(dir, name);
      writeFileSync(file, text);
      const r = await loadRecords(file, instructionFormat);
      expect(r.records.map((x) => x.id)).to.deep.equal(['ok']);
      expect(r.skips.faults.map((f) => f.message)).to.deep.equal(at.map((l) => `${file}:${l}: expected a record nested at most ${MAX_RECORD_DEPTH} levels deep but it nests deeper`));
      expect(r.skips.headline()).to.equal('2 records skipped (2 too deeply nested)');
    }
    const prefs = path.join(dir, 'p.jsonl');
    writeFileSync(prefs, `{"id":"p","image":"x.png","chosen":${deepArray(100_000)},"rejected":[]}\n`);
    const err = await rejectionOf(loadDpoData(prefs, { imageRoot: dir, refLogps: 'auto', reproduceMissingImageToken: false } as never));
    expect(err.message).to.equal(`${prefs}: no usable preference pairs (1 records skipped (1 too deeply nested))`);
  });

  it('depth is counted exactly: 64 levels pass, 65 do not', () => {
    const nest = (n: number): unknown => (n === 0 ? 1 : [nest(n - 1)]);
    expect(tooDeep(nest(MAX_RECORD_DEPTH))).to.equal(false);
    expect(tooDeep(nest(MAX_RECORD_DEPTH + 1))).to.equal(true);
  });

  it('invalid UTF-8: a JSONL line is skipped naming line and byte; a JSON array file is refused', async () => {
    const jsonl = path.join(dir, 'u.jsonl');
    writeFileSync(jsonl, Buffer.concat([Buffer.from(`${sample('a')}\n{"id":"`), Buffer.from([0xc3, 0x28]), Buffer.from(`"}\n${sample('c')}\n`)]));
    const got: string[] = [];
    for await (const it of readRecords(jsonl)) got.push(it.ok ? `ok ${it.record.line}` : `${it.fault.kind}: ${it.fault.message}`);
    expect(got).to.deep.equal(['ok 1', `invalid UTF-8: ${jsonl}:2: expected UTF-8 text but byte 8 of the line (0xc3) is not valid UTF-8`, 'ok 3']);
    const array = path.join(dir, 'u.json');
    writeFileSync(array, Buffer.concat([Buffer.from(`[\n${sample('a')},\n{"id":"`), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}]')]));
    const err = await rejectionOf(loadRecords(array, instructionFormat));
    expect(err.message).to.equal(`${array}:3: expected UTF-8 text but byte ${2 + sample('a').length + 2 + 8} of the file (0xed) is not valid UTF-8`);
  });

  it('firstInvalidUtf8 agrees with a strict decoder on 3,000 random byte strings', () => {
    const rng = makeRng(20);
    const strict = new TextDecoder('utf-8', { fatal: true });
    const pool = [0x00, 0x41, 0x7f, 0x80, 0xbf, 0xc0, 0xc2, 0xdf, 0xe0, 0xa0, 0xed, 0x9f, 0xef, 0xf0, 0x90, 0xf4, 0x8f, 0xf5, 0xff];
    let invalid = 0;
    for (let t = 0; t < 3000; t++) {
      const bytes = Uint8Array.from({ length: rng.int(0, 12) }, () => (rng.next() < 0.5 ? pool[rng.int(0, pool.length)] : rng.int(0, 256)));
      const at = firstInvalidUtf8(bytes);
      let ok = true;
      try {
        strict.decode(bytes);
      } catch {
        ok = false;
      }
      expect(at === bytes.length, `${Buffer.from(bytes).toString('hex')}`).to.equal(ok);
      if (!ok) {
        invalid++;
        expect(() => strict.decode(bytes.subarray(0, at))).to.not.throw(); // everything before it is valid
      }
    }
    expect(invalid).to.be.above(500);
  });
});
