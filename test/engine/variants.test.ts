// Config variants the fixtures do not cover: tied word embeddings (lm_head is the embedding table)
// and Mistral's sliding window (refused past the window, since attention is full).
import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { loadModel } from '../../lib/engine/index.ts';
import { type RandomLlavaSpec, writeRandomLlava } from '../../lib/engine/random_model.ts';
import { openCheckpoint, readTensors, writeSafetensors } from '../../lib/model/safetensors.ts';
import { makeRng } from '../helpers/rng.ts';

const SPEC: RandomLlavaSpec = {
  vision: { imageSize: 28, patchSize: 14, hiddenSize: 16, intermediateSize: 24, numLayers: 2, numHeads: 2 },
  decoder: { family: 'mistral', hiddenSize: 32, intermediateSize: 40, numLayers: 2, numHeads: 4, numKvHeads: 2, vocabSize: 90 },
  std: 0.2,
};

/** Rewrites dir's checkpoint through `edit` (name -> data or null to drop) and its config.json through `config`. */
async function rewrite(dir: string, edit: (name: string, data: Float32Array, all: Map<string, Float32Array>) => Float32Array | null, config: (c: Record<string, any>) => void) {
  const ck = await openCheckpoint(dir);
  const names = [...ck.tensors.keys()];
  const data = (await readTensors(names.map((n) => ck.tensors.get(n)!), { as: 'F32' })) as Float32Array[];
  const all = new Map(names.map((n, i) => [n, data[i]]));
  const out = names.flatMap((n, i) => {
    const d = edit(n, data[i], all);
    return d === null ? [] : [{ name: n, dtype: 'F32' as const, shape: ck.tensors.get(n)!.shape, data: d }];
  });
  await writeSafetensors(path.join(dir, 'model.safetensors'), out);
  const file = path.join(dir, 'config.json');
  const json = JSON.parse(readFileSync(file, 'utf8'));
  config(json);
  writeFileSync(file, JSON.stringify(json));
}

describe('engine: config variants', () => {
  let root: string;
  before(() => {
    root = mkdtempSync(path.join(tmpdir(), 'stic-variants-'));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('tied word embeddings: logits equal an untied model whose lm_head is the embedding table', async () => {
    const untied = path.join(root, 'untied');
    const tied = path.join(root, 'tied');
    await writeRandomLlava(untied, SPEC, 3);
    await writeRandomLlava(tied, SPEC, 3);
    const embed = 'language_model.model.embed_tokens.weight';
    await rewrite(untied, (n, d, all) => (n === 'language_model.lm_head.weight' ? all.get(embed)! : d), () => {});
    await rewrite(tied, (n, d) => (n === 'language_model.lm_head.weight' ? null : d), (c) => {
      c.tie_word_embeddings = true;
      c.text_config.tie_word_embeddings = true;
    });
    const [a, b] = [await loadModel(untied), await loadModel(tied)];
    expect(b.config.decoder.tieWordEmbeddings).to.equal(true);
    const rng = makeRng(8);
    const image = rng.normalArray(3 * 28 * 28);
    const ids = [1, 7, ...new Array(4).fill(89), 12, 13, 14];
    const [la] = await a.fullLogits([{ ids, image }]);
    const [lb] = await b.fullLogits([{ ids, image }]);
    expect(Array.from(lb)).to.deep.equal(Array.from(la));
    expect(b.memory().weightBytes).to.be.below(a.memory().weightBytes);
  });

  it('refuses a sequence longer than a Mistral sliding window', async () => {
    const dir = path.join(root, 'window');
    await writeRandomLlava(dir, SPEC, 4);
    await rewrite(dir, (_, d) => d, (c) => {
      c.text_config.sliding_window = 16;
    });
    const model = await loadModel(dir);
    const ids = [1, 7, ...new Array(4).fill(89), 12, 13, 14];
    const image = makeRng(2).normalArray(3 * 28 * 28);
    const [ok] = await model.generate([{ ids, image, maxNewTokens: 7 }]); // 9 + 7 = 16 fits
    expect(ok.ids.length + (ok.finishReason === 'eos' ? 1 : 0)).to.be.at.most(7);
    let err: Error | undefined;
    await model.generate([{ ids, image, maxNewTokens: 8 }]).catch((e) => (err = e));
    expect(err?.message).to.equal(
      "requests[0]: a sequence of 17 tokens is longer than the model's sliding attention window (16), which the engine does not implement",
    );
  });
});
