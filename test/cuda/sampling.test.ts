// CUDA token sampling against the CPU sampler (lab().kernels.sampleToken): greedy with ties, temperature,
// top-k, top-p and their combination, one Philox stream per (seed, step) so each row's token depends
// only on its own parameters. The GPU sums probabilities in a fixed tree where the CPU sums them in
// sorted order, so a draw landing within a few ulps of a boundary could differ; with these random
// logits and seeds the chance is ~1e-13 per draw, and every token must match.
// Legend: B rows (items), V vocab.
import { expect } from 'chai';

import { lab } from '../helpers/lab.ts';
import { makeRng } from '../helpers/rng.ts';
import { asStored, cudaKernels, describeCuda, DTYPES } from './helpers.ts';

const rng = makeRng(4242);

interface Item { temperature: number; topK: number; topP: number; seed: number; step: number }

const SETTINGS: Omit<Item, 'seed' | 'step'>[] = [
  { temperature: 0, topK: 0, topP: 1 },       // greedy
  { temperature: 1, topK: 1, topP: 1 },       // top-1 is greedy too
  { temperature: 0.7, topK: 0, topP: 1 },     // plain temperature
  { temperature: 1.3, topK: 5, topP: 1 },     // top-k
  { temperature: 0.9, topK: 0, topP: 0.8 },   // nucleus
  { temperature: 0.6, topK: 40, topP: 0.95 }, // both, the Hugging Face order
  { temperature: 2, topK: 1031, topP: 0.5 },  // top-k >= V is off
];

describeCuda('cuda: sampling vs the CPU sampler', () => {
  for (const dt of DTYPES) {
    it(`every setting, many seeds and steps, one launch for all rows (${dt})`, async () => {
      const V = 1031, per = 24;
      const items: Item[] = [];
      for (const s of SETTINGS) for (let i = 0; i < per; i++) items.push({ ...s, seed: rng.int(0, 2 ** 31) * 4096 + i, step: rng.int(0, 300) });
      const B = items.length;
      const logits = asStored(Float32Array.from(rng.normalArray(B * V), (x) => 3 * x), dt);
      const tokens = new Int32Array(B);
      await cudaKernels().sampleTokens({ logits, B, V, items, tokens, dtype: dt });
      for (let b = 0; b < B; b++) {
        const { step, ...params } = items[b];
        const want = lab().kernels.sampleToken(logits.subarray(b * V, (b + 1) * V), params, step);
        expect(tokens[b], `row ${b} ${JSON.stringify(items[b])}`).to.equal(want);
      }
    });
  }

  it('greedy ties go to the lowest id, and -0 equals +0', async () => {
    const V = 300;
    const logits = Float32Array.from(rng.normalArray(2 * V), (x) => x - 10);
    logits[17] = 5, logits[200] = 5;  // row 0: tie at the max
    logits[V + 3] = -0, logits[V + 4] = 0;  // row 1: the max is zero, first as -0
    const tokens = new Int32Array(2);
    const items = [0, 1].map(() => ({ temperature: 0, topK: 0, topP: 1, seed: 1, step: 0 }));
    await cudaKernels().sampleTokens({ logits, B: 2, V, items, tokens });
    expect(Array.from(tokens)).to.deep.equal([17, 3]);
  });
});
