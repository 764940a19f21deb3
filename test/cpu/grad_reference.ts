// Float64 references for the training-kernel tests: plain forwards of every op, central finite
// differences of a scalar loss, and one gradient closeness check that names the worst element.
// A backward is checked as the gradient of L(x) = sum(G * f(x)) for a random upstream G: the
// native backward gets G as dout, the reference differentiates L numerically in float64.
// Legend: T tokens, C channels, K in, N out, S keys, Hq/Hkv heads, hd head dim, V vocab, D hidden.
import { expect } from 'chai';

export type Arr = ArrayLike<number>;

export const f64 = (x: Arr): Float64Array => Float64Array.from(x);
export const f32 = (x: Arr): Float32Array => Float32Array.from(x);

/** sum_i g[i] * y[i] */
export function dot(g: Arr, y: Arr): number {
  let s = 0;
  for (let i = 0; i < y.length; i++) s += g[i] * y[i];
  return s;
}

/** Central differences dL/dx_i = (L(x + h e_i) - L(x - h e_i)) / 2h in float64 (x is restored). */
export function finiteDiff(x: Float64Array, loss: () => number, h = 1e-5): Float64Array {
  const grad = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const x0 = x[i];
    x[i] = x0 + h;
    const up = loss();
    x[i] = x0 - h;
    const down = loss();
    x[i] = x0;
    grad[i] = (up - down) / (2 * h);
  }
  return grad;
}

/**
 * Asserts |actual[i] - ref[i]| <= rtol |ref[i]| + atol for every i, with atol = afrac * max |ref|
 * (a gradient's small entries carry the rounding of its large ones), and that actual is finite.
 */
export function expectGrad(actual: Arr, ref: Arr, label: string, rtol = 1e-4, afrac = 1e-5): void {
  expect(actual.length, `${label}: length`).to.equal(ref.length);
  let maxRef = 0;
  for (let i = 0; i < ref.length; i++) maxRef = Math.max(maxRef, Math.abs(ref[i]));
  const atol = afrac * maxRef + 1e-30;
  let worst = -1, worstRatio = 0;
  for (let i = 0; i < ref.length; i++) {
    const r = Math.abs(actual[i] - ref[i]) / (rtol * Math.abs(ref[i]) + atol);
    if (!(r <= worstRatio)) {
      worst = i;
      worstRatio = r;
      if (Number.isNaN(r)) break;
    }
  }
  if (worstRatio > 1 || Number.isNaN(worstRatio)) {
    expect.fail(`${label}: element ${worst} is ${actual[worst]} but the reference is ${ref[worst]} ` +
      `(rtol ${rtol}, atol ${atol.toExponential(3)}; max |ref| ${maxRef.toExponential(3)})`);
  }
}

// ---- float64 forwards (the functions the finite differences differentiate) ---------------------

/** out[T,N] = inp[T,K] weight[N,K]^T + bias[N] */
export function linearF(inp: Arr, weight: Arr, bias: Arr | null, T: number, K: number, N: number): Float64Array {
  const out = new Float64Array(T * N);
  for (let t = 0; t < T; t++) {
    for (let n = 0; n < N; n++) {
      let s = bias ? bias[n] : 0;
      for (let k = 0; k < K; k++) s += inp[t * K + k] * weight[n * K + k];
      out[t * N + n] = s;
    }
  }
  return out;
}

export function rmsnormF(inp: Arr, weight: Arr, T: number, C: number, eps: number): Float64Array {
  const out = new Float64Array(T * C);
  for (let t = 0; t < T; t++) {
    let ss = 0;
    for (let c = 0; c < C; c++) ss += inp[t * C + c] ** 2;
    const r = 1 / Math.sqrt(ss / C + eps);
    for (let c = 0; c < C; c++) out[t * C + c] = inp[t * C + c] * r * weight[c];
  }
  return out;
}

export function layernormF(inp: Arr, weight: Arr, bias: Arr, T: number, C: number, eps: number): Float64Array {
  const out = new Float64Array(T * C);
  for (let t = 0; t < T; t++) {
    let mean = 0;
    for (let c = 0; c < C; c++) mean += inp[t * C + c] / C;
    let v = 0;
    for (let c = 0; c < C; c++) v += (inp[t * C + c] - mean) ** 2 / C;
    const r = 1 / Math.sqrt(v + eps);
    for (let c = 0; c < C; c++) out[t * C + c] = (inp[t * C + c] - mean) * r * weight[c] + bias[c];
  }
  return out;
}

/** erf to ~1e-15 (Abramowitz-Stegun 7.1.26 is too coarse for finite differences): series / continued fraction. */
export function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 2.5) {
    // Maclaurin series: erf x = 2/sqrt(pi) sum_n (-1)^n x^(2n+1) / (n! (2n+1))
    let term = ax, sum = ax;
    for (let n = 1; n < 80; n++) {
      term *= -(ax * ax) / n;
      sum += term / (2 * n + 1);
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc x = exp(-x^2)/sqrt(pi) * 1/(x + 1/2/(x + 1/(x + 3/2/(x + ...)))) (Lentz-free backward evaluation)
  let f = ax;
  for (let n = 60; n >= 1; n--) f = ax + (n / 2) / f;
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
  return Math.sign(x) * (1 - erfc);
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
export const activationsF: Record<string, (x: number) => number> = {
  gelu: (x) => 0.5 * x * (1 + erf(x / Math.SQRT2)),
  geluTanh: (x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3))),
  quickGelu: (x) => x * sigmoid(1.702 * x),
  silu: (x) => x * sigmoid(x),
};

/** HF rotate_half rope on x[T,H,hd] (row stride ldx), returned packed [T,H,hd]. */
export function ropeF(x: Arr, positions: ArrayLike<bigint>, T: number, H: number, hd: number, ldx: number, theta: number): Float64Array {
  const half = hd / 2, out = new Float64Array(T * H * hd);
  for (let t = 0; t < T; t++) {
    for (let h = 0; h < H; h++) {
      for (let i = 0; i < half; i++) {
        const ang = Number(positions[t]) * theta ** (-(2 * i) / hd);
        const a = x[t * ldx + h * hd + i], b = x[t * ldx + h * hd + i + half];
        out[(t * H + h) * hd + i] = a * Math.cos(ang) - b * Math.sin(ang);
        out[(t * H + h) * hd + i + half] = b * Math.cos(ang) + a * Math.sin(ang);
      }
    }
  }
  return out;
}

export interface AttnShape { T: number; S: number; Hq: number; Hkv: number; hd: number; causal: boolean; qOffset: number; scale: number; ldq: number; ldk: number; ldv: number }

/** Attention in float64: out packed [T,Hq,hd] and lse [Hq,T]. */
export function attentionF(q: Arr, k: Arr, v: Arr, s: AttnShape): { out: Float64Array; lse: Float64Array } {
  const { T, S, Hq, Hkv, hd, causal, qOffset, scale, ldq, ldk, ldv } = s;
  const group = Hq / Hkv, out = new Float64Array(T * Hq * hd), lse = new Float64Array(Hq * T);
  const sc = new Float64Array(S);
  for (let h = 0; h < Hq; h++) {
    const kvh = Math.floor(h / group);
    for (let t = 0; t < T; t++) {
      const last = causal ? Math.min(S, qOffset + t + 1) : S;
      let mx = -Infinity;
      for (let j = 0; j < last; j++) {
        let d = 0;
        for (let i = 0; i < hd; i++) d += q[t * ldq + h * hd + i] * k[j * ldk + kvh * hd + i];
        sc[j] = d * scale;
        mx = Math.max(mx, sc[j]);
      }
      let sum = 0;
      for (let j = 0; j < last; j++) sum += Math.exp(sc[j] - mx);
      lse[h * T + t] = mx + Math.log(sum);
      for (let j = 0; j < last; j++) {
        const p = Math.exp(sc[j] - lse[h * T + t]);
        for (let i = 0; i < hd; i++) out[(t * Hq + h) * hd + i] += p * v[j * ldv + kvh * hd + i];
      }
    }
  }
  return { out, lse };
}

/**
 * The analytic attention backward in float64 (for shapes too large for finite differences; the
 * finite-difference tests validate the kernel on small shapes): dq packed [T,Hq,hd], dk/dv packed
 * [S,Hkv,hd], from P = softmax, dP = dO v, dS = P (dP - rowsum(P dP)).
 */
export function attentionBackwardF(q: Arr, k: Arr, v: Arr, G: Arr, s: AttnShape): { dq: Float64Array; dk: Float64Array; dv: Float64Array } {
  const { T, S, Hq, Hkv, hd, causal, qOffset, scale, ldq, ldk, ldv } = s;
  const group = Hq / Hkv, lse = attentionF(q, k, v, s).lse;
  const dq = new Float64Array(T * Hq * hd), dk = new Float64Array(S * Hkv * hd), dv = new Float64Array(S * Hkv * hd);
  const p = new Float64Array(S), dp = new Float64Array(S);
  for (let h = 0; h < Hq; h++) {
    const kvh = Math.floor(h / group);
    for (let t = 0; t < T; t++) {
      const last = causal ? Math.min(S, qOffset + t + 1) : S;
      let D = 0;
      for (let j = 0; j < last; j++) {
        let sc = 0, g = 0;
        for (let i = 0; i < hd; i++) {
          sc += q[t * ldq + h * hd + i] * k[j * ldk + kvh * hd + i];
          g += G[(t * Hq + h) * hd + i] * v[j * ldv + kvh * hd + i];
        }
        p[j] = Math.exp(sc * scale - lse[h * T + t]);
        dp[j] = g;
        D += p[j] * g;
      }
      for (let j = 0; j < last; j++) {
        const ds = p[j] * (dp[j] - D);
        for (let i = 0; i < hd; i++) {
          dq[(t * Hq + h) * hd + i] += scale * ds * k[j * ldk + kvh * hd + i];
          dk[(j * Hkv + kvh) * hd + i] += scale * ds * q[t * ldq + h * hd + i];
          dv[(j * Hkv + kvh) * hd + i] += p[j] * G[(t * Hq + h) * hd + i];
        }
      }
    }
  }
  return { dq, dk, dv };
}

/** log_softmax rows of logits[T,V] (float64). */
export function logSoftmaxRows(logits: Float64Array, T: number, V: number): Float64Array {
  const out = new Float64Array(T * V);
  for (let t = 0; t < T; t++) {
    let mx = -Infinity;
    for (let v = 0; v < V; v++) mx = Math.max(mx, logits[t * V + v]);
    let sum = 0;
    for (let v = 0; v < V; v++) sum += Math.exp(logits[t * V + v] - mx);
    const lse = mx + Math.log(sum);
    for (let v = 0; v < V; v++) out[t * V + v] = logits[t * V + v] - lse;
  }
  return out;
}

/** Exact-message assertion for a synchronous throw (chai's to.throw only checks a substring). */
export function expectThrowExact(fn: () => unknown, type: ErrorConstructor | RangeErrorConstructor | TypeErrorConstructor, message: string): void {
  try {
    fn();
  } catch (e) {
    expect(e).to.be.instanceOf(type);
    expect((e as Error).message).to.equal(message);
    return;
  }
  expect.fail(`expected a ${type.name}: ${message}`);
}
