// LoRA linear y = x W^T + bias + scale (dropout(x) A^T) B^T: forward against a float64 reference,
// backward (dx, dA, dB) against central finite differences, with dropout 0 and with dropout (the
// mask from a TypeScript twin of native/core/counter_rng.h, bit-exact); the mask is a pure
// function of its key (same key, same mask; any field changed, another mask) at the right rate.
// Legend: T rows, K in, N out, r rank.
import { expect } from 'chai';

import { makeRng } from '../helpers/rng.ts';
import { dot, expectGrad, expectThrowExact, f64, finiteDiff, linearF } from './grad_reference.ts';
import { lab, type DropoutKey } from '../helpers/lab.ts';

const rng = makeRng(77);
const tk = () => lab().trainKernels;

// ---- TypeScript twin of native/core/counter_rng.h ------------------------------------------------
const MASK64 = (1n << 64n) - 1n;
const GOLDEN = 0x9e3779b97f4a7c15n;
function mix64(z: bigint): bigint {
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
  return z ^ (z >> 31n);
}
function hash32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}
function streamOf(key: DropoutKey): bigint {
  let h = mix64((BigInt(key.seed) + GOLDEN) & MASK64);
  for (const f of [key.step ?? 0, key.micro ?? 0, key.layer ?? 0, key.module ?? 0]) h = mix64(h ^ ((BigInt(f) + GOLDEN) & MASK64));
  return h;
}
/** The dropped input as native computes it: x * (1/(1-p)) where u(i) >= p, else x * 0 (torch's x * mask / (1-p)), in float32. */
function dropoutRef(x: Float32Array, p: number, key: DropoutKey): Float32Array {
  const s = streamOf(key), k0 = Number(s & 0xffffffffn), k1 = Number(s >> 32n);
  const keepScale = Math.fround(1 / Math.fround(1 - Math.fround(p)));
  return Float32Array.from(x, (xi, i) => {
    const u = (hash32((hash32((i ^ k0) >>> 0) + k1) >>> 0) >>> 8) / 16777216;
    return Math.fround(xi * (u >= Math.fround(p) ? keepScale : 0));
  });
}

/** y[T,N] in float64 with a given dropped input xd (x itself when dropout is 0). */
function loraF(x: ArrayLike<number>, xd: ArrayLike<number>, W: ArrayLike<number>, bias: ArrayLike<number> | null,
  A: ArrayLike<number>, B: ArrayLike<number>, T: number, K: number, N: number, r: number, scale: number): Float64Array {
  const y = linearF(x, W, bias, T, K, N);
  const xa = linearF(xd, A, null, T, K, r);
  const low = linearF(xa, B, null, T, r, N);
  return Float64Array.from(y, (v, i) => v + scale * low[i]);
}

function makeLayer(T: number, K: number, N: number, r: number) {
  return { x: rng.normalArray(T * K), W: rng.normalArray(N * K, 0.3), bias: rng.normalArray(N), A: rng.normalArray(r * K, 0.3), B: rng.normalArray(N * r, 0.3) };
}

describe('trainKernels: LoRA linear (cpu)', () => {
  it('forward and backward match float64 references and finite differences with dropout 0', async () => {
    const T = 9, K = 24, N = 13, r = 4, scale = 2;
    const { x, W, bias, A, B } = makeLayer(T, K, N, r);
    const out = new Float32Array(T * N), xa = new Float32Array(T * r);
    await tk().loraForward({ out, xa, x, W, bias, A, B, T, K, N, r, scale });
    expectGrad(out, loraF(x, x, W, bias, A, B, T, K, N, r, scale), 'lora forward', 1e-5, 1e-6);
    expectGrad(xa, linearF(x, A, null, T, K, r), 'lora xa', 1e-5, 1e-6);

    const G = rng.normalArray(T * N);
    const priorA = rng.normalArray(r * K), priorB = rng.normalArray(N * r);
    const dx = new Float32Array(T * K), dA = Float32Array.from(priorA), dB = Float32Array.from(priorB);
    await tk().loraBackward({ dx, dA, dB, dout: G, x, xa, W, A, B, T, K, N, r, scale });
    const xx = f64(x), aa = f64(A), bb = f64(B);
    const loss = () => dot(G, loraF(xx, xx, W, bias, aa, bb, T, K, N, r, scale));
    expectGrad(dx, finiteDiff(xx, loss), 'lora dx');
    expectGrad(dA, Float64Array.from(finiteDiff(aa, loss), (g, i) => g + priorA[i]), 'lora dA (accumulated)');
    expectGrad(dB, Float64Array.from(finiteDiff(bb, loss), (g, i) => g + priorB[i]), 'lora dB (accumulated)');
  });

  it('with dropout: the forward uses the keyed mask and the backward reuses it (finite differences at a fixed mask)', async () => {
    const T = 7, K = 24, N = 11, r = 3, scale = 1.5, p = 0.3;
    const key: DropoutKey = { seed: 1234, step: 5, micro: 1, layer: 2, module: 6 };
    const { x, W, A, B } = makeLayer(T, K, N, r);
    const out = new Float32Array(T * N), xa = new Float32Array(T * r);
    await tk().loraForward({ out, xa, x, W, A, B, T, K, N, r, scale, dropout: p, key });
    const xd = dropoutRef(x, p, key);
    expectGrad(out, loraF(x, xd, W, null, A, B, T, K, N, r, scale), 'lora forward with dropout', 1e-5, 1e-6);

    const G = rng.normalArray(T * N);
    const dx = new Float32Array(T * K), dA = new Float32Array(r * K), dB = new Float32Array(N * r);
    await tk().loraBackward({ dx, dA, dB, dout: G, x, xa, W, A, B, T, K, N, r, scale, dropout: p, key });
    // The dropped input is linear in x with the fixed mask: xd = m * x / (1-p).
    const factor = Float64Array.from(x, (xi, i) => (xi === 0 ? 0 : xd[i] / xi));
    const xx = f64(x), aa = f64(A), bb = f64(B);
    const loss = () => dot(G, loraF(xx, Float64Array.from(xx, (v, i) => v * factor[i]), W, null, aa, bb, T, K, N, r, scale));
    expectGrad(dx, finiteDiff(xx, loss), 'lora dx with dropout');
    expectGrad(dA, finiteDiff(aa, loss), 'lora dA with dropout');
    expectGrad(dB, finiteDiff(bb, loss), 'lora dB with dropout');
  });

  it('the dropout mask is a pure function of (seed, step, micro, layer, module), bit-exact with the twin, at rate p', async () => {
    const T = 40, K = 50, p = 0.25;
    const x = Float32Array.from(rng.normalArray(T * K), (v) => v + 3); // no zeros: a zero output means dropped
    const draw = async (key: DropoutKey) => {
      const out = new Float32Array(T * K);
      await tk().loraDropout({ out, x, T, K, p, key });
      return out;
    };
    const base: DropoutKey = { seed: 2 ** 40 + 7, step: 3, micro: 0, layer: 4, module: 2 };
    const a = await draw(base), again = await draw({ ...base });
    expect(Buffer.from(again.buffer).equals(Buffer.from(a.buffer)), 'same key, same mask').to.equal(true);
    expect(Array.from(a)).to.deep.equal(Array.from(dropoutRef(x, p, base)));
    const dropped = a.filter((v) => v === 0).length / (T * K);
    expect(dropped).to.be.within(p - 0.04, p + 0.04); // 2000 draws: sigma ~0.01
    for (const field of ['seed', 'step', 'micro', 'layer', 'module'] as const) {
      const other = await draw({ ...base, [field]: Number(base[field] ?? 0) + 1 });
      const same = other.filter((v, i) => (v === 0) === (a[i] === 0)).length / (T * K);
      expect(same, `changing ${field} draws another mask`).to.be.below(0.8); // independent masks agree ~62.5%
    }
  });

  it("the ops table's delta pair is the linear's low-rank path, added into a strided output (dx accumulated)", async () => {
    const T = 6, K = 20, N = 9, r = 3, scale = 2.5, ldo = 2 * N + 1;
    const shape = { T, K, N, r, scale, dropout: 0.3, key: { seed: 77, step: 2, layer: 1 } };
    const { x, A, B } = makeLayer(T, K, N, r), zeroW = new Float32Array(N * K);
    const low = new Float32Array(T * N), xa = new Float32Array(T * r);
    await tk().loraForward({ ...shape, out: low, xa, x, W: zeroW, A, B }); // x 0^T + the low-rank path
    const fused0 = rng.normalArray(T * ldo), fused = Float32Array.from(fused0), xa2 = new Float32Array(T * r);
    await tk().loraDeltaForward({ ...shape, out: fused.subarray(N), ldo, xa: xa2, x, A, B });
    expect(Array.from(xa2)).to.deep.equal(Array.from(xa));
    const want = Float64Array.from(fused0, (v, i) => (i % ldo >= N && i % ldo < 2 * N ? v + low[Math.floor(i / ldo) * N + (i % ldo) - N] : v));
    expectGrad(fused, want, 'delta in its column range of the fused output', 1e-6, 1e-6);

    const dout = rng.normalArray(T * N), prior = rng.normalArray(T * K);
    const lin = { dx: new Float32Array(T * K), dA: new Float32Array(r * K), dB: new Float32Array(N * r) };
    await tk().loraBackward({ ...shape, ...lin, dout, x, xa, W: zeroW, A, B }); // dx = dout 0 + the low-rank dx
    const strided = new Float32Array(T * ldo);
    for (let t = 0; t < T; t++) strided.set(dout.subarray(t * N, (t + 1) * N), t * ldo);
    const delta = { dx: Float32Array.from(prior), dA: new Float32Array(r * K), dB: new Float32Array(N * r) };
    await tk().loraDeltaBackward({ ...shape, ...delta, dout: strided, ldd: ldo, x, xa, A, B });
    expectGrad(delta.dx, Float64Array.from(prior, (v, i) => v + lin.dx[i]), 'dx accumulated onto its prior', 1e-6, 1e-6);
    expectGrad(delta.dA, lin.dA, 'dA', 1e-6, 1e-6);
    expectGrad(delta.dB, lin.dB, 'dB', 1e-6, 1e-6);
  });

  it('rejects a dropout outside [0, 1) and short arrays with exact messages', () => {
    const a = new Float32Array(64);
    expectThrowExact(() => tk().loraDropout({ out: a, x: a, T: 2, K: 3, p: 1 }), TypeError,
      'Expected a probability in [0, 1) for trainKernels.loraDropout.p but received 1');
    expectThrowExact(() => tk().loraForward({ out: a, xa: new Float32Array(5), x: a, W: a, A: a, B: a, T: 3, K: 4, N: 5, r: 2, scale: 1 }), RangeError,
      'trainKernels.loraForward.xa holds 5 elements but T=3, K=4, N=5, r=2 need 6');
    expectThrowExact(() => tk().loraBackward({ dout: a, x: a, xa: a, W: a, A: a, B: a, T: 3, K: 4, N: 5, r: 2, scale: 1, key: { seed: 1.5 } }), TypeError,
      'Expected an integer for trainKernels.loraBackward.key.seed but received 1.5');
  });
});
