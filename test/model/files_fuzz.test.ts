// Seeded fuzzing of the model-file parsers (issue 20): safetensors headers and files, model
// configs and tokenizer files, each mutated a few thousand ways from a valid fixture. Every input
// must either load or be refused with an error naming the file: no crash, no hang, no TypeError or
// stack overflow from inside a parser.
import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { parseModelConfig } from '../../lib/model/config.ts';
import { openSafetensors, readTensors } from '../../lib/model/safetensors.ts';
import { tokenizerFromFiles } from '../../lib/model/tokenizer.ts';
import { makeRng } from '../helpers/rng.ts';
import { repo } from '../stic/cli_helpers.ts';
import { expectCleanOutcome, mutateBytes, mutateJson } from '../helpers/mutate.ts';

const fixture = (p: string) => path.join(repo, 'test/fixtures', p);
const json = (p: string) => JSON.parse(readFileSync(fixture(p), 'utf8')) as unknown;

describe('fuzz: model files', function () {
  this.timeout(120_000);
  let dir: string;
  before(() => (dir = mkdtempSync(path.join(tmpdir(), 'stic-fuzz-model-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('safetensors: 1,500 mutated headers and files load or are refused naming the file', async () => {
    const valid = readFileSync(fixture('hf/llava-tiny-llama/inputs.safetensors'));
    const headerLen = Number(valid.readBigUInt64LE(0));
    const rng = makeRng(2001);
    const counts = { ok: 0, refused: 0 };
    for (let i = 0; i < 1500; i++) {
      // Two thirds of the cases edit only the header (where the structure is); the rest anywhere.
      const headerOnly = i % 3 !== 0;
      const bytes = headerOnly
        ? Buffer.concat([valid.subarray(0, 8), mutateBytes(valid.subarray(8, 8 + headerLen), rng), valid.subarray(8 + headerLen)])
        : Buffer.from(mutateBytes(valid, rng));
      if (headerOnly && rng.next() < 0.5) bytes.writeBigUInt64LE(BigInt(bytes.length - 8 - (valid.length - 8 - headerLen)), 0); // a consistent length
      const file = path.join(dir, `case-${i}.safetensors`);
      writeFileSync(file, bytes);
      const outcome = await expectCleanOutcome(`safetensors case ${i} (seed 2001)`, async () => {
        const st = await openSafetensors(file);
        await readTensors([...st.tensors.values()]);
      }, (e) => e.message.startsWith(file));
      counts[outcome]++;
      rmSync(file);
    }
    expect(counts.refused).to.be.above(500); // the mutations really break files
  });

  it('model configs: 3,000 mutated config.json load or are refused naming the file', async () => {
    const cases = [
      { json: json('configs/llava-1.5-hub-style/config.json'), preprocessor: json('configs/llava-1.5-hub-style/preprocessor_config.json') },
      { json: json('configs/llava-1.6-mistral-hub-style/config.json'), preprocessor: null },
      { json: json('hf/llava-tiny-llama/config.json'), preprocessor: null },
      { json: json('hf/llava-tiny-mistral-gqa/config.json'), preprocessor: null },
    ];
    const rng = makeRng(2002);
    const counts = { ok: 0, refused: 0 };
    for (let i = 0; i < 3000; i++) {
      const c = cases[i % cases.length];
      const source = `/models/case-${i}/config.json`;
      const mutated = mutateJson(c.json, rng);
      const extras = c.preprocessor ? { preprocessor: { json: c.preprocessor, source: '/models/preprocessor_config.json' } } : {};
      counts[await expectCleanOutcome(`model config case ${i} (seed 2002)`, () => parseModelConfig(mutated, source, extras), (e) => e.message.startsWith(source))]++;
    }
    expect(counts.refused).to.be.above(1000);
    expect(counts.ok).to.be.above(100);
  });

  it('tokenizers: 600 mutated tokenizer.json / tokenizer_config.json load and encode, or are refused naming the file', async () => {
    const tok = json('hf/tokenizer-llama-style/tokenizer.json');
    const cfg = json('hf/tokenizer-llama-style/tokenizer_config.json');
    const rng = makeRng(2003);
    const counts = { ok: 0, refused: 0 };
    for (let i = 0; i < 600; i++) {
      const which = i % 2 === 0 ? 'tokenizer' : 'config';
      const t = which === 'tokenizer' ? mutateJson(tok, rng) : tok;
      const c = which === 'config' ? mutateJson(cfg, rng) : cfg;
      const files = { tokenizer: { json: t, source: '/tok/tokenizer.json' }, config: { json: c, source: '/tok/tokenizer_config.json' } };
      counts[await expectCleanOutcome(`tokenizer case ${i} (seed 2003)`, () => {
        const tk = tokenizerFromFiles(files);
        tk.decode(tk.encode('A photo of two red squares, 3 <image> cats.'));
      }, (e) => e.message.includes('/tok/'))]++;
    }
    expect(counts.refused).to.be.above(50);
    expect(counts.ok).to.be.above(50);
  });

  it('a malformed post-processor is named at first use, not a bare TypeError from the library', async () => {
    const tok = json('hf/tokenizer-llama-style/tokenizer.json') as Record<string, unknown>;
    const tk = tokenizerFromFiles({ tokenizer: { json: { ...tok, post_processor: { type: 'TemplateProcessing', single: 5 } }, source: '/tok/tokenizer.json' } });
    expect(() => tk.encode('hello')).to.throw('/tok/tokenizer.json: cannot encode text with this tokenizer (a part of the file is malformed): type is not iterable');
  });
});
