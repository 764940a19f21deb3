// Data-parallel training (stic dpo, stic sft under several ranks). A step's global batch is the
// one-process run's, micro-batch for micro-batch: micro-batch u of the step is computed by rank
// u mod W with its one-process dropout key, so each micro-batch's gradient is the one a single
// process computes; the ranks' accumulated gradients are then summed in rank order (comm.ts) and
// every rank applies the same AdamW update to the same sum. Parameters stay identical on every rank
// without being sent; only the resume point is sent from rank 0, which alone reads checkpoints.
// The options that shape a step (batch size, accumulation) do not depend on W, so a checkpoint
// resumes under any number of ranks, and the result differs from one process's only by the order
// in which the micro-batch gradients are added (float rounding, ~1e-7 relative).
import type { NativeTrainTensorInfo, NativeTrainTensorKind } from '../native/contract.ts';
import type { Comm } from './comm.ts';

/** The part of a trainer the collectives need (lib/train/trainer_api.ts). */
export interface TensorHolder {
  tensorInfo(): NativeTrainTensorInfo[];
  getTensors(kind: NativeTrainTensorKind, names?: string[]): Promise<Float32Array[]>;
  setTensors(kind: NativeTrainTensorKind, tensors: { name: string; data: Float32Array }[]): Promise<void>;
  getStep(): number;
  setStep(step: number): void;
}

/** Whether this rank computes micro-batch u of a step (u: its index before any is dropped). */
export function ownsMicro(comm: Pick<Comm, 'rank' | 'size'>, u: number): boolean {
  return u % comm.size === comm.rank;
}

/** The image failures every rank met loading its micro-batches, merged: the same map everywhere. */
export async function mergeFailures(comm: Comm, mine: Map<string, string>): Promise<Map<string, string>> {
  if (comm.size === 1) return mine;
  const all = await comm.allgatherJson([...mine.entries()]);
  return new Map(all.flat());
}

export interface MicroMetrics {
  /** The micro-batch's index in the step (after empty ones are dropped). */
  j: number;
  metrics: Record<string, number>;
}

/** Every micro-batch's metrics, summed in micro-batch order as one process sums them. */
export async function sumMicroMetrics(comm: Comm, mine: MicroMetrics[]): Promise<Record<string, number>> {
  let all = mine;
  if (comm.size > 1) {
    // JSON has no NaN or Infinity: a diverged loss travels as a string and comes back a number.
    const wire = mine.map((m) => ({ j: m.j, metrics: Object.entries(m.metrics).map(([k, v]) => [k, Number.isFinite(v) ? v : String(v)] as const) }));
    all = (await comm.allgatherJson(wire)).flat().map((m) => ({ j: m.j, metrics: Object.fromEntries(m.metrics.map(([k, v]) => [k, Number(v)])) }));
  }
  const sums: Record<string, number> = {};
  for (const m of [...all].sort((a, b) => a.j - b.j)) for (const [k, v] of Object.entries(m.metrics)) sums[k] = (sums[k] ?? 0) + v;
  return sums;
}

// The tensors of `kind` as one buffer (tensorInfo order) and back.
async function flatTensors(t: TensorHolder, kind: NativeTrainTensorKind): Promise<Float32Array> {
  const parts = await t.getTensors(kind);
  const flat = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    flat.set(p, at);
    at += p.length;
  }
  return flat;
}

async function setFlatTensors(t: TensorHolder, kind: NativeTrainTensorKind, flat: Float32Array): Promise<void> {
  const info = t.tensorInfo();
  const sizes = info.map((i) => i.shape.reduce((a, b) => a * b, 1));
  const total = sizes.reduce((a, b) => a + b, 0);
  if (total !== flat.length) throw new Error(`internal: ${kind} buffer holds ${flat.length} floats but the trainer's tensors ${total}`);
  let at = 0;
  const tensors = info.map((i, k) => {
    const data = flat.subarray(at, at + sizes[k]);
    at += sizes[k];
    return { name: i.name, data };
  });
  await t.setTensors(kind, tensors);
}

/** Replaces every rank's accumulated gradients with their sum over the ranks. */
export async function allReduceGradients(comm: Comm, t: TensorHolder): Promise<void> {
  if (comm.size === 1) return;
  const grads = await flatTensors(t, 'grad');
  await comm.allreduceSum(grads);
  await setFlatTensors(t, 'grad', grads);
}

/** Rank 0's parameters, AdamW moments and step count on every rank (after rank 0 resumed). */
export async function broadcastTrainerState(comm: Comm, t: TensorHolder): Promise<void> {
  if (comm.size === 1) return;
  for (const kind of ['param', 'exp_avg', 'exp_avg_sq'] as const) {
    const mine = comm.rank === 0 ? await flatTensors(t, kind) : null;
    const got = await comm.broadcastBytes(0, mine ? new Uint8Array(mine.buffer, mine.byteOffset, mine.byteLength) : null);
    if (comm.rank !== 0) await setFlatTensors(t, kind, new Float32Array(got.buffer.slice(got.byteOffset, got.byteOffset + got.byteLength)));
  }
  t.setStep(await comm.broadcastJson(0, t.getStep()));
}
