// Attention against a float64 softmax reference: causal and bidirectional, grouped-query heads,
// a KV-cache offset (decode), key lengths longer than one key block, strided q/k/v (fused QKV rows)
// and large scores (stability). Legend: T queries, S keys, Hq/Hkv heads, hd head dim.
import { expect } from 'chai';

import { makeRng } from '../helpers/rng.ts';
import { expectClose, gather, refAttention } from './reference.ts';
import { lab } from '../helpers/lab.ts';

const rng = makeRng(7);

interface Case { T: number; S: number; Hq: number; Hkv: number; hd: number; causal: boolean; qOffset?: number; fused?: boolean; scale?: number; tol?: number; spread?: number }

async function checkAttention(c: Case): Promise<void> {
  const { T, S, Hq, Hkv, hd, causal } = c;
  const qOffset = c.qOffset ?? 0;
  const scale = c.scale ?? 1 / Math.sqrt(hd);
  const spread = c.spread ?? 1;
  // fused: q, k and v are views into one [tokens, (Hq + 2 Hkv) hd] QKV projection, as the model lays them out.
  const row = (Hq + 2 * Hkv) * hd;
  let q: Float32Array, k: Float32Array, v: Float32Array, ldq: number, ldk: number, ldv: number;
  if (c.fused) {
    const qkvQ = rng.normalArray(T * row, spread), qkvK = rng.normalArray(S * row, spread), qkvV = rng.normalArray(S * row);
    q = qkvQ; k = qkvK.subarray(Hq * hd); v = qkvV.subarray((Hq + Hkv) * hd);
    ldq = ldk = ldv = row;
  } else {
    q = rng.normalArray(T * Hq * hd, spread); k = rng.normalArray(S * Hkv * hd, spread); v = rng.normalArray(S * Hkv * hd);
    ldq = Hq * hd; ldk = ldv = Hkv * hd;
  }
  const ldo = c.fused ? Hq * hd + 3 : Hq * hd;
  const out = rng.normalArray(T * ldo);
  const ref = refAttention({ q, k, v, ldq, ldk, ldv, T, S, Hq, Hkv, hd, causal, qOffset, scale });
  await lab().kernels.attention({ out, ldo, q, ldq, k, ldk, v, ldv, T, S, Hq, Hkv, hd, causal, qOffset, scale });
  const idx: number[] = [];
  for (let t = 0; t < T; t++) for (let j = 0; j < Hq * hd; j++) idx.push(t * ldo + j);
  const label = `attention T=${T} S=${S} Hq=${Hq} Hkv=${Hkv} hd=${hd} causal=${causal} qOffset=${qOffset}`;
  expectClose(gather(out, idx), ref, c.tol ?? 1e-5, label, (i) => `out[t=${Math.floor(i / (Hq * hd))}, h=${Math.floor(i / hd) % Hq}, ${i % hd}]`);
}

// The AVX-512 block products run when the SGEMM tiles in force are 'avx512'; other tiles take AVX2.
for (const tiles of lab().kernels.gemmKernelsSupported()) {
  describe(`kernels.attention (cpu, ${tiles} tiles)`, () => {
    before(() => lab().kernels.gemmKernels(tiles));
    after(() => lab().kernels.gemmKernels(''));

    it('causal prefill with grouped-query heads (T=S=13, Hq=4, Hkv=2, hd=16)', async () => {
      await checkAttention({ T: 13, S: 13, Hq: 4, Hkv: 2, hd: 16, causal: true });
    });
    it('bidirectional vision attention (T=S=29, Hq=Hkv=3, hd=24)', async () => {
      await checkAttention({ T: 29, S: 29, Hq: 3, Hkv: 3, hd: 24, causal: false });
    });
    it('decode with a KV cache: one query at qOffset = S - 1, and a 3-token chunk', async () => {
      await checkAttention({ T: 1, S: 40, Hq: 4, Hkv: 1, hd: 16, causal: true, qOffset: 39 });
      await checkAttention({ T: 3, S: 100, Hq: 6, Hkv: 2, hd: 8, causal: true, qOffset: 97 });
      await checkAttention({ T: 5, S: 77, Hq: 4, Hkv: 2, hd: 16, causal: true, qOffset: 30 }); // keys past the last query are ignored
    });
    it('long key lengths span several key blocks, causal and not', async () => {
      await checkAttention({ T: 70, S: 300, Hq: 2, Hkv: 1, hd: 32, causal: true, qOffset: 230 });
      await checkAttention({ T: 37, S: 301, Hq: 2, Hkv: 2, hd: 64, causal: false });
    });
    it('head dims off the 8-wide fast path, and key counts at a key-block edge (64, 65)', async () => {
      await checkAttention({ T: 9, S: 9, Hq: 2, Hkv: 1, hd: 12, causal: true });
      await checkAttention({ T: 64, S: 64, Hq: 1, Hkv: 1, hd: 8, causal: true });
      await checkAttention({ T: 7, S: 65, Hq: 2, Hkv: 2, hd: 40, causal: false });
    });
    it('eight query heads per key/value head, tokens split across work items', async () => {
      await checkAttention({ T: 9, S: 20, Hq: 8, Hkv: 1, hd: 16, causal: true, qOffset: 11 });
    });
    it('strided q/k/v views into a fused QKV projection and a padded output', async () => {
      await checkAttention({ T: 19, S: 19, Hq: 4, Hkv: 2, hd: 16, causal: true, fused: true });
    });
    it('stays finite and accurate with large scores (stable softmax)', async () => {
      await checkAttention({ T: 17, S: 150, Hq: 2, Hkv: 1, hd: 16, causal: false, spread: 6, scale: 2, tol: 1e-4 });
    });
  });
}

describe('kernels.attention arguments', () => {
  it('rejects Hq that is not a multiple of Hkv and a causal window longer than S', async () => {
    const a = new Float32Array(1000);
    expect(() => lab().kernels.attention({ out: a, q: a, k: a, v: a, T: 2, S: 2, Hq: 3, Hkv: 2, hd: 4 })).to.throw(
      RangeError, 'kernels.attention.Hq is 3 but grouped-query attention needs a multiple of Hkv=2');
    expect(() => lab().kernels.attention({ out: a, q: a, k: a, v: a, T: 2, S: 5, Hq: 2, Hkv: 2, hd: 4, causal: true, qOffset: 4 })).to.throw(
      RangeError, 'kernels.attention: causal queries at positions 4..5 need S >= 6 keys but S=5');
  });
});
