// The fused chunked linear + log-softmax + gather head (forward + backward) against the naive head
// that materialises the [T, V] logits and keeps them for the backward as autograd would. Both are
// native, same SGEMM, same exp, same threads, from the same run; T = 2 x 1000 response tokens (a
// chosen and a rejected sequence), V = 32000 (Llama/Mistral vocab). Time is the native wall time of
// forward + backward (best of interleaved rounds); memory is the scratch bytes each path allocates,
// counted where it allocates them (fused: [chunk, vocabChunk] logits + packed rows + row statistics +
// lse/index, plus the [T, D] Jacobian in the saved-Jacobian variant; naive: the [T, V] logits).
// Legend: T rows, D hidden, V vocab.
import type { BenchRow } from './harness.ts';
import { makeRng } from '../test/helpers/rng.ts';
import { lab } from '../test/helpers/lab.ts';

export const title = 'Fused linear + log-softmax + gather head vs naive logits (CPU, fwd + bwd)';

const T = 2000, V = 32000, REPEATS = 2;
type Path = 'fused' | 'fused-recompute' | 'naive';

interface Run { ms: number; bytes: number; logp: Float32Array; dh: Float32Array }

/** One forward + backward of `path`: native wall time and counted scratch. */
async function once(path: Path, D: number, h: Float32Array, W: Float32Array, targets: BigInt64Array, dlogp: Float32Array, into?: Run): Promise<Run> {
  const r = into ?? { ms: Infinity, bytes: 0, logp: new Float32Array(T), dh: new Float32Array(T * D) };
  const rep = await lab().trainKernels.headStep({ path, logp: r.logp, dh: r.dh, dlogp, h, W, targets, T, D, V });
  r.ms = Math.min(r.ms, rep.forwardMs + rep.backwardMs);
  r.bytes = rep.workspaceBytes;
  return r;
}

function maxRelDiff(a: Float32Array, b: Float32Array): number {
  let scale = 0, diff = 0;
  for (let i = 0; i < a.length; i++) {
    scale = Math.max(scale, Math.abs(b[i]));
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
  }
  return diff / scale;
}

export async function run(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const MiB = 1024 * 1024;
  for (const D of [512, 1024]) {
    const rng = makeRng(D);
    const h = rng.normalArray(T * D), W = rng.normalArray(V * D, 1 / Math.sqrt(D));
    const targets = BigInt64Array.from({ length: T }, () => BigInt(rng.int(0, V)));
    const dlogp = rng.normalArray(T, 0.01);
    // Interleaved rounds, best of each: the machine is shared, and a burst of other work should
    // not land on one path only.
    let naive: Run | undefined, fused: Run | undefined, recompute: Run | undefined;
    for (let i = 0; i < REPEATS; i++) {
      naive = await once('naive', D, h, W, targets, dlogp, naive);
      fused = await once('fused', D, h, W, targets, dlogp, fused);
      recompute = await once('fused-recompute', D, h, W, targets, dlogp, recompute);
    }
    if (!naive || !fused || !recompute) throw new Error('no benchmark round ran');
    const same = `max rel diff vs naive: logp ${maxRelDiff(fused.logp, naive.logp).toExponential(1)}, dh ${maxRelDiff(fused.dh, naive.dh).toExponential(1)} (recompute: ${maxRelDiff(recompute.dh, naive.dh).toExponential(1)})`;
    const shape = `T=${T} D=${D} V=${V}`;
    rows.push({ name: `time ${shape}, saved Jacobian`, unit: 'ms', baselineName: 'naive [T,V] logits', baseline: naive.ms, ours: fused.ms, higherIsBetter: false, note: same });
    rows.push({ name: `time ${shape}, recomputed logits`, unit: 'ms', baselineName: 'naive [T,V] logits', baseline: naive.ms, ours: recompute.ms, higherIsBetter: false });
    rows.push({ name: `scratch ${shape}, saved Jacobian`, unit: 'MiB', baselineName: 'naive [T,V] logits', baseline: naive.bytes / MiB, ours: fused.bytes / MiB, higherIsBetter: false });
    rows.push({ name: `scratch ${shape}, recomputed logits`, unit: 'MiB', baselineName: 'naive [T,V] logits', baseline: naive.bytes / MiB, ours: recompute.bytes / MiB, higherIsBetter: false, note: `default blocks (1024 rows x 2048 vocabulary entries); the naive path keeps ${(naive.bytes / MiB).toFixed(0)} MiB of logits from forward to backward` });
  }
  return rows;
}
