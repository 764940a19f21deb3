// Shared by the GPU tests (`npm run test:gpu`, .mocharc.gpu.json): whether this process can run
// them (and why not), the per-dtype tolerance table, bf16 rounding of inputs, and one closeness
// check that names the worst element. Every CUDA op is compared with its CPU twin (native()
// kernels.*, trainKernels.*, corruptImages, kernels.sampleToken) on the same inputs: for BF16 the
// inputs are rounded to bf16 first, so both sides see identical values and the tolerance only has
// to cover the GPU's bf16 stores (and fp32 summation order).
import { expect } from 'chai';

import { native } from '../../lib/native/index.ts';
import { emulatedCuda } from './emulate.ts';
import { lab, type CudaDType, type CudaKernels } from '../helpers/lab.ts';

// STIC_GPU_TEST_EMULATE=cpu runs the GPU tests against a CPU emulation of cuda.* (emulate.ts): a
// check of the tests themselves on a machine without a GPU, never of the CUDA kernels.
const EMULATE = process.env.STIC_GPU_TEST_EMULATE === 'cpu';

/** Why the GPU tests cannot run here, or null when they can. */
export function cudaUnavailableReason(): string | null {
  if (EMULATE) return null;
  const info = native().buildInfo();
  if (!info.cuda) {
    return 'the addon was built without the CUDA backend (buildInfo().cuda is false: no nvcc with cuBLASLt at build time)';
  }
  const cuda = lab().cuda;
  if (!cuda) return 'buildInfo().cuda is true but the addon exports no `cuda` object';
  try {
    cuda.deviceInfo();
  } catch (err) {
    return `the addon has the CUDA backend but no usable device: ${(err as Error).message}`;
  }
  return null;
}

/** The cuda.* kernels; only call inside a describeCuda body's tests. */
export function cudaKernels(): CudaKernels {
  if (EMULATE) return emulatedCuda();
  const cuda = lab().cuda;
  if (!cuda) throw new Error('lab().cuda is absent: describeCuda should have skipped this test');
  return cuda;
}

/** describe() whose tests are skipped, with the reason printed once, when there is no usable GPU. */
export function describeCuda(title: string, body: () => void): void {
  describe(title, function () {
    before(function () {
      if (EMULATE) console.log('      emulated on the CPU (STIC_GPU_TEST_EMULATE=cpu): checks the tests, not the kernels');
      const why = cudaUnavailableReason();
      if (why) {
        console.log(`      skipped: ${why}`);
        this.skip();
      }
    });
    body();
  });
}

export const DTYPES: readonly CudaDType[] = ['F32', 'BF16'];

/**
 * Per-dtype tolerances: |gpu - cpu| <= rel * |cpu| + abs * max|cpu| for every element. F32: fp32
 * summation order only. BF16: one bf16 rounding of each stored result (2^-9 relative) plus the
 * rounding of stored intermediates (the residual of a fused add, P in the attention backward).
 */
export const TOL: Record<CudaDType, { rel: number; abs: number }> = {
  F32: { rel: 1e-5, abs: 1e-5 },
  BF16: { rel: 1e-2, abs: 1e-2 },
};

/** Round-to-nearest-even to bf16 (core/dtype.h's f32ToBf16), returned as float32 values. */
export function roundBf16(x: Float32Array): Float32Array {
  const out = new Float32Array(x.length);
  const src = new Uint32Array(x.buffer, x.byteOffset, x.length);
  const dst = new Uint32Array(out.buffer);
  for (let i = 0; i < x.length; i++) {
    const b = src[i];
    if ((b & 0x7fffffff) > 0x7f800000) dst[i] = (b | 0x00400000) & 0xffff0000;  // quiet NaN
    else dst[i] = ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) << 16;
  }
  return out;
}

/** x as the device will hold it for this dtype. */
export function asStored(x: Float32Array, dt: CudaDType): Float32Array {
  return dt === 'BF16' ? roundBf16(x) : Float32Array.from(x);
}

/** Asserts gpu ~ cpu under TOL[dt] (or `tol`), naming the worst element and its index. */
export function expectNear(gpu: Float32Array | number[], cpu: Float32Array | number[], dt: CudaDType, what: string,
  tol: { rel: number; abs: number } = TOL[dt]): void {
  expect(gpu.length, `${what}: length`).to.equal(cpu.length);
  let maxAbs = 0;
  for (let i = 0; i < cpu.length; i++) maxAbs = Math.max(maxAbs, Math.abs(cpu[i]));
  let worst = -1, worstRatio = 0;
  for (let i = 0; i < cpu.length; i++) {
    const bound = tol.rel * Math.abs(cpu[i]) + tol.abs * maxAbs + 1e-30;
    const r = Math.abs(gpu[i] - cpu[i]) / bound;
    if (!(r <= worstRatio)) {
      worstRatio = r;
      worst = i;
      if (Number.isNaN(r)) break;
    }
  }
  if (worstRatio > 1 || Number.isNaN(worstRatio)) {
    expect.fail(`${what} (${dt}): element ${worst} is ${gpu[worst]} on the GPU but ${cpu[worst]} on the CPU ` +
      `(tolerance ${tol.rel} x |cpu| + ${tol.abs} x max|cpu| = ${(tol.rel * Math.abs(cpu[worst]) + tol.abs * maxAbs).toExponential(3)})`);
  }
}

/** Asserts two byte arrays are identical, naming the first difference (pixel, channel). */
export function expectSameBytes(gpu: Uint8Array, cpu: Uint8Array, what: string): void {
  expect(gpu.length, `${what}: length`).to.equal(cpu.length);
  let diffs = 0, first = -1;
  for (let i = 0; i < cpu.length; i++) {
    if (gpu[i] !== cpu[i]) {
      if (first < 0) first = i;
      diffs++;
    }
  }
  if (diffs > 0) {
    expect.fail(`${what}: ${diffs} of ${cpu.length} bytes differ; first at byte ${first} (pixel ${Math.floor(first / 3)}, ` +
      `channel ${first % 3}): GPU ${gpu[first]}, CPU ${cpu[first]}`);
  }
}
