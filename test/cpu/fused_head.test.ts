// The fused chunked linear + log-softmax + gather head against a plain float64 reference that
// materialises the [T, V] logits: logp, lse, the gathered index and dh, in label and top-alt
// modes, for row chunks that do not divide T and vocabulary blocks that do not divide V (the
// online softmax across blocks), ignored rows (target < 0), rows with a zero
// gradient, the saved-Jacobian and the recompute backward, large logits; dh also against finite
// differences; the recompute backward's optional lm_head gradient dW (accumulated) against the
// reference and finite differences; the benchmark's three paths (fused, fused-recompute, naive)
// and their byte counts.
// Legend: T rows, D hidden, V vocab, j_t the gathered index, g_t = dL/dlogp_t.
import { expect } from 'chai';

import type { RejectedLogpMode } from '../../lib/native/index.ts';
import { makeRng } from '../helpers/rng.ts';
import { expectGrad, expectThrowExact, f64, finiteDiff, linearF, logSoftmaxRows } from './grad_reference.ts';
import { lab } from '../helpers/lab.ts';

const rng = makeRng(31337);
const tk = () => lab().trainKernels;
const IGNORE = -100n;

interface Ref { logp: Float64Array; lse: Float64Array; gathered: BigInt64Array; dh: Float64Array; dW: Float64Array }

/** Float64 reference: materialise logits, log-softmax, gather j_t, dh_t = g_t (W[j_t] - softmax_t W),
 *  dW = sum_t g_t (onehot(j_t) - softmax_t)^T h_t. */
function headRef(h: ArrayLike<number>, W: ArrayLike<number>, targets: BigInt64Array, g: Float32Array, T: number, D: number, V: number, mode: RejectedLogpMode): Ref {
  const logits = linearF(h, W, null, T, D, V);
  const ls = logSoftmaxRows(logits, T, V);
  const ref: Ref = { logp: new Float64Array(T), lse: new Float64Array(T), gathered: new BigInt64Array(T).fill(-1n), dh: new Float64Array(T * D), dW: new Float64Array(V * D) };
  for (let t = 0; t < T; t++) {
    const target = Number(targets[t]);
    if (target < 0) continue;
    let j = target;
    if (mode === 'top-alt') {
      const order = Array.from({ length: V }, (_, v) => v).sort((a, b) => logits[t * V + b] - logits[t * V + a] || a - b);
      j = order[0] === target ? order[1] : order[0];
    }
    ref.gathered[t] = BigInt(j);
    ref.logp[t] = ls[t * V + j];
    ref.lse[t] = logits[t * V + j] - ls[t * V + j];
    for (let v = 0; v < V; v++) {
      const coef = g[t] * ((v === j ? 1 : 0) - Math.exp(ls[t * V + v]));
      for (let d = 0; d < D; d++) {
        ref.dh[t * D + d] += coef * W[v * D + d];
        ref.dW[v * D + d] += coef * h[t * D + d];
      }
    }
  }
  return ref;
}

// sum_t g_t logp_t of the reference head (the scalar whose gradients the backward computes).
function weightedLogp(h: ArrayLike<number>, W: ArrayLike<number>, targets: BigInt64Array, g: Float32Array, T: number, D: number, V: number): number {
  const r = headRef(h, W, targets, g, T, D, V, 'label');
  let s = 0;
  for (let t = 0; t < T; t++) s += g[t] * r.logp[t];
  return s;
}

function makeCase(T: number, D: number, V: number, spread = 1) {
  const h = rng.normalArray(T * D, spread), W = rng.normalArray(V * D, 0.5);
  const targets = BigInt64Array.from({ length: T }, (_, t) => (t % 5 === 2 ? IGNORE : BigInt(rng.int(0, V))));
  // One row whose label is its own top-1, so top-alt must take the top-2 there.
  const logits = linearF(h, W, null, T, D, V);
  const t1 = targets.findIndex((x) => x >= 0);
  let best = 0;
  for (let v = 1; v < V; v++) if (logits[t1 * V + v] > logits[t1 * V + best]) best = v;
  targets[t1] = BigInt(best);
  const g = Float32Array.from({ length: T }, (_, t) => (t % 4 === 3 ? 0 : rng.normal()));
  return { h, W, targets, g };
}

/** The counted scratch of the fused head: row ids + 48-byte row statistics + [c, b] logits + 2 [c, D] row buffers. */
function workspaceBytes(T: number, D: number, V: number, chunk: number, vocabChunk: number): number {
  const c = Math.min(chunk, T), b = Math.min(vocabChunk, V);
  return c * (8 + 48) + (c * b + 2 * c * D) * 4;
}

async function checkHead(T: number, D: number, V: number, chunk: number, vocabChunk: number, mode: RejectedLogpMode, spread = 1): Promise<void> {
  const { h, W, targets, g } = makeCase(T, D, V, spread);
  const ref = headRef(h, W, targets, g, T, D, V, mode);
  const label = `head T=${T} D=${D} V=${V} chunk=${chunk} vocabChunk=${vocabChunk} ${mode}`;
  const logp = new Float32Array(T), lse = new Float32Array(T), gathered = new BigInt64Array(T), jac = new Float32Array(T * D);
  const rep = await tk().fusedHeadForward({ logp, gathered, lse, jac, h, W, targets, T, D, V, chunk, vocabChunk, mode });
  expect(Array.from(gathered), `${label} gathered`).to.deep.equal(Array.from(ref.gathered));
  expectGrad(logp, ref.logp, `${label} logp`, 1e-5, 1e-6);
  expectGrad(lse, ref.lse, `${label} lse`, 1e-6, 1e-7);
  expect(rep.workspaceBytes).to.equal(workspaceBytes(T, D, V, chunk, vocabChunk));
  const saved = new Float32Array(T * D), recomputed = rng.normalArray(T * D); // stale values must be overwritten
  await tk().fusedHeadBackwardSaved({ dh: saved, dlogp: g, jac, T, D });
  await tk().fusedHeadBackward({ dh: recomputed, dlogp: g, h, W, gathered, lse, T, D, V, chunk, vocabChunk });
  expectGrad(saved, ref.dh, `${label} dh (saved Jacobian)`);
  expectGrad(recomputed, ref.dh, `${label} dh (recomputed logits)`);
  // With dW: the same dh, and dW accumulated onto what it held.
  const dW0 = rng.normalArray(V * D), dW = Float32Array.from(dW0), dh2 = new Float32Array(T * D);
  await tk().fusedHeadBackward({ dh: dh2, dW, dlogp: g, h, W, gathered, lse, T, D, V, chunk, vocabChunk });
  expect(Array.from(dh2), `${label} dh with dW`).to.deep.equal(Array.from(recomputed));
  expectGrad(Float64Array.from(dW, (x, i) => x - dW0[i]), ref.dW, `${label} dW (accumulated)`, 1e-4, 1e-5);
  // logp without the Jacobian is the same computation.
  const logp2 = new Float32Array(T);
  await tk().fusedHeadForward({ logp: logp2, gathered, lse, h, W, targets, T, D, V, chunk, vocabChunk, mode });
  expect(Array.from(logp2)).to.deep.equal(Array.from(logp));
}

describe('trainKernels: fused linear + log-softmax + gather head (cpu)', () => {
  for (const mode of ['label', 'top-alt'] as const) {
    it(`${mode}: chunks of 5 rows over T=13 and blocks of 16 over V=97 (remainders), ignored and zero-gradient rows`, async () => {
      await checkHead(13, 24, 97, 5, 16, mode);
    });
    it(`${mode}: one row per chunk, one vocabulary entry per block, and chunks larger than T and V`, async () => {
      await checkHead(7, 24, 97, 1, 40, mode);
      await checkHead(5, 24, 97, 2, 1, mode);
      await checkHead(11, 24, 97, 64, 4096, mode);
    });
  }
  it('stays accurate with large logits (|logit| ~ 50, stable softmax)', async () => {
    await checkHead(9, 24, 97, 4, 13, 'label', 8);
    await checkHead(9, 24, 97, 4, 13, 'top-alt', 8);
  });

  it('top-alt breaks an exact tie between top tokens by the lowest index, across vocabulary blocks', async () => {
    const T = 2, D = 24, V = 97;
    const h = rng.normalArray(T * D), W = rng.normalArray(V * D, 0.5);
    for (const v of [20, 70]) for (let k = 0; k < D; k++) W[v * D + k] = 0.5 * h[k]; // row 0: logits 20 and 70 tie at the top
    const targets = BigInt64Array.from([20n, 5n]); // row 0: the label is the top-1, so the top-2 (70); row 1: its own top-1
    const logp = new Float32Array(T), lse = new Float32Array(T), gathered = new BigInt64Array(T);
    await tk().fusedHeadForward({ logp, gathered, lse, h, W, targets, T, D, V, chunk: 2, vocabChunk: 50, mode: 'top-alt' });
    expect(gathered[0]).to.equal(70n);
    expect(Number.isFinite(logp[0]) && logp[0] < 0).to.equal(true);
    const ref = headRef(h, W, BigInt64Array.from([5n, 5n]), new Float32Array(T), T, D, V, 'top-alt');
    expect(gathered[1]).to.equal(ref.gathered[1]);
    // With the label elsewhere, row 0 takes the lower of the two tied indices.
    await tk().fusedHeadForward({ logp, gathered, lse, h, W, targets: BigInt64Array.from([5n, 5n]), T, D, V, chunk: 2, vocabChunk: 50, mode: 'top-alt' });
    expect(gathered[0]).to.equal(20n);
  });

  it('dh matches finite differences of sum_t g_t logp_t in float64', async () => {
    const T = 8, D = 24, V = 97;
    const { h, W, targets, g } = makeCase(T, D, V);
    const logp = new Float32Array(T), lse = new Float32Array(T), gathered = new BigInt64Array(T), dh = new Float32Array(T * D);
    await tk().fusedHeadForward({ logp, gathered, lse, h, W, targets, T, D, V, chunk: 3, vocabChunk: 30 });
    await tk().fusedHeadBackward({ dh, dlogp: g, h, W, gathered, lse, T, D, V, chunk: 3, vocabChunk: 30 });
    const hh = f64(h);
    expectGrad(dh, finiteDiff(hh, () => weightedLogp(hh, W, targets, g, T, D, V)), 'fused head dh vs finite differences');
  });

  it('dW (the lm_head gradient) matches finite differences of sum_t g_t logp_t in float64', async () => {
    const T = 8, D = 24, V = 97;
    const { h, W, targets, g } = makeCase(T, D, V);
    const logp = new Float32Array(T), lse = new Float32Array(T), gathered = new BigInt64Array(T);
    const dh = new Float32Array(T * D), dW = new Float32Array(V * D);
    await tk().fusedHeadForward({ logp, gathered, lse, h, W, targets, T, D, V, chunk: 3, vocabChunk: 30 });
    await tk().fusedHeadBackward({ dh, dW, dlogp: g, h, W, gathered, lse, T, D, V, chunk: 3, vocabChunk: 30 });
    const ww = f64(W);
    expectGrad(dW, finiteDiff(ww, () => weightedLogp(h, ww, targets, g, T, D, V)), 'fused head dW vs finite differences');
  });

  it('the benchmark paths (fused, fused-recompute, naive) agree with the reference and count their bytes', async () => {
    const T = 10, D = 24, V = 97, chunk = 4, vocabChunk = 32;
    const { h, W, targets, g } = makeCase(T, D, V);
    const ref = headRef(h, W, targets, g, T, D, V, 'label');
    const ws = workspaceBytes(T, D, V, chunk, vocabChunk);
    const expectBytes = { 'fused': ws + T * 12 + T * D * 4, 'fused-recompute': ws + T * 12, 'naive': T * V * 4 };
    for (const path of ['fused', 'fused-recompute', 'naive'] as const) {
      const logp = new Float32Array(T), dh = new Float32Array(T * D);
      const rep = await tk().headStep({ path, logp, dh, dlogp: g, h, W, targets, T, D, V, chunk, vocabChunk });
      expectGrad(logp, ref.logp, `${path} logp`, 1e-5, 1e-6);
      expectGrad(dh, ref.dh, `${path} dh`);
      expect(rep.workspaceBytes, `${path} bytes`).to.equal(expectBytes[path]);
      expect(rep.forwardMs).to.be.at.least(0);
    }
  });

  it('rejects targets beyond the vocab, an unknown mode and a short dW with exact messages', () => {
    const a = new Float32Array(256), T = 4, D = 2, V = 7;
    const targets = BigInt64Array.from([1n, -100n, 6n, 7n]);
    expectThrowExact(() => tk().fusedHeadForward({ logp: a, gathered: new BigInt64Array(T), lse: a, h: a, W: a, targets, T, D, V }), RangeError,
      'trainKernels.fusedHeadForward.targets[3] is 7 but must be negative (ignored) or in [0, 7) (the vocab size V)');
    expectThrowExact(() => tk().fusedHeadForward({ logp: a, gathered: new BigInt64Array(T), lse: a, h: a, W: a, targets: new BigInt64Array(T), T, D, V, mode: 'top2' as RejectedLogpMode }), TypeError,
      'Expected \'label\' or \'top-alt\' for trainKernels.fusedHeadForward.mode but received a string "top2"');
    expectThrowExact(() => tk().fusedHeadBackward({ dh: a, dlogp: a, h: a, W: new Float32Array(13), gathered: new BigInt64Array(T), lse: a, T, D, V }), RangeError,
      'trainKernels.fusedHeadBackward.W holds 13 elements but T=4, D=2, V=7 need 14');
    expectThrowExact(() => tk().fusedHeadBackward({ dh: a, dW: new Float32Array(13), dlogp: a, h: a, W: a, gathered: new BigInt64Array(T), lse: a, T, D, V }), RangeError,
      'trainKernels.fusedHeadBackward.dW holds 13 elements but T=4, D=2, V=7 need 14');
  });
});
