// The CUDA ops table's LoRA and patch-embedding entries (native/cuda/ops_table.cu over lora.cu and
// patch_embed.cu), run through the table, against their CPU twins on random inputs: the LoRA delta
// added into a column range of a wider (fused) output and its backward (dx, dA, dB accumulated onto
// random values, each optional), without and with dropout (the keyed mask must be the CPU's bit for
// bit, or xa and every gradient move far beyond the tolerance), and the patch embedding forward on
// a non-square image and its weight gradient over a batch. Both GEMMs; fp32 only, as the table.
// Then the CUDA Backend (cuda_backend.cu) end to end: an arena on the device, copies, its table.
// (The table's completeness is checked without a device: binding.test.ts.)
// Legend: T rows, K in, N out, r rank; N images, S image side, p patch side, P patches, D hidden.
import { expect } from 'chai';

import { makeRng } from '../helpers/rng.ts';
import { cudaKernels, describeCuda, expectNear } from './helpers.ts';
import { lab } from '../helpers/lab.ts';

const rng = makeRng(4242);
const TOL = { rel: 1e-4, abs: 1e-5 };  // fp32 GEMMs summing in another order
const GEMMS = ['reference', 'cublaslt'] as const;

describeCuda('cuda ops table: lora.lora_delta_forward / lora_delta_backward vs the CPU twins', () => {
  const T = 37, K = 48, N = 40, r = 8, ldo = 3 * N + 5;  // out: the middle third of a q|k|v-like fused row
  for (const gemm of GEMMS) {
    for (const dropout of [0, 0.25]) {
      it(`forward into a strided output, backward with every gradient and with dx only (${gemm}, dropout ${dropout})`, async () => {
        const shape = { T, K, N, r, scale: 16 / r, dropout, key: { seed: 9, step: 3, micro: 1, layer: 2, module: 4 } };
        const x = rng.normalArray(T * K), A = rng.normalArray(r * K, 0.3), B = rng.normalArray(N * r, 0.3);
        const fused0 = rng.normalArray(T * ldo), cpuFused = Float32Array.from(fused0), gpuFused = Float32Array.from(fused0);
        const cpu = { out: cpuFused.subarray(N), xa: new Float32Array(T * r) };
        const gpu = { out: gpuFused.subarray(N), xa: new Float32Array(T * r) };
        await lab().trainKernels.loraDeltaForward({ ...shape, ...cpu, ldo, x, A, B });
        await cudaKernels().loraDeltaForward({ ...shape, ...gpu, ldo, x, A, B, gemm });
        expectNear(gpu.xa, cpu.xa, 'F32', 'xa = dropout(x) A^T', TOL);
        expectNear(gpuFused, cpuFused, 'F32', 'the fused output', TOL);
        const outside = (a: Float32Array) => a.filter((_, i) => i % ldo < N || i % ldo >= 2 * N);
        expect(Array.from(outside(gpuFused)), 'columns outside the range').to.deep.equal(Array.from(outside(fused0)));
        expect(Array.from(cpuFused)).to.not.deep.equal(Array.from(fused0));  // the delta was added

        const dout = rng.normalArray(T * ldo).subarray(2 * N), ldd = ldo;
        const start = { dx: rng.normalArray(T * K), dA: rng.normalArray(r * K, 0.1), dB: rng.normalArray(N * r, 0.1) };
        const c = { dx: Float32Array.from(start.dx), dA: Float32Array.from(start.dA), dB: Float32Array.from(start.dB) };
        const g = { dx: Float32Array.from(start.dx), dA: Float32Array.from(start.dA), dB: Float32Array.from(start.dB) };
        await lab().trainKernels.loraDeltaBackward({ ...shape, ...c, dout, ldd, x, xa: cpu.xa, A, B });
        await cudaKernels().loraDeltaBackward({ ...shape, ...g, dout, ldd, x, xa: cpu.xa, A, B, gemm });
        expectNear(g.dx, c.dx, 'F32', 'dx (accumulated)', TOL);
        expectNear(g.dA, c.dA, 'F32', 'dA (accumulated)', TOL);
        expectNear(g.dB, c.dB, 'F32', 'dB (accumulated)', TOL);

        const cx = Float32Array.from(start.dx), gx = Float32Array.from(start.dx);
        await lab().trainKernels.loraDeltaBackward({ ...shape, dx: cx, dout, ldd, x, xa: cpu.xa, A, B });
        await cudaKernels().loraDeltaBackward({ ...shape, dx: gx, dout, ldd, x, xa: cpu.xa, A, B, gemm });
        expectNear(gx, cx, 'F32', 'dx with A and B frozen', TOL);
      });
    }
  }
});

describeCuda('cuda ops table: embedding.patch_embed_forward / patch_embed_backward vs the CPU twins', () => {
  const p = 14, D = 40;
  for (const gemm of GEMMS) {
    it(`forward on a 28x42 image (${gemm})`, async () => {
      const Hs = 28, Ws = 42, P = (Hs / p) * (Ws / p);
      const img = rng.normalArray(3 * Hs * Ws), weight = rng.normalArray(D * 3 * p * p, 0.05);
      const cpu = new Float32Array(P * D), gpu = new Float32Array(P * D);
      await lab().kernels.patchEmbed({ out: cpu, img, weight, Hs, Ws, p, D });
      await cudaKernels().patchEmbedForward({ out: gpu, img, weight, Hs, Ws, p, D, gemm });
      expectNear(gpu, cpu, 'F32', 'patch embeddings', TOL);
    });

    it(`weight gradient accumulated over 3 images of 42x42 (${gemm})`, async () => {
      const N = 3, S = 42, P = (S / p) * (S / p);
      const img = rng.normalArray(N * 3 * S * S), dout = rng.normalArray(N * P * D), dw0 = rng.normalArray(D * 3 * p * p, 0.1);
      const cpu = Float32Array.from(dw0), gpu = Float32Array.from(dw0);
      await lab().pretrainKernels.patchEmbedBackward({ dweight: cpu, dout, img, N, S, p, D });
      await cudaKernels().patchEmbedBackward({ dweight: gpu, dout, img, N, Hs: S, Ws: S, p, D, gemm });
      expectNear(gpu, cpu, 'F32', 'dweight (accumulated)', TOL);
    });
  }
});

describeCuda('cuda backend: an arena on the device, host copies and the ops table', () => {
  it('copies values in, doubles them on the device through its table, copies them back exactly', async () => {
    const values = rng.normalArray(1000);
    const r = await cudaKernels().backendRoundTrip({ values, gemm: 'reference' });
    expect(r.name).to.match(/^cuda:0 \(.+\)$/);
    expect(r.freeBytes).to.be.greaterThan(0);
    expect(r.totalBytes).to.be.at.least(r.freeBytes);
    expect(Array.from(r.doubled)).to.deep.equal(Array.from(values, (v) => Math.fround(v + v)));
  });
});
