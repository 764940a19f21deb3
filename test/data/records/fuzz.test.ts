// Seeded fuzzing of the record and config parsers (issue 20): JSONL records of each kind
// (instruction samples, descriptions, preference pairs in our format and the public one, unlabeled
// image lists) and
// `stic run` configs, mutated a few thousand ways from valid fixtures. A mutated record must be
// either loaded or skipped and counted with its line; a mutated file either loads or is refused
// naming the file; never an exception from inside a parser.
import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { descriptionFormat } from '../../../lib/data/records/descriptions.ts';
import { InputFileError } from '../../../lib/data/records/faults.ts';
import { instructionFormat } from '../../../lib/data/records/instructions.ts';
import { type RecordFormat, loadRecords } from '../../../lib/data/records/load.ts';
import { preferenceFormat } from '../../../lib/data/records/preference.ts';
import { listUnlabeledImages } from '../../../lib/data/records/unlabeled.ts';
import { parseRunConfig } from '../../../lib/stic/run_config.ts';
import { makeRng } from '../../helpers/rng.ts';
import { repo } from '../../stic/cli_helpers.ts';
import { expectCleanOutcome, mutateBytes, mutateJson } from '../../helpers/mutate.ts';

const fixture = (p: string) => readFileSync(path.join(repo, 'test/fixtures/stic', p), 'utf8');
const jsonLines = (text: string) => text.trim().split('\n').map((l) => JSON.parse(l) as unknown);

const KINDS: { name: string; format: RecordFormat<object>; valid: () => unknown[] }[] = [
  { name: 'instruction samples', format: instructionFormat as RecordFormat<object>, valid: () => JSON.parse(fixture('instructions.json')) as unknown[] },
  { name: 'descriptions', format: descriptionFormat(true) as RecordFormat<object>, valid: () => jsonLines(fixture('descriptions.jsonl')) },
  { name: 'preference pairs (public)', format: preferenceFormat as RecordFormat<object>, valid: () => jsonLines(fixture('public-pref.jsonl')) },
  {
    name: 'preference pairs (ours)',
    format: preferenceFormat as RecordFormat<object>,
    valid: () => [{
      id: 'p1', image: 'a.png', chosen: [{ role: 'user', content: '<image>\nDescribe.' }, { role: 'assistant', content: 'A cat.' }],
      rejected: [{ role: 'user', content: '<image>\nDescribe.' }, { role: 'assistant', content: 'A dog.' }], ref_chosen_logp: -3.5, ref_rejected_logp: -4.25,
      provenance: { dispreferred: 'hallucination', model: 'm', seed: 1, prompts: { stored: 'Describe.' } },
    }],
  },
];

describe('fuzz: records and run configs', function () {
  this.timeout(120_000);
  let dir: string;
  before(() => (dir = mkdtempSync(path.join(tmpdir(), 'stic-fuzz-rec-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const [k, kind] of KINDS.entries()) {
    it(`${kind.name}: 1,500 mutated JSONL records are each loaded or skipped with their line`, async () => {
      const rng = makeRng(3000 + k);
      const valid = kind.valid();
      const lines = Array.from({ length: 1500 }, (_, i) => JSON.stringify(mutateJson(valid[i % valid.length], rng)) ?? 'null');
      const file = path.join(dir, `k${k}.jsonl`);
      writeFileSync(file, `${lines.join('\n')}\n`);
      let loaded: Awaited<ReturnType<typeof loadRecords>> | undefined;
      await expectCleanOutcome(`${kind.name} (seed ${3000 + k})`, async () => {
        loaded = await loadRecords(file, kind.format, { allowEmpty: true });
      }, () => false);
      const { records, skips } = loaded!;
      expect(records.length + skips.count).to.equal(1500); // every line accounted for
      for (const f of skips.faults) expect(f.message.startsWith(`${file}:${f.line}`), f.message).to.equal(true);
      expect(skips.count).to.be.above(300);
    });
  }

  it('400 byte-mutated record files (JSONL and JSON arrays) load or are refused naming the file', async () => {
    const rng = makeRng(3100);
    const sources = [fixture('instructions.json'), fixture('descriptions.jsonl'), fixture('public-pref.jsonl'), fixture('public-pref.json')];
    for (let i = 0; i < 400; i++) {
      const file = path.join(dir, `bytes-${i}.json`);
      writeFileSync(file, mutateBytes(Buffer.from(sources[i % sources.length]), rng));
      const format = [instructionFormat, descriptionFormat(true), preferenceFormat, preferenceFormat][i % 4] as RecordFormat<object>;
      await expectCleanOutcome(`record file case ${i} (seed 3100)`, () => loadRecords(file, format), (e) => e instanceof InputFileError && e.message.startsWith(file));
    }
  });

  it('unlabeled image lists: 300 mutated JSONL / JSON / plain lists load (bad entries skipped with their line) or are refused naming the file', async () => {
    const rng = makeRng(3300);
    const records = [{ image: 'a.png' }, { id: 'b', image: 'sub/b.jpg' }, 'c.png', { image: 'd.webp', extra: 1 }];
    for (let i = 0; i < 300; i++) {
      const kind = i % 3;
      const file = path.join(dir, `list-${i}.${kind === 2 ? 'txt' : kind === 1 ? 'json' : 'jsonl'}`);
      const values = records.map((r) => mutateJson(r, rng));
      const text = kind === 0 ? `${values.map((v) => JSON.stringify(v) ?? 'null').join('\n')}\n` : kind === 1 ? JSON.stringify(values) : Buffer.from(mutateBytes(Buffer.from('a.png\n# comment\nsub/b.jpg\nc.png\n'), rng)).toString('latin1');
      writeFileSync(file, text);
      const outcome = await expectCleanOutcome(`image list case ${i} (seed 3300)`, () => listUnlabeledImages(file), (e) => e instanceof InputFileError && e.message.startsWith(file));
      if (outcome === 'ok') {
        const set = await listUnlabeledImages(file);
        for (const f of set.skips.faults) expect(f.message.startsWith(file), f.message).to.equal(true);
      }
    }
  });

  it('run configs: 2,000 mutated configs (as JSON) and 1,000 byte-mutated YAML files load or are refused naming the file', async () => {
    const yamlText = fixture('run.yaml');
    const file = path.join(repo, 'test/fixtures/stic/run.yaml');
    const valid = { model: 'm', out: 'o', seed: 7, threads: 1, stages: ['pref', 'dpo', 'describe', 'infuse', 'sft'], pref: { images: 'i', 'batch-size': 4 }, dpo: { beta: 0.2 }, describe: { instructions: 'x.json' }, infuse: { missing: 'keep' }, sft: { epochs: 2 } };
    const rng = makeRng(3200);
    const counts = { ok: 0, refused: 0 };
    for (let i = 0; i < 2000; i++) {
      const text = JSON.stringify(mutateJson(valid, rng)) ?? 'null';
      counts[await expectCleanOutcome(`run config JSON case ${i} (seed 3200)`, () => parseRunConfig('/cfg/run.json', text), (e) => e.message.startsWith('/cfg/run.json'))]++;
    }
    for (let i = 0; i < 1000; i++) {
      const text = Buffer.from(mutateBytes(Buffer.from(yamlText), rng)).toString('utf8');
      counts[await expectCleanOutcome(`run config YAML case ${i} (seed 3200)`, () => parseRunConfig(file, text), (e) => e.message.startsWith(file))]++;
    }
    expect(counts.refused).to.be.above(1000);
    expect(counts.ok).to.be.above(100);
  });
});
