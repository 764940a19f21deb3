// CUDA flash-style attention against the CPU twin (kernels.attention, trainKernels.attentionForwardLse
// and attentionBackward): causal and bidirectional, grouped-query heads, a decode-style query block
// after cached keys (qOffset), odd head dims up to 256, strided views into one fused QKV buffer, a
// variable-length batch against per-sequence CPU calls, and run-to-run determinism.
// Legend: T queries, S keys, Hq/Hkv heads, hd head dim, B sequences.
import { expect } from 'chai';

import { makeRng } from '../helpers/rng.ts';
import { asStored, cudaKernels, describeCuda, DTYPES, expectNear } from './helpers.ts';
import { lab, type CudaDType } from '../helpers/lab.ts';

const rng = makeRng(77);

interface Case { T: number; S: number; Hq: number; Hkv: number; hd: number; causal: boolean; qOffset: number }

const CASES: Case[] = [
  { T: 37, S: 37, Hq: 4, Hkv: 2, hd: 24, causal: true, qOffset: 0 },     // prefill, GQA, several tiles
  { T: 5, S: 70, Hq: 6, Hkv: 3, hd: 64, causal: true, qOffset: 65 },     // decode block after a cache
  { T: 33, S: 50, Hq: 2, Hkv: 1, hd: 40, causal: false, qOffset: 0 },    // bidirectional (CLIP), MQA
  { T: 40, S: 40, Hq: 2, Hkv: 2, hd: 128, causal: true, qOffset: 0 },    // Llama head dim
  { T: 9, S: 12, Hq: 1, Hkv: 1, hd: 256, causal: true, qOffset: 3 },     // the largest head dim
];

function inputs(c: Case, dt: CudaDType) {
  return {
    q: asStored(rng.normalArray(c.T * c.Hq * c.hd), dt),
    k: asStored(rng.normalArray(c.S * c.Hkv * c.hd), dt),
    v: asStored(rng.normalArray(c.S * c.Hkv * c.hd), dt),
  };
}

const label = (c: Case) => `T=${c.T} S=${c.S} Hq=${c.Hq} Hkv=${c.Hkv} hd=${c.hd} ${c.causal ? `causal qOffset=${c.qOffset}` : 'bidirectional'}`;

describeCuda('cuda: attention forward vs the CPU twin', () => {
  for (const dt of DTYPES) {
    for (const c of CASES) {
      it(`${label(c)} (${dt})`, async () => {
        const { q, k, v } = inputs(c, dt);
        const cpu = { out: new Float32Array(c.T * c.Hq * c.hd), lse: new Float32Array(c.Hq * c.T) };
        const gpu = { out: new Float32Array(c.T * c.Hq * c.hd), lse: new Float32Array(c.Hq * c.T) };
        await lab().trainKernels.attentionForwardLse({ ...cpu, q, k, v, ...c });
        await cudaKernels().attentionForwardLse({ ...gpu, q, k, v, ...c, dtype: dt });
        expectNear(gpu.out, cpu.out, dt, 'out');
        expectNear(gpu.lse, cpu.lse, 'F32', 'lse (fp32 from identical inputs)', { rel: 1e-5, abs: 1e-5 });
      });
    }

    it(`strided q/k/v views into one fused QKV buffer, output into a wider buffer (${dt})`, async () => {
      const T = 19, Hq = 4, Hkv = 2, hd = 16, ld = (Hq + 2 * Hkv) * hd;
      const qkv = asStored(rng.normalArray(T * ld), dt);
      const q = qkv, k = qkv.subarray(Hq * hd), v = qkv.subarray((Hq + Hkv) * hd);
      const ldo = Hq * hd + 5;
      const o0 = rng.normalArray((T - 1) * ldo + Hq * hd);
      const cpu = Float32Array.from(o0), gpu = Float32Array.from(o0);
      const shape = { T, S: T, Hq, Hkv, hd, ldq: ld, ldk: ld, ldv: ld, ldo, causal: true };
      await lab().kernels.attention({ out: cpu, q, k, v, ...shape });
      await cudaKernels().attention({ out: gpu, q, k, v, ...shape, dtype: dt });
      expectNear(gpu, cpu, dt, 'strided out');
    });
  }

  it('is deterministic: two runs give the same bits (F32)', async () => {
    const c = CASES[0];
    const { q, k, v } = inputs(c, 'F32');
    const a = new Float32Array(c.T * c.Hq * c.hd), b = new Float32Array(c.T * c.Hq * c.hd);
    await cudaKernels().attention({ out: a, q, k, v, ...c });
    await cudaKernels().attention({ out: b, q, k, v, ...c });
    expect(Array.from(a)).to.deep.equal(Array.from(b));
  });
});

// A packed batch of sequences (T_b queries, S_b keys each; queries are the last T_b positions).
const SEQS = [
  { T: 5, S: 5 },
  { T: 1, S: 9 },
  { T: 17, S: 17 },
  { T: 3, S: 40 },
];

function varlen(Hq: number, Hkv: number, hd: number, dt: CudaDType) {
  const cuQ = new Int32Array(SEQS.length + 1), cuK = new Int32Array(SEQS.length + 1);
  SEQS.forEach((s, b) => {
    cuQ[b + 1] = cuQ[b] + s.T;
    cuK[b + 1] = cuK[b] + s.S;
  });
  const T = cuQ[SEQS.length], S = cuK[SEQS.length];
  return {
    T, S, cuQ, cuK,
    q: asStored(rng.normalArray(T * Hq * hd), dt),
    k: asStored(rng.normalArray(S * Hkv * hd), dt),
    v: asStored(rng.normalArray(S * Hkv * hd), dt),
  };
}

describeCuda('cuda: variable-length attention vs per-sequence CPU calls', () => {
  const Hq = 4, Hkv = 2, hd = 32;
  for (const dt of DTYPES) {
    it(`forward and backward of a packed batch of ${SEQS.length} sequences (${dt})`, async () => {
      const { T, S, cuQ, cuK, q, k, v } = varlen(Hq, Hkv, hd, dt);
      const rowQ = Hq * hd, rowK = Hkv * hd;
      const cpu = { out: new Float32Array(T * rowQ), lse: new Float32Array(Hq * T) };
      const dout = asStored(rng.normalArray(T * rowQ), dt);
      const dk0 = rng.normalArray(S * rowK), dv0 = rng.normalArray(S * rowK);
      const grads = { dq: new Float32Array(T * rowQ), dk: Float32Array.from(dk0), dv: Float32Array.from(dv0) };
      for (let b = 0; b < SEQS.length; b++) {
        const { T: Tb, S: Sb } = SEQS[b];
        const qs = q.subarray(cuQ[b] * rowQ, cuQ[b + 1] * rowQ), ks = k.subarray(cuK[b] * rowK, cuK[b + 1] * rowK);
        const vs = v.subarray(cuK[b] * rowK, cuK[b + 1] * rowK);
        const shape = { T: Tb, S: Sb, Hq, Hkv, hd, causal: true, qOffset: Sb - Tb };
        const out = new Float32Array(Tb * rowQ), lse = new Float32Array(Hq * Tb);
        await lab().trainKernels.attentionForwardLse({ out, lse, q: qs, k: ks, v: vs, ...shape });
        cpu.out.set(out, cuQ[b] * rowQ);
        for (let h = 0; h < Hq; h++) cpu.lse.set(lse.subarray(h * Tb, (h + 1) * Tb), h * T + cuQ[b]);
        const dq = new Float32Array(Tb * rowQ);
        await lab().trainKernels.attentionBackward({
          dq, dk: grads.dk.subarray(cuK[b] * rowK, cuK[b + 1] * rowK), dv: grads.dv.subarray(cuK[b] * rowK, cuK[b + 1] * rowK),
          dout: dout.subarray(cuQ[b] * rowQ, cuQ[b + 1] * rowQ), q: qs, k: ks, v: vs, out: asStored(out, dt), lse, ...shape,
        });
        grads.dq.set(dq, cuQ[b] * rowQ);
      }
      const shape = { T, S, Hq, Hkv, hd, causal: true, B: SEQS.length, cuSeqlensQ: cuQ, cuSeqlensK: cuK };
      const gpu = { out: new Float32Array(T * rowQ), lse: new Float32Array(Hq * T) };
      await cudaKernels().attentionForwardLse({ ...gpu, q, k, v, ...shape, dtype: dt });
      expectNear(gpu.out, cpu.out, dt, 'varlen out');
      expectNear(gpu.lse, cpu.lse, 'F32', 'varlen lse', { rel: 1e-5, abs: 1e-5 });
      // The backward is fed the CPU forward's outputs (as stored in dt), so it is compared alone.
      const g = { dq: new Float32Array(T * rowQ), dk: Float32Array.from(dk0), dv: Float32Array.from(dv0) };
      await cudaKernels().attentionBackward({ ...g, dout, q, k, v, out: asStored(cpu.out, dt), lse: cpu.lse, ...shape, dtype: dt });
      expectNear(g.dq, grads.dq, dt, 'varlen dq');
      expectNear(g.dk, grads.dk, dt, 'varlen dk (accumulated)');
      expectNear(g.dv, grads.dv, dt, 'varlen dv (accumulated)');
    });
  }
});

describeCuda('cuda: attention backward vs the CPU twin', () => {
  for (const dt of DTYPES) {
    for (const c of CASES) {
      it(`${label(c)} (${dt})`, async () => {
        const { q, k, v } = inputs(c, dt);
        const out = new Float32Array(c.T * c.Hq * c.hd), lse = new Float32Array(c.Hq * c.T);
        await lab().trainKernels.attentionForwardLse({ out, lse, q, k, v, ...c });
        const outStored = asStored(out, dt), dout = asStored(rng.normalArray(out.length), dt);
        const dk0 = rng.normalArray(k.length), dv0 = rng.normalArray(v.length);
        const cpu = { dq: new Float32Array(q.length), dk: Float32Array.from(dk0), dv: Float32Array.from(dv0) };
        const gpu = { dq: new Float32Array(q.length), dk: Float32Array.from(dk0), dv: Float32Array.from(dv0) };
        await lab().trainKernels.attentionBackward({ ...cpu, dout, q, k, v, out: outStored, lse, ...c });
        await cudaKernels().attentionBackward({ ...gpu, dout, q, k, v, out: outStored, lse, ...c, dtype: dt });
        expectNear(gpu.dq, cpu.dq, dt, 'dq');
        expectNear(gpu.dk, cpu.dk, dt, 'dk (accumulated onto a random start)');
        expectNear(gpu.dv, cpu.dv, dt, 'dv (accumulated onto a random start)');
      });
    }
  }
});
