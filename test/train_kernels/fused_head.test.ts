// The fused chunked linear + log-softmax + gather head against a plain float64 reference that
// materialises the [T, V] logits: logp, lse, the gathered index and dh, in label and top-alt
// modes, for chunk sizes that do not divide T, ignored rows (target < 0), rows with a zero
// gradient, the saved-Jacobian and the recompute backward, large logits; dh also against finite
// differences; the benchmark's three paths (fused, fused-recompute, naive) and their byte counts.
// Legend: T rows, D hidden, V vocab, j_t the gathered index, g_t = dL/dlogp_t.
import { expect } from 'chai';

import { native } from '../../lib/native/index.ts';
import type { RejectedLogpMode } from '../../lib/native/index.ts';
import { makeRng } from '../helpers/rng.ts';
import { expectGrad, expectThrowExact, f64, finiteDiff, linearF, logSoftmaxRows } from './reference.ts';

const rng = makeRng(31337);
const tk = () => native().trainKernels;
const IGNORE = -100n;

interface Ref { logp: Float64Array; lse: Float64Array; gathered: BigInt64Array; dh: Float64Array }

/** Float64 reference: materialise logits, log-softmax, gather j_t, dh_t = g_t (W[j_t] - softmax_t W). */
function headRef(h: ArrayLike<number>, W: Float32Array, targets: BigInt64Array, g: Float32Array, T: number, D: number, V: number, mode: RejectedLogpMode): Ref {
  const logits = linearF(h, W, null, T, D, V);
  const ls = logSoftmaxRows(logits, T, V);
  const ref: Ref = { logp: new Float64Array(T), lse: new Float64Array(T), gathered: new BigInt64Array(T).fill(-1n), dh: new Float64Array(T * D) };
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
      for (let d = 0; d < D; d++) ref.dh[t * D + d] += coef * W[v * D + d];
    }
  }
  return ref;
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

async function checkHead(T: number, D: number, V: number, chunk: number, mode: RejectedLogpMode, spread = 1): Promise<void> {
  const { h, W, targets, g } = makeCase(T, D, V, spread);
  const ref = headRef(h, W, targets, g, T, D, V, mode);
  const label = `head T=${T} D=${D} V=${V} chunk=${chunk} ${mode}`;
  const logp = new Float32Array(T), lse = new Float32Array(T), gathered = new BigInt64Array(T), jac = new Float32Array(T * D);
  const rep = await tk().fusedHeadForward({ logp, gathered, lse, jac, h, W, targets, T, D, V, chunk, mode });
  expect(Array.from(gathered), `${label} gathered`).to.deep.equal(Array.from(ref.gathered));
  expectGrad(logp, ref.logp, `${label} logp`, 1e-5, 1e-6);
  expectGrad(lse, ref.lse, `${label} lse`, 1e-6, 1e-7);
  expect(rep.workspaceBytes).to.equal(chunk * 8 + (chunk * V + 2 * chunk * D) * 4);
  const saved = new Float32Array(T * D), recomputed = rng.normalArray(T * D); // stale values must be overwritten
  await tk().fusedHeadBackwardSaved({ dh: saved, dlogp: g, jac, T, D });
  await tk().fusedHeadBackward({ dh: recomputed, dlogp: g, h, W, gathered, lse, T, D, V, chunk });
  expectGrad(saved, ref.dh, `${label} dh (saved Jacobian)`);
  expectGrad(recomputed, ref.dh, `${label} dh (recomputed logits)`);
  // logp without the Jacobian is the same computation.
  const logp2 = new Float32Array(T);
  await tk().fusedHeadForward({ logp: logp2, gathered, lse, h, W, targets, T, D, V, chunk, mode });
  expect(Array.from(logp2)).to.deep.equal(Array.from(logp));
}

describe('trainKernels: fused linear + log-softmax + gather head (cpu)', () => {
  for (const mode of ['label', 'top-alt'] as const) {
    it(`${mode}: chunks of 5 over T=13 (a remainder chunk), ignored rows and zero-gradient rows`, async () => {
      await checkHead(13, 24, 97, 5, mode);
    });
    it(`${mode}: one row per chunk, and one chunk larger than T`, async () => {
      await checkHead(7, 24, 97, 1, mode);
      await checkHead(11, 24, 97, 64, mode);
    });
  }
  it('stays accurate with large logits (|logit| ~ 50, stable softmax)', async () => {
    await checkHead(9, 24, 97, 4, 'label', 8);
  });

  it('dh matches finite differences of sum_t g_t logp_t in float64', async () => {
    const T = 8, D = 24, V = 97;
    const { h, W, targets, g } = makeCase(T, D, V);
    const logp = new Float32Array(T), lse = new Float32Array(T), gathered = new BigInt64Array(T), dh = new Float32Array(T * D);
    await tk().fusedHeadForward({ logp, gathered, lse, h, W, targets, T, D, V, chunk: 3 });
    await tk().fusedHeadBackward({ dh, dlogp: g, h, W, gathered, lse, T, D, V, chunk: 3 });
    const hh = f64(h);
    const loss = () => {
      const r = headRef(hh, W, targets, g, T, D, V, 'label');
      let s = 0;
      for (let t = 0; t < T; t++) s += g[t] * r.logp[t];
      return s;
    };
    expectGrad(dh, finiteDiff(hh, loss), 'fused head dh vs finite differences');
  });

  it('the benchmark paths (fused, fused-recompute, naive) agree with the reference and count their bytes', async () => {
    const T = 10, D = 24, V = 97, chunk = 4;
    const { h, W, targets, g } = makeCase(T, D, V);
    const ref = headRef(h, W, targets, g, T, D, V, 'label');
    const expectBytes = { 'fused': chunk * 8 + (chunk * V + 2 * chunk * D) * 4 + T * 12 + T * D * 4, 'fused-recompute': chunk * 8 + (chunk * V + 2 * chunk * D) * 4 + T * 12, 'naive': T * V * 4 };
    for (const path of ['fused', 'fused-recompute', 'naive'] as const) {
      const logp = new Float32Array(T), dh = new Float32Array(T * D);
      const rep = await tk().headStep({ path, logp, dh, dlogp: g, h, W, targets, T, D, V, chunk });
      expectGrad(logp, ref.logp, `${path} logp`, 1e-5, 1e-6);
      expectGrad(dh, ref.dh, `${path} dh`);
      expect(rep.workspaceBytes, `${path} bytes`).to.equal(expectBytes[path]);
      expect(rep.forwardMs).to.be.at.least(0);
    }
  });

  it('rejects targets beyond the vocab and an unknown mode with exact messages', () => {
    const a = new Float32Array(256), T = 4, D = 2, V = 7;
    const targets = BigInt64Array.from([1n, -100n, 6n, 7n]);
    expectThrowExact(() => tk().fusedHeadForward({ logp: a, gathered: new BigInt64Array(T), lse: a, h: a, W: a, targets, T, D, V }), RangeError,
      'trainKernels.fusedHeadForward.targets[3] is 7 but must be negative (ignored) or in [0, 7) (the vocab size V)');
    expectThrowExact(() => tk().fusedHeadForward({ logp: a, gathered: new BigInt64Array(T), lse: a, h: a, W: a, targets: new BigInt64Array(T), T, D, V, mode: 'top2' as RejectedLogpMode }), TypeError,
      'Expected \'label\' or \'top-alt\' for trainKernels.fusedHeadForward.mode but received a string "top2"');
    expectThrowExact(() => tk().fusedHeadBackward({ dh: a, dlogp: a, h: a, W: new Float32Array(13), gathered: new BigInt64Array(T), lse: a, T, D, V }), RangeError,
      'trainKernels.fusedHeadBackward.W holds 13 elements but T=4, D=2, V=7 need 14');
  });
});
