// SGEMM and linear_forward against a float64 reference on random inputs: all four transposes, odd
// sizes, padded leading dimensions, alpha/beta, strided batches, the small-M (decode) path and
// sizes that cross every cache block. Legend: M, N, K matrix sizes; T tokens.
import { expect } from 'chai';

import { makeRng } from '../helpers/rng.ts';
import { expectClose, gather, matrixIndices, refSgemm } from './reference.ts';
import { lab } from '../helpers/lab.ts';

const rng = makeRng(20261126);
const TOL = 1e-5;

interface Case { transA: boolean; transB: boolean; M: number; N: number; K: number; padA?: number; padB?: number; padC?: number; alpha?: number; beta?: number }

async function checkSgemm(c: Case): Promise<void> {
  const { transA, transB, M, N, K } = c;
  const alpha = c.alpha ?? 1;
  const beta = c.beta ?? 0;
  const aRows = transA ? K : M, aCols = transA ? M : K, bRows = transB ? N : K, bCols = transB ? K : N;
  const lda = aCols + (c.padA ?? 0), ldb = bCols + (c.padB ?? 0), ldc = N + (c.padC ?? 0);
  const A = rng.normalArray(aRows * lda);
  const B = rng.normalArray(bRows * ldb);
  const C = rng.normalArray(M * ldc);
  const ref = refSgemm({ transA, transB, M, N, K, alpha, beta, A, lda, B, ldb, C, ldc });
  const idx = matrixIndices(M, N, ldc);
  const padding = C.filter((_, i) => i % ldc >= N);
  await lab().kernels.sgemm({ transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc });
  const label = `sgemm tA=${transA} tB=${transB} M=${M} N=${N} K=${K} lda=${lda} ldb=${ldb} ldc=${ldc}`;
  expectClose(gather(C, idx), ref, TOL, label, (i) => `C[${Math.floor(i / N)},${i % N}]`);
  expect(C.filter((_, i) => i % ldc >= N), `${label}: padding columns of C are untouched`).to.deep.equal(padding);
}

// Every register-tile set this CPU runs (AVX-512, AVX2, portable) goes through the same checks.
for (const tiles of lab().kernels.gemmKernelsSupported()) {
  describe(`kernels.sgemm (cpu, ${tiles} tiles)`, () => {
    before(() => lab().kernels.gemmKernels(tiles));
    after(() => lab().kernels.gemmKernels(''));

    for (const transA of [false, true]) {
      for (const transB of [false, true]) {
        it(`odd sizes, tA=${transA} tB=${transB}, padded leading dimensions, alpha and beta`, async () => {
          await checkSgemm({ transA, transB, M: 37, N: 53, K: 71 });
          await checkSgemm({ transA, transB, M: 37, N: 53, K: 71, padA: 5, padB: 3, padC: 7, alpha: 0.75, beta: -1.25 });
        });
        it(`crosses every cache block, tA=${transA} tB=${transB}`, async () => {
          await checkSgemm({ transA, transB, M: 150, N: 173, K: 601, padC: 1, beta: 0.5 });
        });
        it(`small M (decode rows 1..16), tA=${transA} tB=${transB}`, async () => {
          for (const M of [1, 2, 5, 8, 13, 16]) await checkSgemm({ transA, transB, M, N: 131, K: 67, padA: 2, padB: 1, padC: 3, beta: M % 2 ? 0 : 1 });
        });
      }
    }

    it('a wide N that crosses the column block (N = 4133)', async () => {
      await checkSgemm({ transA: false, transB: true, M: 23, N: 4133, K: 45 });
      await checkSgemm({ transA: false, transB: false, M: 19, N: 4133, K: 45 });
    });

    it('a K too long to pack at once (K = 200003) is packed in several super-blocks', async () => {
      // 32 MiB of packed panels hold (M + N padded) x K floats; past that K is split (here for every tile set).
      await checkSgemm({ transA: false, transB: true, M: 17, N: 19, K: 200003, beta: 0.5 });
    });

    it('beta = 0 overwrites C even when it holds NaN', async () => {
      const M = 9, N = 17, K = 11;
      const A = rng.normalArray(M * K), B = rng.normalArray(K * N);
      const C = new Float32Array(M * N).fill(NaN);
      const ref = refSgemm({ transA: false, transB: false, M, N, K, alpha: 1, beta: 0, A, lda: K, B, ldb: N, C, ldc: N });
      await lab().kernels.sgemm({ M, N, K, A, B, C });
      expectClose(C, ref, TOL, 'sgemm beta=0 over NaN');
    });

    it('alpha = 0 only scales C by beta', async () => {
      const M = 5, N = 7, K = 3;
      const A = rng.normalArray(M * K), B = rng.normalArray(K * N), C = rng.normalArray(M * N), C0 = C.slice();
      await lab().kernels.sgemm({ M, N, K, alpha: 0, A, B, beta: 0.5, C });
      expect(Array.from(C)).to.deep.equal(Array.from(C0, (c) => Math.fround(0.5 * c)));
    });

    it('large strided batches run one parallel GEMM after another', async () => {
      const M = 101, N = 97, K = 420, batch = 2;
      const A = rng.normalArray(batch * M * K), B = rng.normalArray(batch * K * N), C = rng.normalArray(batch * M * N);
      const refs = Array.from({ length: batch }, (_, b) =>
        refSgemm({ transA: false, transB: false, M, N, K, alpha: 1, beta: 0, A, lda: K, offA: b * M * K, B, ldb: N, offB: b * K * N, C, ldc: N, offC: b * M * N }));
      await lab().kernels.sgemm({ M, N, K, A, B, C, batch });
      for (let b = 0; b < batch; b++) expectClose(C.subarray(b * M * N, (b + 1) * M * N), refs[b], TOL, `sgemm large batch ${b}`);
    });

    it('strided batches with gaps between matrices', async () => {
      const M = 13, N = 29, K = 17, batch = 3, lda = K + 2, ldb = K, ldc = N + 1;
      const strideA = M * lda + 5, strideB = N * ldb + 3, strideC = M * ldc + 11;
      const A = rng.normalArray(batch * strideA), B = rng.normalArray(batch * strideB), C = rng.normalArray(batch * strideC);
      const refs = Array.from({ length: batch }, (_, b) =>
        refSgemm({ transA: false, transB: true, M, N, K, alpha: 1.5, beta: 0.25, A, lda, offA: b * strideA, B, ldb, offB: b * strideB, C, ldc, offC: b * strideC }));
      const gapBefore = C.slice(M * ldc, strideC);
      await lab().kernels.sgemm({ transB: true, M, N, K, alpha: 1.5, beta: 0.25, A, lda, B, ldb, C, ldc, batch, strideA, strideB, strideC });
      for (let b = 0; b < batch; b++) expectClose(gather(C, matrixIndices(M, N, ldc, b * strideC)), refs[b], TOL, `sgemm batch ${b}`);
      expect(C.slice(M * ldc, strideC)).to.deep.equal(gapBefore);
    });

    it('rejects arrays that are too small and leading dimensions below the row length', async () => {
      const A = new Float32Array(100), B = new Float32Array(71 * 53), C = new Float32Array(37 * 53);
      expect(() => lab().kernels.sgemm({ M: 37, N: 53, K: 71, A, B, C })).to.throw(
        RangeError, 'kernels.sgemm.A holds 100 elements but M=37, N=53, K=71, batch=1, lda=71 need 2627');
      expect(() => lab().kernels.sgemm({ M: 37, N: 53, K: 71, A: new Float32Array(37 * 71), lda: 70, B, C })).to.throw(
        TypeError, 'Expected an integer >= 71 (the row length of A) for kernels.sgemm.lda but received 70');
      expect(() => lab().kernels.sgemm({ M: 2, N: 3, K: 4, A, B, C, batch: 2, strideC: 5 })).to.throw(
        RangeError, 'kernels.sgemm.strideC is 5 but each 2x3 C with ldc=3 spans 6 elements, so batches would overlap');
      expect(() => lab().kernels.sgemm({ M: 0, N: 53, K: 71, A, B, C })).to.throw(
        TypeError, 'Expected a positive integer for kernels.sgemm.M but received 0');
    });
  });

  describe(`kernels.linear (cpu, ${tiles} tiles)`, () => {
    before(() => lab().kernels.gemmKernels(tiles));
    after(() => lab().kernels.gemmKernels(''));

    async function checkLinear(T: number, K: number, N: number, withBias: boolean): Promise<void> {
      const inp = rng.normalArray(T * K), weight = rng.normalArray(N * K, 0.1), bias = rng.normalArray(N);
      const out = rng.normalArray(T * N);
      const ref = refSgemm({ transA: false, transB: true, M: T, N, K, alpha: 1, beta: 0, A: inp, lda: K, B: weight, ldb: K, C: out, ldc: N });
      if (withBias) {
        for (let i = 0; i < T * N; i++) {
          ref.value[i] += bias[i % N];
          ref.mag[i] += Math.abs(bias[i % N]);
        }
      }
      await lab().kernels.linear({ out, inp, weight, bias: withBias ? bias : null, T, K, N });
      expectClose(out, ref, TOL, `linear T=${T} K=${K} N=${N} bias=${withBias}`, (i) => `out[${Math.floor(i / N)},${i % N}]`);
    }

    it('prefill-like odd shapes, with and without bias', async () => {
      await checkLinear(37, 71, 53, true);
      await checkLinear(61, 300, 97, false);
    });
    it('decode-like rows (T = 1..16) stream the weight once', async () => {
      for (const T of [1, 3, 8, 16]) await checkLinear(T, 129, 263, T !== 3);
    });
    it('rejects a short weight', async () => {
      expect(() => lab().kernels.linear({ out: new Float32Array(6), inp: new Float32Array(8), weight: new Float32Array(11), T: 2, K: 4, N: 3 })).to.throw(
        RangeError, 'kernels.linear.weight holds 11 elements but T=2, K=4, N=3 need 12');
    });
  });
}

describe('kernels.gemmKernels', () => {
  it('reports the tiles in force and refuses an unknown name', () => {
    const supported = lab().kernels.gemmKernelsSupported();
    expect(supported.at(-1)).to.equal('scalar');
    expect(lab().kernels.gemmKernels()).to.equal(supported[0]);
    expect(() => lab().kernels.gemmKernels('sse9' as never)).to.throw(
      TypeError, `Expected one of ${supported.join(', ')} or "" (the kernels this CPU runs) for kernels.gemmKernels name but received a string "sse9"`);
    expect(lab().kernels.gemmKernels()).to.equal(supported[0]);
  });
});
