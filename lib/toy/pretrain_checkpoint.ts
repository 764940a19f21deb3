// The checkpoints of `stic toy pretrain`, under <out>/checkpoints/, written and found by
// lib/train/checkpoint.ts; what is theirs:
//   step-00000500/state.json              PretrainState: besides the steps and options, the training
//                                          wall time so far
//   step-00000500/model.safetensors       every parameter, engine (llava-hf) names, float32
// The data needs no state: step s trains on scenes that are a pure function of (seed, s).
import path from 'node:path';

import { openSafetensors, writeSafetensors } from '../model/safetensors.ts';
import type { PretrainerNative, PretrainTensorInfo, TensorSourceEntry } from '../native/index.ts';
import { type CheckpointFormat, type TrainerSnapshot, checkedEntries, momentEntries, optionDifferences, snapshotTrainer, writeCheckpoint } from '../train/checkpoint.ts';

const MODEL_FILE = 'model.safetensors';

export const PRETRAIN_CHECKPOINTS: CheckpointFormat = { format: 'stic-toy-pretrain-checkpoint', version: 1, root: (out) => path.join(out, 'checkpoints') };

/** Checkpoints kept, the newest. */
export const PRETRAIN_KEEP = 2;

export interface PretrainState {
  format: 'stic-toy-pretrain-checkpoint';
  version: number;
  /** Optimizer steps done. */
  step: number;
  adamStep: number;
  /** Options that shape the run; a resume must match them exactly. */
  options: Record<string, unknown>;
  /** Training wall time of the steps done (seconds, summed over resumed runs). */
  seconds: number;
}

/** Writes the checkpoint of `state.step` atomically and keeps the `keep` newest. Returns its folder. */
export async function writePretrainCheckpoint(out: string, state: Omit<PretrainState, 'format' | 'version' | 'adamStep'>, p: PretrainerNative, keep = PRETRAIN_KEEP): Promise<string> {
  const snap: TrainerSnapshot<PretrainTensorInfo> = await snapshotTrainer(p);
  const full: PretrainState = { format: 'stic-toy-pretrain-checkpoint', version: PRETRAIN_CHECKPOINTS.version, ...state, adamStep: snap.adamStep };
  const writeParams = (dir: string) =>
    writeSafetensors(
      path.join(dir, MODEL_FILE),
      snap.info.map((t, i) => ({ name: t.name, dtype: 'F32' as const, shape: t.shape, data: snap.param[i] })),
    );
  return writeCheckpoint(out, PRETRAIN_CHECKPOINTS, full, snap, writeParams, keep);
}

/**
 * Why a checkpoint written with `saved` options cannot be resumed by a run with `now`: the first
 * option that differs, as "name: the checkpoint was written with X, this run has Y"; null when all
 * match. `later`: options added after checkpoints were first written, with the value a checkpoint
 * that lacks one ran with.
 */
export function optionMismatch(saved: Record<string, unknown>, now: Record<string, unknown>, later: Record<string, unknown>): string | null {
  const d = optionDifferences(saved, now, later)[0];
  return d === undefined ? null : `${d.name}: the checkpoint was written with ${d.saved ?? 'no value'}, this run has ${d.now ?? 'no value'}`;
}

/** Loads a checkpoint's parameters and moments into `p` (native reads, no copy through JS) and sets AdamW's step. */
export async function restorePretrainCheckpoint(p: PretrainerNative, dir: string, state: PretrainState): Promise<void> {
  const info = p.tensorInfo();
  // The native reads name each source by its tensor (a moment's entry is named "exp_avg/<name>").
  const sources = (entries: TensorSourceEntry[]) => entries.map((e, i) => ({ ...e, name: info[i].name }));
  const params = checkedEntries(await openSafetensors(path.join(dir, MODEL_FILE)), info);
  const moments = await momentEntries(dir, info);
  await p.readTensors('param', sources(params));
  await p.readTensors('exp_avg', sources(moments.expAvg));
  await p.readTensors('exp_avg_sq', sources(moments.expAvgSq));
  p.setStep(state.adamStep);
  await p.zeroGrad();
}
