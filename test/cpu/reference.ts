// Plain float64 references for the CPU kernel tests, plus one closeness check that names the worst
// element. Each reference also returns a per-element magnitude (the sum of the absolute terms that
// formed the result), so the tolerance is relative to what fp32 rounding can actually perturb:
// a dot product's error is bounded by ~K * 2^-24 * sum|a_k b_k|, not by |result|, which can be ~0.
// Legend: M, N, K matrix sizes; T tokens, S keys, Hq/Hkv heads, hd head dim, C channels, V vocab.
import { expect } from 'chai';

export interface Ref {
  value: Float64Array;
  mag: Float64Array;
}

/** Asserts |actual[i] - ref.value[i]| <= tol * ref.mag[i] (+ a denormal floor) for every i listed. */
export function expectClose(actual: Float32Array, ref: Ref, tol: number, label: string, at?: (i: number) => string): void {
  let worst = -1;
  let worstRatio = 0;
  for (let i = 0; i < ref.value.length; i++) {
    const err = Math.abs(actual[i] - ref.value[i]);
    const bound = tol * ref.mag[i] + 1e-30;
    const r = err / bound;
    if (!(r <= worstRatio)) {
      worstRatio = r;
      worst = i;
      if (Number.isNaN(r)) break;
    }
  }
  if (worstRatio > 1 || Number.isNaN(worstRatio)) {
    const where = at ? at(worst) : `element ${worst}`;
    expect.fail(`${label}: ${where} is ${actual[worst]} but the reference is ${ref.value[worst]} ` +
      `(error ${Math.abs(actual[worst] - ref.value[worst]).toExponential(3)} > ${tol} x magnitude ${ref.mag[worst].toExponential(3)})`);
  }
}

/** Strided view of the C matrix region of an sgemm: indices of the M x N elements with row stride ldc. */
export function matrixIndices(M: number, N: number, ld: number, offset = 0): number[] {
  const idx: number[] = [];
  for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) idx.push(offset + i * ld + j);
  return idx;
}

/** C = alpha op(A) op(B) + beta C over the M x N region (row-major, leading dimensions), as a Ref over `idx`. */
export function refSgemm(o: {
  transA: boolean; transB: boolean; M: number; N: number; K: number; alpha: number; beta: number;
  A: Float32Array; lda: number; offA?: number; B: Float32Array; ldb: number; offB?: number;
  C: Float32Array; ldc: number; offC?: number;
}): Ref {
  const { transA, transB, M, N, K, alpha, beta, A, lda, B, ldb, C, ldc } = o;
  const offA = o.offA ?? 0, offB = o.offB ?? 0, offC = o.offC ?? 0;
  const value = new Float64Array(M * N);
  const mag = new Float64Array(M * N);
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = 0;
      let m = 0;
      for (let k = 0; k < K; k++) {
        const a = A[offA + (transA ? k * lda + i : i * lda + k)];
        const b = B[offB + (transB ? j * ldb + k : k * ldb + j)];
        s += a * b;
        m += Math.abs(a * b);
      }
      const c = beta === 0 ? 0 : beta * C[offC + i * ldc + j];
      value[i * N + j] = alpha * s + c;
      mag[i * N + j] = Math.abs(alpha) * m + Math.abs(c);
    }
  }
  return { value, mag };
}

/** Gathers the listed elements of a Float32Array into a packed one (to compare strided outputs). */
export function gather(x: Float32Array, idx: number[]): Float32Array {
  return Float32Array.from(idx, (i) => x[i]);
}

/** Attention with grouped-query heads and a causal mask offset, float64, with per-element magnitudes sum p|v|. */
export function refAttention(o: {
  q: Float32Array; k: Float32Array; v: Float32Array; ldq: number; ldk: number; ldv: number;
  T: number; S: number; Hq: number; Hkv: number; hd: number; causal: boolean; qOffset: number; scale: number;
}): Ref {
  const { q, k, v, ldq, ldk, ldv, T, S, Hq, Hkv, hd, causal, qOffset, scale } = o;
  const value = new Float64Array(T * Hq * hd);
  const mag = new Float64Array(T * Hq * hd);
  const group = Hq / Hkv;
  for (let t = 0; t < T; t++) {
    for (let h = 0; h < Hq; h++) {
      const kh = Math.floor(h / group);
      const last = causal ? Math.min(S, qOffset + t + 1) : S;
      const sc = new Float64Array(last);
      let mx = -Infinity;
      for (let s = 0; s < last; s++) {
        let d = 0;
        for (let i = 0; i < hd; i++) d += q[t * ldq + h * hd + i] * k[s * ldk + kh * hd + i];
        sc[s] = d * scale;
        mx = Math.max(mx, sc[s]);
      }
      let z = 0;
      for (let s = 0; s < last; s++) z += (sc[s] = Math.exp(sc[s] - mx));
      for (let i = 0; i < hd; i++) {
        let acc = 0;
        let m = 0;
        for (let s = 0; s < last; s++) {
          const pv = (sc[s] / z) * v[s * ldv + kh * hd + i];
          acc += pv;
          m += Math.abs(pv);
        }
        value[(t * Hq + h) * hd + i] = acc;
        mag[(t * Hq + h) * hd + i] = m;
      }
    }
  }
  return { value, mag };
}
