// Backward kernels against central finite differences in float64, on odd shapes with random inputs:
// linear, RMSNorm, LayerNorm, the activations, SwiGLU, rotary embeddings and the embedding table.
// Also the accumulation contract (parameter gradients +=, activation gradients overwritten),
// in-place aliasing where documented, determinism across thread counts and the argument errors.
// Legend: T tokens, C channels, K in, N out, H heads, hd head dim, V vocab rows.
import { expect } from 'chai';

import { native } from '../../lib/native/index.ts';
import { makeRng } from '../helpers/rng.ts';
import { activationsF, dot, expectGrad, expectThrowExact, f64, finiteDiff, layernormF, linearF, rmsnormF, ropeF } from './grad_reference.ts';
import { lab } from '../helpers/lab.ts';

const rng = makeRng(4242);
const tk = () => lab().trainKernels;

/** prior + delta, element by element: what an accumulated (+=) gradient must equal. */
const plus = (prior: Float32Array, delta: ArrayLike<number>) => Float64Array.from(delta, (d, i) => prior[i] + d);

describe('trainKernels: linear backward (cpu)', () => {
  it('dinp, dweight and dbias match finite differences; parameter gradients accumulate', async () => {
    const T = 11, K = 24, N = 13;
    const inp = rng.normalArray(T * K), weight = rng.normalArray(N * K, 0.5), bias = rng.normalArray(N);
    const G = rng.normalArray(T * N);
    const x = f64(inp), w = f64(weight), b = f64(bias);
    const loss = () => dot(G, linearF(x, w, b, T, K, N));
    const priorW = rng.normalArray(N * K), priorB = rng.normalArray(N);
    const dinp = rng.normalArray(T * K), dweight = Float32Array.from(priorW), dbias = Float32Array.from(priorB);
    await tk().linearBackward({ dinp, dweight, dbias, dout: G, inp, weight, T, K, N });
    expectGrad(dinp, finiteDiff(x, loss), 'linear dinp');
    expectGrad(dweight, plus(priorW, finiteDiff(w, loss)), 'linear dweight (accumulated)');
    expectGrad(dbias, plus(priorB, finiteDiff(b, loss)), 'linear dbias (accumulated)');
  });

  it('skips null gradients (frozen weight, first layer) and handles the rows path (T <= 16) and a large T', async () => {
    for (const T of [3, 37]) {
      const K = 24, N = 7;
      const inp = rng.normalArray(T * K), weight = rng.normalArray(N * K), G = rng.normalArray(T * N);
      const dinp = new Float32Array(T * K);
      await tk().linearBackward({ dinp, dout: G, inp, weight, T, K, N });
      const x = f64(inp);
      expectGrad(dinp, finiteDiff(x, () => dot(G, linearF(x, weight, null, T, K, N))), `linear dinp T=${T}`);
      const dweight = new Float32Array(N * K);
      await tk().linearBackward({ dweight, dout: G, inp, weight, T, K, N });
      const w = f64(weight);
      expectGrad(dweight, finiteDiff(w, () => dot(G, linearF(inp, w, null, T, K, N))), `linear dweight T=${T}`);
    }
  });
});

describe('trainKernels: norms backward (cpu)', () => {
  it('rmsnorm: dinp and accumulated dweight match finite differences', async () => {
    const T = 9, C = 24, eps = 1e-5;
    const inp = rng.normalArray(T * C), weight = Float32Array.from(rng.normalArray(C), (v) => 1 + 0.3 * v);
    const G = rng.normalArray(T * C);
    const x = f64(inp), w = f64(weight);
    const loss = () => dot(G, rmsnormF(x, w, T, C, eps));
    const prior = rng.normalArray(C), dweight = Float32Array.from(prior), dinp = new Float32Array(T * C);
    await tk().rmsnormBackward({ dinp, dweight, dout: G, inp, weight, T, C, eps });
    expectGrad(dinp, finiteDiff(x, loss), 'rmsnorm dinp');
    expectGrad(dweight, plus(prior, finiteDiff(w, loss)), 'rmsnorm dweight');
  });

  it('layernorm: dinp, dweight, dbias match finite differences, with an offset mean', async () => {
    const T = 13, C = 24, eps = 1e-5;
    const inp = Float32Array.from(rng.normalArray(T * C), (v) => 2 * v + 5);
    const weight = rng.normalArray(C), bias = rng.normalArray(C), G = rng.normalArray(T * C);
    const x = f64(inp), w = f64(weight), b = f64(bias);
    const loss = () => dot(G, layernormF(x, w, b, T, C, eps));
    const dinp = new Float32Array(T * C), dweight = new Float32Array(C), dbias = new Float32Array(C);
    await tk().layernormBackward({ dinp, dweight, dbias, dout: G, inp, weight, T, C, eps });
    expectGrad(dinp, finiteDiff(x, loss), 'layernorm dinp');
    expectGrad(dweight, finiteDiff(w, loss), 'layernorm dweight');
    expectGrad(dbias, finiteDiff(b, loss), 'layernorm dbias');
  });

  it('dinp may alias dout, a frozen weight is skipped, and results do not depend on the thread count', async () => {
    const T = 7, C = 200, eps = 1e-6;
    const inp = rng.normalArray(T * C), weight = rng.normalArray(C), G = rng.normalArray(T * C);
    const separate = new Float32Array(T * C);
    await tk().rmsnormBackward({ dinp: separate, dout: G, inp, weight, T, C, eps });
    const aliased = Float32Array.from(G);
    await tk().rmsnormBackward({ dinp: aliased, dout: aliased, inp, weight, T, C, eps });
    expect(Array.from(aliased)).to.deep.equal(Array.from(separate));
    const runs: Float32Array[] = [];
    const defaultThreads = native().setThreads(0); // 0 selects the default and returns it
    try {
      for (const threads of [1, 2]) {
        native().setThreads(threads);
        const dw = new Float32Array(C), db = new Float32Array(C), dx = new Float32Array(T * C);
        await tk().layernormBackward({ dinp: dx, dweight: dw, dbias: db, dout: G, inp, weight, T, C, eps });
        runs.push(Float32Array.from([...dx, ...dw, ...db]));
      }
    } finally {
      native().setThreads(defaultThreads);
    }
    expect(Buffer.from(runs[0].buffer).equals(Buffer.from(runs[1].buffer)), 'bit-identical on 1 and 2 threads').to.equal(true);
  });
});

describe('trainKernels: activation backward (cpu)', () => {
  for (const [name, f] of Object.entries(activationsF)) {
    it(`${name}: dinp matches finite differences (and may alias dout)`, async () => {
      const n = 97;
      const inp = rng.normalArray(n, 2), G = rng.normalArray(n);
      const dinp = Float32Array.from(G); // aliased: dinp === dout
      const fn = (tk() as unknown as Record<string, (a: object) => Promise<void>>)[`${name}Backward`];
      await fn({ dinp, dout: dinp, inp, n });
      const x = f64(inp);
      // Elementwise: L = sum_i G_i f(x_i), so coordinate i's central difference only moves its own term.
      const h = 1e-5;
      const ref = Float64Array.from(x, (xi, i) => (G[i] * (f(xi + h) - f(xi - h))) / (2 * h));
      expectGrad(dinp, ref, `${name} dinp`, 1e-4, 1e-6);
    });
  }

  it('swiglu: dgate and dup match finite differences', async () => {
    const n = 91;
    const gate = rng.normalArray(n, 2), up = rng.normalArray(n), G = rng.normalArray(n);
    const dgate = new Float32Array(n), dup = new Float32Array(n);
    await tk().swigluBackward({ dgate, dup, dout: G, gate, up, n });
    const g = f64(gate), u = f64(up);
    const loss = () => dot(G, Float64Array.from(g, (x, i) => activationsF.silu(x) * u[i]));
    expectGrad(dgate, finiteDiff(g, loss), 'swiglu dgate');
    expectGrad(dup, finiteDiff(u, loss), 'swiglu dup');
  });
});

describe('trainKernels: rope and embedding backward (cpu)', () => {
  it('rope: the in-place inverse rotation matches finite differences, with a row stride', async () => {
    const T = 7, H = 3, hd = 8, ldx = H * hd + 5, theta = 10000;
    const positions = BigInt64Array.from({ length: T }, (_, t) => BigInt(3 * t + 2));
    const x = f64(rng.normalArray(T * ldx)), G = rng.normalArray(T * H * hd);
    const ref = finiteDiff(x, () => dot(G, ropeF(x, positions, T, H, hd, ldx, theta)));
    const dx = rng.normalArray(T * ldx); // padding columns must stay untouched
    const pad = Float32Array.from(dx);
    for (let t = 0; t < T; t++) dx.set(G.subarray(t * H * hd, (t + 1) * H * hd), t * ldx);
    await tk().ropeBackward({ dx, positions, T, H, hd, ldx, theta });
    const got = new Float64Array(T * ldx);
    for (let t = 0; t < T; t++) {
      for (let j = 0; j < ldx; j++) got[t * ldx + j] = j < H * hd ? dx[t * ldx + j] : dx[t * ldx + j] - pad[t * ldx + j];
    }
    expectGrad(got, ref, 'rope dx'); // ref is 0 on the padding: untouched means got - pad = 0 there
  });

  it('embedding: scatter-add with repeated ids matches finite differences, accumulated', async () => {
    const T = 12, C = 24, V = 97;
    const ids = BigInt64Array.from({ length: T }, (_, t) => BigInt(t % 4 === 0 ? 5 : rng.int(0, V)));
    const table = f64(rng.normalArray(V * C)), G = rng.normalArray(T * C);
    const loss = () => {
      let s = 0;
      for (let t = 0; t < T; t++) for (let c = 0; c < C; c++) s += G[t * C + c] * table[Number(ids[t]) * C + c];
      return s;
    };
    const prior = rng.normalArray(V * C), dtable = Float32Array.from(prior);
    await tk().embeddingBackward({ dtable, dout: G, ids, T, C, V });
    expectGrad(dtable, plus(prior, finiteDiff(table, loss)), 'embedding dtable');
  });
});

describe('trainKernels: argument errors', () => {
  it('names the array, its length and the sizes that needed more', () => {
    const a = new Float32Array(10);
    expectThrowExact(() => tk().linearBackward({ dout: a, inp: a, weight: a, T: 3, K: 3, N: 5 }), RangeError,
      'trainKernels.linearBackward.dout holds 10 elements but T=3, K=3, N=5 need 15');
  });
  it('rejects sizes, ids out of range and an odd rope head dim with exact messages', () => {
    const a = new Float32Array(64);
    expectThrowExact(() => tk().rmsnormBackward({ dinp: a, dout: a, inp: a, weight: a, T: 0, C: 4, eps: 1e-5 }), TypeError,
      'Expected a positive integer for trainKernels.rmsnormBackward.T but received 0');
    expectThrowExact(() => tk().layernormBackward({ dinp: a, dout: a, inp: a, weight: new Float64Array(4) as unknown as Float32Array, T: 2, C: 4, eps: 1e-5 }), TypeError,
      'Expected a Float32Array for trainKernels.layernormBackward.weight but received a typed array');
    expectThrowExact(() => tk().embeddingBackward({ dtable: a, dout: a, ids: BigInt64Array.from([1n, 9n]), T: 2, C: 4, V: 9 }), RangeError,
      'trainKernels.embeddingBackward.ids[1] is 9 but must be in [0, 9) (the vocab size V)');
    expectThrowExact(() => tk().ropeBackward({ dx: a, positions: new BigInt64Array(2), T: 2, H: 1, hd: 5, theta: 1e4 }), RangeError,
      'trainKernels.ropeBackward: hd is 5 but rotate_half needs an even head dim');
    expectThrowExact(() => tk().swigluBackward({ dgate: a, dup: a, dout: a, gate: a, up: new Float32Array(3), n: 5 }), RangeError,
      'trainKernels.swigluBackward.up holds 3 elements but n=5 need 5');
  });
});
