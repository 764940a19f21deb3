// Attention: the forward with log-sum-exp against a float64 reference, and the flash-style backward
// (softmax recomputed from lse) against central finite differences of sum(G * out) in float64 —
// causal and bidirectional, grouped-query heads (dK/dV summed over the heads sharing a KV head), a
// KV offset with keys beyond every query's reach, strided views into a fused QKV buffer, the
// accumulation of dK/dV (two query sets over shared keys) and determinism across thread counts.
// Legend: T queries, S keys, Hq/Hkv heads, hd head dim, G upstream gradient [T,Hq,hd].
import { expect } from 'chai';

import { native } from '../../lib/native/index.ts';
import { makeRng } from '../helpers/rng.ts';
import { type AttnShape, attentionBackwardF, attentionF, dot, expectGrad, expectThrowExact, f64, finiteDiff } from './grad_reference.ts';
import { lab } from '../helpers/lab.ts';

const rng = makeRng(2024);
const tk = () => lab().trainKernels;

interface Case { T: number; S: number; Hq: number; Hkv: number; hd: number; causal: boolean; qOffset?: number; fused?: boolean }

/** q, k, v as separate packed arrays or as views into one fused [tokens, (Hq + 2 Hkv) hd] QKV buffer. */
function makeInputs(c: Case) {
  const { T, S, Hq, Hkv, hd } = c;
  const scale = 1 / Math.sqrt(hd);
  if (!c.fused) {
    const shape: AttnShape = { ...c, qOffset: c.qOffset ?? 0, scale, ldq: Hq * hd, ldk: Hkv * hd, ldv: Hkv * hd };
    return { shape, q: rng.normalArray(T * Hq * hd), k: rng.normalArray(S * Hkv * hd), v: rng.normalArray(S * Hkv * hd), qo: 0, ko: 0, vo: 0 };
  }
  const row = (Hq + 2 * Hkv) * hd; // fused: T == S, q, k and v share rows
  const qkv = rng.normalArray(T * row);
  const shape: AttnShape = { ...c, qOffset: c.qOffset ?? 0, scale, ldq: row, ldk: row, ldv: row };
  return { shape, q: qkv, k: qkv, v: qkv, qo: 0, ko: Hq * hd, vo: (Hq + Hkv) * hd };
}

async function checkBackward(c: Case): Promise<void> {
  const { T, S, Hq, Hkv, hd, causal } = c;
  const { shape, q, k, v, qo, ko, vo } = makeInputs(c);
  const { ldq, ldk, ldv, qOffset, scale } = shape;
  const label = `attention T=${T} S=${S} Hq=${Hq} Hkv=${Hkv} causal=${causal} qOffset=${qOffset}${c.fused ? ' fused' : ''}`;
  const ldo = Hq * hd;
  const out = new Float32Array(T * ldo), lse = new Float32Array(Hq * T);
  const args = { T, S, Hq, Hkv, hd, causal, qOffset, scale, ldq, ldk, ldv, ldo };
  await tk().attentionForwardLse({ ...args, out, lse, q: q.subarray(qo), k: k.subarray(ko), v: v.subarray(vo) });
  const ref = attentionF(q.subarray(qo), k.subarray(ko), v.subarray(vo), shape);
  expectGrad(out, ref.out, `${label} forward out`, 1e-5, 1e-6);
  expectGrad(lse, ref.lse, `${label} forward lse`, 1e-6, 1e-7);

  const G = rng.normalArray(T * ldo);
  // The fused case computes the three gradients into one dQKV buffer laid out like the QKV rows.
  const dq = new Float32Array(q.length), dk = c.fused ? dq : new Float32Array(k.length), dv = c.fused ? dq : new Float32Array(v.length);
  await tk().attentionBackward({ ...args, dq: dq.subarray(qo), dk: dk.subarray(ko), dv: dv.subarray(vo), dout: G, q: q.subarray(qo), k: k.subarray(ko), v: v.subarray(vo), out, lse });
  // Finite differences over each input array (the fused buffer is perturbed through its q, k, v views).
  const all = f64(q);
  const kk = c.fused ? all : f64(k), vv = c.fused ? all : f64(v);
  const loss = () => dot(G, attentionF(all.subarray(qo), kk.subarray(ko), vv.subarray(vo), shape).out);
  const pick = (x: Float32Array, off: number, ld: number, H: number, rows: number) => {
    const r: number[] = [];
    for (let t = 0; t < rows; t++) for (let j = 0; j < H * hd; j++) r.push(x[off + t * ld + j]);
    return r;
  };
  const gq = finiteDiff(all, loss);
  expectGrad(pick(dq, qo, ldq, Hq, T), pick(gq as unknown as Float32Array, qo, ldq, Hq, T), `${label} dq`);
  const gk = c.fused ? gq : finiteDiff(kk, loss), gv = c.fused ? gq : finiteDiff(vv, loss);
  expectGrad(pick(dk, ko, ldk, Hkv, S), pick(gk as unknown as Float32Array, ko, ldk, Hkv, S), `${label} dk`);
  expectGrad(pick(dv, vo, ldv, Hkv, S), pick(gv as unknown as Float32Array, vo, ldv, Hkv, S), `${label} dv`);
}

describe('trainKernels: attention backward (cpu)', () => {
  it('causal self-attention with grouped-query heads (T=S=11, Hq=4, Hkv=2, hd=8)', async () => {
    await checkBackward({ T: 11, S: 11, Hq: 4, Hkv: 2, hd: 8, causal: true });
  });
  it('bidirectional (vision tower) attention (T=S=9, Hq=Hkv=3, hd=8)', async () => {
    await checkBackward({ T: 9, S: 9, Hq: 3, Hkv: 3, hd: 8, causal: false });
  });
  it('queries after a KV prefix (qOffset): a branch over shared keys, Hkv=1 multi-query', async () => {
    await checkBackward({ T: 7, S: 20, Hq: 4, Hkv: 1, hd: 8, causal: true, qOffset: 13 });
  });
  it('keys past the last query\'s reach get exactly zero gradient', async () => {
    // causal, qOffset 3, T 4: queries see keys [0, 7); keys 7..18 are beyond reach.
    await checkBackward({ T: 4, S: 19, Hq: 2, Hkv: 2, hd: 8, causal: true, qOffset: 3 });
  });
  it('strided q/k/v/dq/dk/dv views into one fused QKV row layout', async () => {
    await checkBackward({ T: 13, S: 13, Hq: 4, Hkv: 2, hd: 8, causal: true, fused: true });
  });

  it('across query and key block edges (64): long causal, qOffset, bidirectional, against the float64 analytic backward', async () => {
    for (const c of [
      { T: 150, S: 150, Hq: 2, Hkv: 1, hd: 16, causal: true, qOffset: 0 },
      { T: 130, S: 190, Hq: 4, Hkv: 2, hd: 8, causal: true, qOffset: 37 }, // keys 167..189 beyond reach
      { T: 70, S: 133, Hq: 2, Hkv: 2, hd: 12, causal: false, qOffset: 0 },
    ]) {
      const { T, S, Hq, Hkv, hd } = c;
      const shape: AttnShape = { ...c, scale: 1 / Math.sqrt(hd), ldq: Hq * hd, ldk: Hkv * hd, ldv: Hkv * hd };
      const q = rng.normalArray(T * Hq * hd), k = rng.normalArray(S * Hkv * hd), v = rng.normalArray(S * Hkv * hd), G = rng.normalArray(T * Hq * hd);
      const out = new Float32Array(T * Hq * hd), lse = new Float32Array(Hq * T);
      const dq = new Float32Array(q.length), dk = new Float32Array(k.length), dv = new Float32Array(v.length);
      await tk().attentionForwardLse({ ...c, out, lse, q, k, v });
      await tk().attentionBackward({ ...c, dq, dk, dv, dout: G, q, k, v, out, lse });
      const ref = attentionBackwardF(q, k, v, G, shape), label = `attention T=${T} S=${S} causal=${c.causal} qOffset=${c.qOffset}`;
      expectGrad(out, attentionF(q, k, v, shape).out, `${label} out`, 1e-5, 1e-6);
      expectGrad(dq, ref.dq, `${label} dq`, 1e-4, 1e-6);
      expectGrad(dk, ref.dk, `${label} dk`, 1e-4, 1e-6);
      expectGrad(dv, ref.dv, `${label} dv`, 1e-4, 1e-6);
    }
  });

  it('dk/dv accumulate: two branches over a shared prefix sum into the prefix keys, bit-identical on 1 and 2 threads', async () => {
    const S = 40, Hq = 4, Hkv = 2, hd = 8, T = 6, scale = 1 / Math.sqrt(hd);
    const k = rng.normalArray(S * Hkv * hd), v = rng.normalArray(S * Hkv * hd);
    const run = async () => {
      const dk = new Float32Array(S * Hkv * hd), dv = new Float32Array(S * Hkv * hd);
      const dqs: Float32Array[] = [];
      for (const qOffset of [20, 34]) {
        const q = makeRng(qOffset).normalArray(T * Hq * hd), G = makeRng(qOffset + 1).normalArray(T * Hq * hd);
        const out = new Float32Array(T * Hq * hd), lse = new Float32Array(Hq * T), dq = new Float32Array(T * Hq * hd);
        const args = { T, S, Hq, Hkv, hd, causal: true, qOffset, scale };
        await tk().attentionForwardLse({ ...args, out, lse, q, k, v });
        await tk().attentionBackward({ ...args, dq, dk, dv, dout: G, q, k, v, out, lse });
        dqs.push(dq);
      }
      return { dk, dv, dqs };
    };
    const defaultThreads = native().setThreads(0); // 0 selects the default and returns it
    let one, two;
    try {
      native().setThreads(1);
      one = await run();
      native().setThreads(2);
      two = await run();
    } finally {
      native().setThreads(defaultThreads);
    }
    expect(Buffer.from(one.dk.buffer).equals(Buffer.from(two.dk.buffer))).to.equal(true);
    expect(Buffer.from(one.dv.buffer).equals(Buffer.from(two.dv.buffer))).to.equal(true);
    // The sum over both branches equals the two separate gradients added: check against float64 FD.
    const kk = f64(k), vv = f64(v);
    const loss = () => {
      let s = 0;
      for (const qOffset of [20, 34]) {
        const q = makeRng(qOffset).normalArray(T * Hq * hd), G = makeRng(qOffset + 1).normalArray(T * Hq * hd);
        s += dot(G, attentionF(q, kk, vv, { T, S, Hq, Hkv, hd, causal: true, qOffset, scale, ldq: Hq * hd, ldk: Hkv * hd, ldv: Hkv * hd }).out);
      }
      return s;
    };
    expectGrad(one.dk, finiteDiff(kk, loss), 'shared-prefix dk');
    expectGrad(one.dv, finiteDiff(vv, loss), 'shared-prefix dv');
  });

  it('rejects a bad head grouping and a short lse with exact messages', () => {
    const a = new Float32Array(512);
    expectThrowExact(() => tk().attentionBackward({ dq: a, dk: a, dv: a, dout: a, q: a, k: a, v: a, out: a, lse: a, T: 2, S: 2, Hq: 3, Hkv: 2, hd: 4 }),
      RangeError, 'trainKernels.attentionBackward: Hq is 3 but grouped-query attention needs a multiple of Hkv=2');
    expectThrowExact(() => tk().attentionForwardLse({ out: a, lse: new Float32Array(5), q: a, k: a, v: a, T: 3, S: 3, Hq: 2, Hkv: 1, hd: 4 }),
      RangeError, 'trainKernels.attentionForwardLse.lse holds 5 elements but Hq=2, T=3 need 6');
  });
});
