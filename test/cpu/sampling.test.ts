// The native sampler against the plain reference (sampler_ref.ts) and against its distribution.
import { expect } from 'chai';

import { lab } from '../helpers/lab.ts';
import { makeRng } from '../helpers/rng.ts';
import { philox4x32Ref, sampleRef } from './sampler_ref.ts';

const sample = (logits: Float32Array, p: { temperature: number; topK: number; topP: number; seed: number }, step: number) =>
  lab().kernels.sampleToken(logits, p, step);

function softmax(logits: Float32Array, temperature: number): number[] {
  const mx = Math.max(...logits);
  const e = Array.from(logits, (x) => Math.exp((x - mx) / temperature));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}

describe('sampler', () => {
  const rng = makeRng(77);

  it('reference Philox4x32-10 reproduces the Random123 known-answer vectors', () => {
    expect(philox4x32Ref([0, 0, 0, 0], [0, 0])).to.deep.equal([0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]);
    expect(philox4x32Ref([0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff])).to.deep.equal([
      0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd,
    ]);
    expect(philox4x32Ref([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0])).to.deep.equal([
      0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1,
    ]);
  });

  it('picks exactly the reference token for every option combination, seed and step', () => {
    const combos = [
      { temperature: 1, topK: 0, topP: 1 },
      { temperature: 0.7, topK: 0, topP: 1 },
      { temperature: 1.3, topK: 20, topP: 1 },
      { temperature: 0.9, topK: 0, topP: 0.8 },
      { temperature: 0.5, topK: 40, topP: 0.95 },
      { temperature: 2, topK: 5, topP: 0.3 },
    ];
    let checked = 0;
    for (let trial = 0; trial < 12; trial++) {
      const logits = rng.normalArray(257, 3);
      const seed = rng.int(0, 2 ** 31) * 4096 + rng.int(0, 4096); // past 32 bits: both key words matter
      for (const c of combos) {
        for (let step = 0; step < 25; step++) {
          const p = { ...c, seed };
          expect(sample(logits, p, step), `trial ${trial} ${JSON.stringify(p)} step ${step}`).to.equal(sampleRef(logits, p, step));
          checked++;
        }
      }
    }
    expect(checked).to.equal(12 * 6 * 25);
  });

  it('is greedy at temperature 0 or topK 1, taking the lowest id on ties', () => {
    const logits = rng.normalArray(100, 2);
    const best = logits.reduce((b, x, i) => (x > logits[b] ? i : b), 0);
    expect(sample(logits, { temperature: 0, topK: 0, topP: 1, seed: 3 }, 0)).to.equal(best);
    expect(sample(logits, { temperature: 1.5, topK: 1, topP: 1, seed: 3 }, 9)).to.equal(best);
    logits[best + 1] = logits[best];
    logits[best > 0 ? best - 1 : best + 2] = logits[best];
    const tie = best > 0 ? best - 1 : best;
    expect(sample(logits, { temperature: 0, topK: 0, topP: 1, seed: 0 }, 0)).to.equal(tie);
  });

  it('draws from softmax(logits / T): frequencies over 20000 steps match the probabilities', () => {
    const logits = rng.normalArray(8, 1.5);
    const probs = softmax(logits, 0.7);
    const counts = new Array(8).fill(0);
    const n = 20000;
    for (let step = 0; step < n; step++) counts[sample(logits, { temperature: 0.7, topK: 0, topP: 1, seed: 12345 }, step)]++;
    // 5 standard deviations of a binomial frequency: a wrong distribution fails, chance does not.
    probs.forEach((p, i) => expect(Math.abs(counts[i] / n - p), `token ${i}`).to.be.below(5 * Math.sqrt((p * (1 - p)) / n) + 1e-3));
  });

  it('restricts draws to the top-k set and to the nucleus', () => {
    const logits = rng.normalArray(50, 2);
    const order = Array.from({ length: 50 }, (_, i) => i).sort((a, b) => logits[b] - logits[a]);
    const top3 = new Set(order.slice(0, 3));
    const probs = softmax(logits, 1);
    let mass = 0;
    const nucleus = new Set<number>();
    for (const i of order) {
      if (mass >= 0.6) break;
      nucleus.add(i);
      mass += probs[i];
    }
    const seenK = new Set<number>();
    const seenP = new Set<number>();
    for (let step = 0; step < 3000; step++) {
      seenK.add(sample(logits, { temperature: 1, topK: 3, topP: 1, seed: 5 }, step));
      seenP.add(sample(logits, { temperature: 1, topK: 0, topP: 0.6, seed: 5 }, step));
    }
    expect([...seenK].sort()).to.deep.equal([...top3].sort());
    expect([...seenP].sort()).to.deep.equal([...nucleus].sort());
  });

  it('depends only on (seed, step)', () => {
    const logits = rng.normalArray(300, 2);
    const p = { temperature: 1, topK: 0, topP: 1, seed: 99 };
    const a = Array.from({ length: 30 }, (_, s) => sample(logits, p, s));
    const b = Array.from({ length: 30 }, (_, s) => sample(logits, p, s));
    const c = Array.from({ length: 30 }, (_, s) => sample(logits, { ...p, seed: 100 }, s));
    expect(a).to.deep.equal(b);
    expect(a).to.not.deep.equal(c);
  });
});
