// The LoRA stages' checkpoints (DPO and SFT), under <out>/work/checkpoints/ (work_dir.ts), written
// and found by lib/train/checkpoint.ts; what is theirs:
//   step-00000050/state.json                  RunState: besides the steps and options, the stage, the
//                                              data position (epoch, index into that epoch's shuffled
//                                              order, shuffle seed) and the data fingerprint, the LoRA
//                                              spec; the RNG is the seed (data order and dropout masks
//                                              are pure functions of seed, step, micro-batch)
//   step-00000050/adapter_config.json +
//                 adapter_model.safetensors   the LoRA weights (and the trained projector) in PEFT
//                                             layout (a usable adapter)
import path from 'node:path';

import { readTensors } from '../model/safetensors.ts';
import { ADAPTER_WEIGHTS, type LoraSpec, type NamedTensor, readAdapter, writeAdapter } from './adapter_io.ts';
import { type CheckpointFormat, type TrainerSnapshot, momentEntries, optionDifferences, writeCheckpoint } from './checkpoint.ts';
import { ADAMW_DEFAULTS } from './train_options.ts';
import type { NativeTrainTensorInfo } from './trainer_api.ts';
import { workPath } from './work_dir.ts';

export const CHECKPOINTS_DIR = 'checkpoints';

export const LORA_CHECKPOINTS: CheckpointFormat = { format: 'stic-train-checkpoint', version: 1, root: (out) => workPath(out, CHECKPOINTS_DIR) };

/** Where a run is; everything else is recomputed from the options and the data. */
export interface RunState {
  format: 'stic-train-checkpoint';
  version: number;
  kind: 'dpo' | 'sft';
  /** Optimizer steps done (rows 0..step-1 of metrics.jsonl are this run's). */
  step: number;
  totalSteps: number;
  /** trainer.getStep() (AdamW's bias-correction count). */
  adamStep: number;
  data: {
    /** Epoch of the next step and the index of its first example in that epoch's shuffled order. */
    epoch: number;
    index: number;
    seed: number;
    examples: number;
    /** sha256 over the tokenised examples (ids, tokens, masks, images): the same data or not. */
    fingerprint: string;
  };
  /** The options that shape the trajectory (a resume with other values is refused). */
  options: Record<string, unknown>;
  lora: LoraSpec;
  trainProjector: boolean;
}

/** The LoRA and projector parameters of a snapshot as named tensors. */
export function snapshotParams(s: TrainerSnapshot<NativeTrainTensorInfo>, group: 'lora' | 'projector'): NamedTensor[] {
  return s.info.flatMap((t, i) => (t.group === group ? [{ name: t.name, shape: t.shape, data: s.param[i] }] : []));
}

/** Writes a complete checkpoint for `state.step` (the adapter of `snap`) and keeps only the `keep` newest. Returns its folder. */
export async function writeLoraCheckpoint(out: string, state: RunState, snap: TrainerSnapshot<NativeTrainTensorInfo>, baseModel: string, keep = 2): Promise<string> {
  const writeParams = (dir: string) => writeAdapter(dir, { spec: state.lora, tensors: snapshotParams(snap, 'lora'), baseModel, projector: snapshotParams(snap, 'projector') });
  return writeCheckpoint(out, LORA_CHECKPOINTS, { ...state, adamStep: snap.adamStep }, snap, writeParams, keep);
}

/** Reads a checkpoint's tensors back in `info` order (the trainer's), checking names and shapes. */
export async function readLoraCheckpoint(dir: string, info: NativeTrainTensorInfo[], decoder: Parameters<typeof readAdapter>[1], adamStep: number): Promise<TrainerSnapshot<NativeTrainTensorInfo>> {
  const adapter = await readAdapter(dir, decoder);
  const params = new Map<string, Float32Array>(adapter.tensors.map((t) => [t.name, t.data]));
  for (const t of info.filter((x) => x.group === 'projector')) {
    const p = adapter.projector.find((x) => x.name === t.name);
    if (!p) throw new Error(`${path.join(dir, ADAPTER_WEIGHTS)}: expected the trained projector's tensor "${t.name}" but it is missing`);
    params.set(t.name, p.data);
  }
  const moments = await momentEntries(dir, info);
  const expAvg = await readTensors(moments.expAvg, { as: 'F32' });
  const expAvgSq = await readTensors(moments.expAvgSq, { as: 'F32' });
  const param = info.map((t) => {
    const p = params.get(t.name);
    if (!p) throw new Error(`${dir}: expected the trainable tensor "${t.name}" in the checkpoint but it is missing`);
    return p;
  });
  return { info, param, expAvg, expAvgSq, adamStep };
}

/** What differs between a checkpoint's run and this one (`total` steps), as "what: checkpoint X, now Y" phrases. */
export function runDifferences(had: RunState, now: RunState, total: number): string[] {
  const d: string[] = [];
  const cmp = (what: string, a: unknown, b: unknown) => {
    if (JSON.stringify(a) !== JSON.stringify(b)) d.push(`${what}: checkpoint ${JSON.stringify(a)}, now ${JSON.stringify(b)}`);
  };
  cmp('stage', had.kind, now.kind);
  cmp('examples', had.data.examples, now.data.examples);
  if (had.data.examples === now.data.examples) cmp('data fingerprint', had.data.fingerprint, now.data.fingerprint);
  cmp('total steps', had.totalSteps, total);
  cmp('lora', had.lora, now.lora);
  cmp('train projector', had.trainProjector, now.trainProjector);
  // A checkpoint written before the AdamW options existed ran with their defaults (ADAMW_DEFAULTS).
  for (const o of optionDifferences(had.options, now.options, ADAMW_DEFAULTS)) d.push(`${o.name}: checkpoint ${o.saved}, now ${o.now}`);
  return d;
}
