// Row-wise and elementwise kernels against float64 references on random inputs: LayerNorm, RMSNorm,
// the activations, SwiGLU, residual add, rotary embeddings (HF rotate_half), token and patch
// embeddings, and log-softmax/gather with large logits.
// Legend: T tokens, C channels, H heads, hd head dim, V vocab, P patches, p patch side, D hidden.
import { expect } from 'chai';

import { makeRng } from '../helpers/rng.ts';
import { expectClose, type Ref } from './reference.ts';
import { lab } from '../helpers/lab.ts';

const rng = makeRng(99);
const TOL = 1e-5;

function refOf(n: number, f: (i: number) => [number, number]): Ref {
  const value = new Float64Array(n), mag = new Float64Array(n);
  for (let i = 0; i < n; i++) [value[i], mag[i]] = f(i);
  return { value, mag };
}

describe('kernels: norms (cpu)', () => {
  it('layernorm over odd rows, with an offset mean (two-pass variance)', async () => {
    const T = 13, C = 771, eps = 1e-5;
    const inp = Float32Array.from(rng.normalArray(T * C), (x) => 3 * x + 40);
    const weight = rng.normalArray(C), bias = rng.normalArray(C), out = new Float32Array(T * C);
    await lab().kernels.layernorm({ out, inp, weight, bias, T, C, eps });
    const stats = Array.from({ length: T }, (_, t) => {
      const row = Array.from(inp.subarray(t * C, (t + 1) * C));
      const mean = row.reduce((a, b) => a + b, 0) / C;
      const variance = row.reduce((a, b) => a + (b - mean) ** 2, 0) / C;
      return { mean, rstd: 1 / Math.sqrt(variance + eps) };
    });
    expectClose(out, refOf(T * C, (i) => {
      const { mean, rstd } = stats[Math.floor(i / C)];
      const n = (inp[i] - mean) * rstd * weight[i % C];
      return [n + bias[i % C], Math.abs(n) + Math.abs(bias[i % C])];
    }), TOL, 'layernorm');
  });

  it('rmsnorm over odd rows', async () => {
    const T = 11, C = 515, eps = 1e-6;
    const inp = rng.normalArray(T * C, 2), weight = rng.normalArray(C), out = new Float32Array(T * C);
    await lab().kernels.rmsnorm({ out, inp, weight, T, C, eps });
    const inv = Array.from({ length: T }, (_, t) => 1 / Math.sqrt(inp.subarray(t * C, (t + 1) * C).reduce((a, b) => a + b * b, 0) / C + eps));
    expectClose(out, refOf(T * C, (i) => {
      const y = inp[i] * inv[Math.floor(i / C)] * weight[i % C];
      return [y, Math.abs(y)];
    }), TOL, 'rmsnorm');
  });
});

describe('kernels: activations (cpu)', () => {
  const n = 10007;
  // Wide inputs: the tails (|x| up to ~20) are where a poor exp or erf goes wrong.
  const inp = Float32Array.from(rng.normalArray(n), (x) => 5 * x);
  // erfc(z) for z >= 0 in float64: 1 - Maclaurin series below 3 (cancellation costs at most ~5e-12
  // relative there), the continued fraction of the asymptotic expansion above.
  const erfc = (z: number): number => {
    if (z < 3) {
      let term = z, sum = z;
      for (let k = 1; k < 80; k++) {
        term *= (-z * z) / k;
        sum += term / (2 * k + 1);
      }
      return 1 - (2 / Math.sqrt(Math.PI)) * sum;
    }
    let cf = 0;
    for (let k = 60; k >= 1; k--) cf = (k / 2) / (z + cf);
    return Math.exp(-z * z) / Math.sqrt(Math.PI) / (z + cf);
  };
  // References in forms that are exact in both tails: 0.5 x (1 + erf) = x (1 - erfc/2) for x >= 0
  // and 0.5 x erfc(|x|/sqrt2) below; 0.5 x (1 + tanh u) = x sigmoid(2u).
  const cases: [string, 'quickGelu' | 'gelu' | 'geluTanh' | 'silu', (x: number) => number][] = [
    ['quick_gelu', 'quickGelu', (x) => x / (1 + Math.exp(-1.702 * x))],
    ['gelu (erf)', 'gelu', (x) => (x >= 0 ? x * (1 - erfc(x / Math.SQRT2) / 2) : 0.5 * x * erfc(-x / Math.SQRT2))],
    ['gelu (tanh)', 'geluTanh', (x) => x / (1 + Math.exp(-2 * Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)))],
    ['silu', 'silu', (x) => x / (1 + Math.exp(-x))],
  ];
  for (const [name, fn, f] of cases) {
    // Relative to |f(x)| everywhere, far tails included; the 1e-36 floor is where fp32 exp flushes to 0.
    it(`${name} matches within ${TOL} of |f(x)|, tails included`, async () => {
      const out = new Float32Array(n);
      await lab().kernels[fn]({ out, inp, n });
      expectClose(out, refOf(n, (i) => [f(inp[i]), Math.abs(f(inp[i])) + 1e-36 / TOL]), TOL, name, (i) => `x=${inp[i]}`);
    });
  }
  it('swiglu = silu(gate) * up, in place over gate', async () => {
    const gate = rng.normalArray(n, 4), up = rng.normalArray(n), g0 = gate.slice();
    await lab().kernels.swiglu({ out: gate, gate, up, n });
    expectClose(gate, refOf(n, (i) => {
      const y = (g0[i] / (1 + Math.exp(-g0[i]))) * up[i];
      return [y, Math.abs(y)];
    }), TOL, 'swiglu');
  });
  it('relu is max(x, 0), exactly, and its backward passes dout where x > 0', async () => {
    const x = Float32Array.from([...inp.subarray(0, 1000), 0, -0, 1e-30, -1e-30]);
    const out = new Float32Array(x.length), dout = rng.normalArray(x.length), dinp = new Float32Array(x.length);
    await lab().kernels.relu({ out, inp: x, n: x.length });
    await lab().trainKernels.reluBackward({ dinp, dout, inp: x, n: x.length });
    for (let i = 0; i < x.length; i++) {
      expect(out[i], `relu(${x[i]})`).to.equal(x[i] > 0 ? x[i] : x[i] === 0 ? x[i] : 0);
      expect(dinp[i], `relu'(${x[i]})`).to.equal(x[i] > 0 ? dout[i] : 0);
    }
    expect(out.filter((v) => v > 0).length).to.be.within(400, 600);  // the inputs have both signs
  });
  it('add is a += b', async () => {
    const a = rng.normalArray(n), b = rng.normalArray(n), a0 = a.slice();
    await lab().kernels.add({ a, b, n });
    for (let i = 0; i < n; i++) expect(a[i]).to.equal(Math.fround(a0[i] + b[i]));
  });
});

describe('kernels.rope (cpu)', () => {
  // HF computes inv_freq = 1 / theta^(arange(0, hd, 2) / hd) and the angle position * inv_freq in fp32,
  // then cos/sin of that fp32 angle; the reference mirrors those roundings and evaluates the rest in float64.
  function refRope(x: Float32Array, pos: BigInt64Array, T: number, H: number, hd: number, ldx: number, theta: number): Ref {
    const half = hd / 2;
    const value = Float64Array.from(x), mag = Float64Array.from(x, Math.abs);
    for (let t = 0; t < T; t++) {
      for (let i = 0; i < half; i++) {
        const inv = Math.fround(1 / Math.fround(theta ** Math.fround((2 * i) / hd)));
        const ang = Math.fround(Number(pos[t]) * inv);
        const c = Math.cos(ang), s = Math.sin(ang);
        for (let h = 0; h < H; h++) {
          const o = t * ldx + h * hd + i;
          const a = x[o], b = x[o + half];
          value[o] = a * c - b * s;
          value[o + half] = b * c + a * s;
          mag[o] = mag[o + half] = Math.abs(a * c) + Math.abs(b * s) + Math.abs(b * c) + Math.abs(a * s);
        }
      }
    }
    return { value, mag };
  }
  for (const theta of [1e4, 1e6]) {
    it(`theta=${theta}: strided rows (q inside a fused QKV row), positions up to 4000`, async () => {
      const T = 13, H = 3, hd = 16, ldx = H * hd + 40;
      const x = rng.normalArray(T * ldx);
      const pos = BigInt64Array.from({ length: T }, (_, t) => BigInt(t === 0 ? 0 : rng.int(1, 4000)));
      const ref = refRope(x, pos, T, H, hd, ldx, theta);
      await lab().kernels.rope({ x, positions: pos, T, H, hd, ldx, theta });
      expectClose(x, ref, TOL, `rope theta=${theta}`, (i) => `x[t=${Math.floor(i / ldx)}, col ${i % ldx}]`);
    });
  }
  it('rejects an odd head dim', async () => {
    expect(() => lab().kernels.rope({ x: new Float32Array(30), positions: new BigInt64Array(2), T: 2, H: 1, hd: 15, theta: 1e4 })).to.throw(
      RangeError, 'kernels.rope.hd is 15 but rotate_half needs an even head dim');
  });
});

describe('kernels: embeddings and log-softmax (cpu)', () => {
  it('embedding gathers rows and rejects an id outside the vocab', async () => {
    const V = 37, C = 19, T = 11;
    const table = rng.normalArray(V * C), ids = BigInt64Array.from({ length: T }, () => BigInt(rng.int(0, V)));
    const out = new Float32Array(T * C);
    await lab().kernels.embedding({ out, ids, table, T, C, V });
    for (let t = 0; t < T; t++) expect(out.subarray(t * C, (t + 1) * C)).to.deep.equal(table.subarray(Number(ids[t]) * C, (Number(ids[t]) + 1) * C));
    ids[4] = 37n;
    expect(() => lab().kernels.embedding({ out, ids, table, T, C, V })).to.throw(
      RangeError, 'kernels.embedding.ids[4] is 37 but must be in [0, 37) (the vocab size V)');
  });

  for (const [Hs, Ws, p, D] of [[28, 21, 7, 10], [84, 70, 14, 19]]) {
    // 12 patches take the few-rows GEMM path, 30 the blocked one.
    it(`patch embedding equals a stride-p convolution (${Hs}x${Ws}, p=${p}, D=${D})`, async () => {
      const img = rng.normalArray(3 * Hs * Ws), weight = rng.normalArray(D * 3 * p * p);
      const gw = Ws / p, P = (Hs / p) * gw;
      const out = new Float32Array(P * D);
      await lab().kernels.patchEmbed({ out, img, weight, Hs, Ws, p, D });
      expectClose(out, refOf(P * D, (i) => {
        const pi = Math.floor(i / D), d = i % D, py = Math.floor(pi / gw), px = pi % gw;
        let s = 0, m = 0;
        for (let c = 0; c < 3; c++) for (let y = 0; y < p; y++) for (let x = 0; x < p; x++) {
          const term = weight[((d * 3 + c) * p + y) * p + x] * img[(c * Hs + py * p + y) * Ws + px * p + x];
          s += term;
          m += Math.abs(term);
        }
        return [s, m];
      }), TOL, 'patchEmbed', (i) => `out[patch ${Math.floor(i / D)}, ${i % D}]`);
  });
  }

  it('log_softmax_gather is stable with large logits', async () => {
    const T = 7, V = 32003;
    // Rows offset by up to 1e4 and spread over ~±60: exp() of the raw logits would overflow.
    const logits = Float32Array.from(rng.normalArray(T * V, 20), (x, i) => x + [0, 1e4, -1e4, 50, 3e3, -7, 88][Math.floor(i / V)]);
    const targets = BigInt64Array.from({ length: T }, (_, t) => BigInt(t === 0 ? V - 1 : rng.int(0, V)));
    const logp = new Float32Array(T);
    await lab().kernels.logSoftmaxGather({ logp, logits, targets, T, V });
    expectClose(logp, refOf(T, (t) => {
      const row = logits.subarray(t * V, (t + 1) * V);
      const mx = row.reduce((a, b) => Math.max(a, b), -Infinity);
      const lse = mx + Math.log(row.reduce((a, b) => a + Math.exp(b - mx), 0));
      // The inputs are fp32: their rounding (~|logit| 2^-24) is what the magnitude scale allows for.
      return [row[Number(targets[t])] - lse, Math.abs(row[Number(targets[t])] - lse) + Math.abs(mx) * 0.1];
    }), TOL, 'log_softmax_gather');
  });
});
