// CUDA row-wise and elementwise kernels against their CPU twins on odd shapes, in F32 and BF16:
// LayerNorm / RMSNorm (plain, fused residual add, backward with accumulated weight gradients),
// the activations and their backward, SwiGLU, residual add, RoPE (strided, large positions),
// token embeddings (repeated ids) and the log-softmax gather (large logits).
// Legend: T tokens, C channels, H heads, hd head dim, V vocab, n elements.
import { expect } from 'chai';

import { makeRng } from '../helpers/rng.ts';
import { asStored, cudaKernels, describeCuda, DTYPES, expectNear } from './helpers.ts';
import { lab } from '../helpers/lab.ts';

const rng = makeRng(2024);

describeCuda('cuda: norms vs the CPU twins', () => {
  for (const dt of DTYPES) {
    it(`layernorm and rmsnorm over odd rows, offset mean (${dt})`, async () => {
      const T = 13, C = 771, eps = 1e-5;
      const inp = asStored(Float32Array.from(rng.normalArray(T * C), (x) => 3 * x + 4), dt);
      const weight = asStored(rng.normalArray(C), dt), bias = asStored(rng.normalArray(C), dt);
      const cpu = new Float32Array(T * C), gpu = new Float32Array(T * C);
      await lab().kernels.layernorm({ out: cpu, inp, weight, bias, T, C, eps });
      await cudaKernels().layernorm({ out: gpu, inp, weight, bias, T, C, eps, dtype: dt });
      expectNear(gpu, cpu, dt, 'layernorm');
      await lab().kernels.rmsnorm({ out: cpu, inp, weight, T, C, eps });
      await cudaKernels().rmsnorm({ out: gpu, inp, weight, T, C, eps, dtype: dt });
      expectNear(gpu, cpu, dt, 'rmsnorm');
    });

    it(`fused residual add + norm stores the rounded sum and normalises it (${dt})`, async () => {
      const T = 9, C = 515, eps = 1e-6;
      const res0 = asStored(rng.normalArray(T * C, 2), dt), inp = asStored(rng.normalArray(T * C), dt);
      const weight = asStored(rng.normalArray(C), dt), bias = asStored(rng.normalArray(C), dt);
      const sum = asStored(Float32Array.from(res0, (r, i) => r + inp[i]), dt);  // fp32 add, one rounding
      for (const kind of ['rms', 'layer'] as const) {
        const res = Float32Array.from(res0), cpu = new Float32Array(T * C), gpu = new Float32Array(T * C);
        if (kind === 'rms') {
          await lab().kernels.rmsnorm({ out: cpu, inp: sum, weight, T, C, eps });
          await cudaKernels().addRmsnorm({ out: gpu, res, inp, weight, T, C, eps, dtype: dt });
        } else {
          await lab().kernels.layernorm({ out: cpu, inp: sum, weight, bias, T, C, eps });
          await cudaKernels().addLayernorm({ out: gpu, res, inp, weight, bias, T, C, eps, dtype: dt });
        }
        expect(Array.from(res), `${kind}: the stored residual`).to.deep.equal(Array.from(sum));
        expectNear(gpu, cpu, dt, `add + ${kind}norm`);
      }
    });

    it(`rmsnorm and layernorm backward, weight gradients accumulated (${dt})`, async () => {
      const T = 21, C = 389, eps = 1e-5;
      const inp = asStored(rng.normalArray(T * C, 1.5), dt), dout = asStored(rng.normalArray(T * C), dt);
      const weight = asStored(rng.normalArray(C), dt);
      const dw0 = rng.normalArray(C), db0 = rng.normalArray(C);
      const cpu = { dinp: new Float32Array(T * C), dweight: Float32Array.from(dw0), dbias: Float32Array.from(db0) };
      const gpu = { dinp: new Float32Array(T * C), dweight: Float32Array.from(dw0), dbias: Float32Array.from(db0) };
      await lab().trainKernels.rmsnormBackward({ ...cpu, dout, inp, weight, T, C, eps });
      await cudaKernels().rmsnormBackward({ ...gpu, dout, inp, weight, T, C, eps, dtype: dt });
      expectNear(gpu.dinp, cpu.dinp, dt, 'rmsnorm dinp');
      expectNear(gpu.dweight, cpu.dweight, 'F32', 'rmsnorm dweight (fp32 accumulation)', { rel: 1e-4, abs: 1e-5 });
      cpu.dweight.set(dw0), gpu.dweight.set(dw0);
      await lab().trainKernels.layernormBackward({ ...cpu, dout, inp, weight, T, C, eps });
      await cudaKernels().layernormBackward({ ...gpu, dout, inp, weight, T, C, eps, dtype: dt });
      expectNear(gpu.dinp, cpu.dinp, dt, 'layernorm dinp');
      expectNear(gpu.dweight, cpu.dweight, 'F32', 'layernorm dweight', { rel: 1e-4, abs: 1e-5 });
      expectNear(gpu.dbias, cpu.dbias, 'F32', 'layernorm dbias', { rel: 1e-4, abs: 1e-5 });
    });
  }
});

describeCuda('cuda: activations vs the CPU twins', () => {
  const n = 10007;
  const forward = ['quickGelu', 'gelu', 'geluTanh', 'silu', 'relu'] as const;
  const backward = ['quickGeluBackward', 'geluBackward', 'geluTanhBackward', 'siluBackward', 'reluBackward'] as const;
  for (const dt of DTYPES) {
    it(`forward and backward over wide inputs (${dt})`, async () => {
      const inp = asStored(Float32Array.from(rng.normalArray(n), (x) => 5 * x), dt);
      const dout = asStored(rng.normalArray(n), dt);
      for (const op of forward) {
        const cpu = new Float32Array(n), gpu = new Float32Array(n);
        await lab().kernels[op]({ out: cpu, inp, n });
        await cudaKernels()[op]({ out: gpu, inp, n, dtype: dt });
        expectNear(gpu, cpu, dt, op);
      }
      for (const op of backward) {
        const cpu = new Float32Array(n), gpu = new Float32Array(n);
        await lab().trainKernels[op]({ dinp: cpu, dout, inp, n });
        await cudaKernels()[op]({ dinp: gpu, dout, inp, n, dtype: dt });
        expectNear(gpu, cpu, dt, op);
      }
    });

    it(`swiglu forward and backward, residual add (${dt})`, async () => {
      const gate = asStored(rng.normalArray(n, 3), dt), up = asStored(rng.normalArray(n), dt), dout = asStored(rng.normalArray(n), dt);
      const cpu = new Float32Array(n), gpu = new Float32Array(n);
      await lab().kernels.swiglu({ out: cpu, gate, up, n });
      await cudaKernels().swiglu({ out: gpu, gate, up, n, dtype: dt });
      expectNear(gpu, cpu, dt, 'swiglu');
      const c = { dgate: new Float32Array(n), dup: new Float32Array(n) }, g = { dgate: new Float32Array(n), dup: new Float32Array(n) };
      await lab().trainKernels.swigluBackward({ ...c, dout, gate, up, n });
      await cudaKernels().swigluBackward({ ...g, dout, gate, up, n, dtype: dt });
      expectNear(g.dgate, c.dgate, dt, 'swiglu dgate');
      expectNear(g.dup, c.dup, dt, 'swiglu dup');
      const a = Float32Array.from(gate), aGpu = Float32Array.from(gate);
      await lab().kernels.add({ a, b: up, n });
      await cudaKernels().add({ a: aGpu, b: up, n, dtype: dt });
      expectNear(aGpu, a, dt, 'add');
    });
  }
});

describeCuda('cuda: rope, embeddings, log-softmax gather vs the CPU twins', () => {
  for (const dt of DTYPES) {
    it(`rope forward and backward on a strided fused buffer, large positions (${dt})`, async () => {
      const T = 7, H = 3, hd = 24, ldx = H * hd + 10, theta = 10000;
      const positions = BigInt64Array.from({ length: T }, (_, t) => BigInt(t === 0 ? 4093 : rng.int(0, 5000)));
      const x = asStored(rng.normalArray((T - 1) * ldx + H * hd), dt);
      for (const op of ['rope', 'ropeBackward'] as const) {
        const cpu = Float32Array.from(x), gpu = Float32Array.from(x);
        if (op === 'rope') {
          await lab().kernels.rope({ x: cpu, positions, T, H, hd, ldx, theta });
          await cudaKernels().rope({ x: gpu, positions, T, H, hd, ldx, theta, dtype: dt });
        } else {
          await lab().trainKernels.ropeBackward({ dx: cpu, positions, T, H, hd, ldx, theta });
          await cudaKernels().ropeBackward({ dx: gpu, positions, T, H, hd, ldx, theta, dtype: dt });
        }
        expectNear(gpu, cpu, dt, op);
        for (let t = 0; t + 1 < T; t++) {  // the gap between tokens is not touched
          for (let i = H * hd; i < ldx; i++) expect(gpu[t * ldx + i], `${op} gap`).to.equal(x[t * ldx + i]);
        }
      }
    });

    it(`embedding lookup and scatter-add backward with repeated ids (${dt})`, async () => {
      const T = 19, C = 37, V = 23;
      const ids = BigInt64Array.from({ length: T }, (_, t) => BigInt(t % 4 === 0 ? 5 : rng.int(0, V)));
      const table = asStored(rng.normalArray(V * C), dt), dout = asStored(rng.normalArray(T * C), dt);
      const cpu = new Float32Array(T * C), gpu = new Float32Array(T * C);
      await lab().kernels.embedding({ out: cpu, ids, table, T, C, V });
      await cudaKernels().embedding({ out: gpu, ids, table, T, C, V, dtype: dt });
      expect(Array.from(gpu)).to.deep.equal(Array.from(cpu));  // a copy: exact
      const d0 = rng.normalArray(V * C);
      const dc = Float32Array.from(d0), dg = Float32Array.from(d0);
      await lab().trainKernels.embeddingBackward({ dtable: dc, dout, ids, T, C, V });
      await cudaKernels().embeddingBackward({ dtable: dg, dout, ids, T, C, V, dtype: dt });
      expect(Array.from(dg), 'token-order fp32 sums: the CPU result bit for bit').to.deep.equal(Array.from(dc));
    });

    it(`log-softmax gather with large logits (${dt})`, async () => {
      const T = 9, V = 1031;
      const logits = asStored(Float32Array.from(rng.normalArray(T * V), (x) => 30 * x), dt);
      const targets = BigInt64Array.from({ length: T }, () => BigInt(rng.int(0, V)));
      const cpu = new Float32Array(T), gpu = new Float32Array(T);
      await lab().kernels.logSoftmaxGather({ logp: cpu, logits, targets, T, V });
      await cudaKernels().logSoftmaxGather({ logp: gpu, logits, targets, T, V, dtype: dt });
      expectNear(gpu, cpu, 'F32', 'logp (fp32 output from identical inputs)');
    });
  }
});
