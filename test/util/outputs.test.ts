// Append-only JSONL outputs (resume after a kill, torn last line) and atomic whole-file writes.
import { expect } from 'chai';
import { appendFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { writeFileAtomic, writeJsonAtomic } from '../../lib/util/atomic_write.ts';
import { JsonlWriter } from '../../lib/util/jsonl_writer.ts';
import { makeRng } from '../helpers/rng.ts';
import { rejectionOf } from '../helpers/rejection.ts';

describe('JsonlWriter', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(tmpdir(), 'stic-jsonl-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  // Random records (never trivial): ids and payloads drawn from a seeded generator.
  function records(n: number, seed: number): { id: string; x: number; text: string }[] {
    const rng = makeRng(seed);
    return Array.from({ length: n }, (_, i) => ({ id: `r${i}-${rng.int(0, 1e6)}`, x: rng.normal(), text: 'é\u2603'.repeat(rng.int(1, 5)) }));
  }

  it('creates the file, appends batches, and a reopen lists the ids in order', async () => {
    const file = path.join(dir, 'sub', 'out.jsonl');
    const recs = records(7, 1);
    const w = await JsonlWriter.open(file);
    expect(w.resume.ids).to.deep.equal([]);
    await w.append(recs.slice(0, 3));
    await w.append(recs.slice(3));
    await w.close();
    expect(readFileSync(file, 'utf8')).to.equal(recs.map((r) => `${JSON.stringify(r)}\n`).join(''));
    const again = await JsonlWriter.open(file);
    expect(again.resume.ids).to.deep.equal(recs.map((r) => r.id));
    expect(again.resume.truncatedBytes).to.equal(0);
    await again.close();
  });

  it('a torn last line (a write cut by a kill) is cut off, and resuming gives the uninterrupted file byte for byte', async () => {
    const recs = records(9, 2);
    const whole = path.join(dir, 'whole.jsonl');
    const w1 = await JsonlWriter.open(whole);
    for (let i = 0; i < recs.length; i += 2) await w1.append(recs.slice(i, i + 2));
    await w1.close();

    const killed = path.join(dir, 'killed.jsonl');
    const w2 = await JsonlWriter.open(killed);
    await w2.append(recs.slice(0, 4));
    await w2.close();
    const torn = JSON.stringify(recs[4]).slice(0, 17); // part of the next record, no newline
    appendFileSync(killed, torn);
    const w3 = await JsonlWriter.open(killed);
    expect(w3.resume.ids).to.deep.equal(recs.slice(0, 4).map((r) => r.id));
    expect(w3.resume.truncatedBytes).to.equal(Buffer.byteLength(torn));
    await w3.append(recs.filter((r) => !w3.resume.done.has(r.id)));
    await w3.close();
    expect(readFileSync(killed)).to.deep.equal(readFileSync(whole));
  });

  it('refuses a complete line that is not a record, naming file and line', async () => {
    const file = path.join(dir, 'bad.jsonl');
    writeFileSync(file, '{"id":"a"}\n{"id": oops}\n');
    const err = await rejectionOf(JsonlWriter.open(file));
    expect(err.message).to.match(
      new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2: expected a complete JSON record but the line does not parse \\(.+\\); this output was not written by stic or was edited; move it away to start the stage over$`),
    );
  });

  it('refuses a line without an id and a repeated id', async () => {
    const a = path.join(dir, 'noid.jsonl');
    writeFileSync(a, '{"id":"a"}\n{"name":"b"}\n');
    expect((await rejectionOf(JsonlWriter.open(a))).message).to.equal(
      `${a}:2: expected a record with a string "id"; this output was not written by stic or was edited; move it away to start the stage over`,
    );
    const b = path.join(dir, 'dup.jsonl');
    writeFileSync(b, '{"id":"a"}\n{"id":"a"}\n');
    expect((await rejectionOf(JsonlWriter.open(b))).message).to.equal(
      `${b}:2: record "a" appears twice; this output was not written by stic or was edited; move it away to start the stage over`,
    );
  });

  it('refuses to append a record twice or a record without an id', async () => {
    const file = path.join(dir, 'x.jsonl');
    const w = await JsonlWriter.open(file);
    await w.append([{ id: 'a', v: 1 }]);
    expect((await rejectionOf(w.append([{ id: 'a', v: 2 }]))).message).to.equal(`${file}: record "a" is already in this output`);
    expect((await rejectionOf(w.append([{ v: 3 }]))).message).to.equal(`${file}: expected every record to have a string or number "id" but received {"v":3}`);
    await w.close();
    expect(readFileSync(file, 'utf8')).to.equal('{"id":"a","v":1}\n');
  });

  it('numeric ids (metrics steps) with idField', async () => {
    const file = path.join(dir, 'm.jsonl');
    const w = await JsonlWriter.open(file, { idField: 'step' });
    await w.append([{ step: 0, loss: 0.69 }, { step: 1, loss: 0.61 }]);
    await w.close();
    const r = await JsonlWriter.open(file, { idField: 'step' });
    expect(r.resume.ids).to.deep.equal(['0', '1']);
    await r.close();
  });
});

describe('atomic writes', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(tmpdir(), 'stic-atomic-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('replaces the file whole and leaves no temp file behind', async () => {
    const file = path.join(dir, 'a', 'b.json');
    await writeJsonAtomic(file, { x: [1, 2] });
    await writeFileAtomic(file, 'second');
    expect(readFileSync(file, 'utf8')).to.equal('second');
    expect(readdirSync(path.dirname(file))).to.deep.equal(['b.json']);
    await writeJsonAtomic(file, { y: 'z' });
    expect(JSON.parse(readFileSync(file, 'utf8'))).to.deep.equal({ y: 'z' });
  });

  it('a failed write keeps the old file and cleans its temp file', async () => {
    const file = path.join(dir, 'c.json');
    await writeJsonAtomic(file, { keep: true });
    const bad = { toJSON: () => undefined } as unknown as string; // writeFile throws on undefined data
    const err = await rejectionOf(writeFileAtomic(file, bad));
    expect(err).to.be.instanceOf(Error);
    expect(JSON.parse(readFileSync(file, 'utf8'))).to.deep.equal({ keep: true });
    expect(readdirSync(dir)).to.deep.equal(['c.json']);
  });
});
