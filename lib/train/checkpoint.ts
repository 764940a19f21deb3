// Resumable training state, one folder per checkpoint under <out>/work/checkpoints/ (work_dir.ts):
//   step-00000050/state.json                  where the run is: optimizer steps done, AdamW's step count,
//                                              data position (epoch, index into that epoch's shuffled
//                                              order, shuffle seed), the options and data fingerprint
//                                              it was written for; the RNG is the seed (data order and
//                                              dropout masks are pure functions of seed, step, micro-batch)
//   step-00000050/adapter_config.json +
//                 adapter_model.safetensors   the LoRA weights (and the trained projector) in PEFT
//                                             layout (a usable adapter)
//   step-00000050/optimizer.safetensors       AdamW moments: "exp_avg/<name>", "exp_avg_sq/<name>"
// A checkpoint is written into a hidden temporary folder beside the others, every file fsync'ed,
// then renamed into place in one step: a kill at any point leaves either no new checkpoint or a
// complete one, never half of one. Resume reads the newest complete one.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';

import { openSafetensors, readTensors, writeSafetensors } from '../model/safetensors.ts';
import { syncDir, writeJsonAtomic } from '../util/atomic_write.ts';
import { ADAPTER_WEIGHTS, type LoraSpec, type NamedTensor, readAdapter, writeAdapter } from './adapter_io.ts';
import type { NativeTrainTensorInfo, Trainer } from './trainer_api.ts';
import { workPath } from './work_dir.ts';

export const CHECKPOINTS_DIR = 'checkpoints';

/** The folder holding `out`'s checkpoints. */
export function checkpointsRoot(out: string): string {
  return workPath(out, CHECKPOINTS_DIR);
}
const STATE_FILE = 'state.json';
const OPTIMIZER_FILE = 'optimizer.safetensors';
const FORMAT = 'stic-train-checkpoint';
const VERSION = 1;

/** Where a run is; everything else is recomputed from the options and the data. */
export interface RunState {
  format: typeof FORMAT;
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

/** Everything the trainer holds that a resume needs, in tensorInfo order. */
export interface TrainerSnapshot {
  info: NativeTrainTensorInfo[];
  param: Float32Array[];
  expAvg: Float32Array[];
  expAvgSq: Float32Array[];
  adamStep: number;
}

export async function snapshotTrainer(trainer: Trainer): Promise<TrainerSnapshot> {
  const info = trainer.tensorInfo();
  return {
    info,
    param: await trainer.getTensors('param'),
    expAvg: await trainer.getTensors('exp_avg'),
    expAvgSq: await trainer.getTensors('exp_avg_sq'),
    adamStep: trainer.getStep(),
  };
}

export async function restoreTrainer(trainer: Trainer, s: TrainerSnapshot): Promise<void> {
  const named = (arrays: Float32Array[]) => s.info.map((t, i) => ({ name: t.name, data: arrays[i] }));
  await trainer.setTensors('param', named(s.param));
  await trainer.setTensors('exp_avg', named(s.expAvg));
  await trainer.setTensors('exp_avg_sq', named(s.expAvgSq));
  trainer.setStep(s.adamStep);
  await trainer.zeroGrad();
}

/** The LoRA and projector parameters of a snapshot as named tensors. */
export function snapshotParams(s: TrainerSnapshot, group: 'lora' | 'projector'): NamedTensor[] {
  return s.info.flatMap((t, i) => (t.group === group ? [{ name: t.name, shape: t.shape, data: s.param[i] }] : []));
}

function checkpointName(step: number): string {
  return `step-${String(step).padStart(8, '0')}`;
}

/**
 * Writes a complete checkpoint for `state.step` atomically and keeps only the `keep` newest.
 * Returns its folder.
 */
export async function writeCheckpoint(out: string, state: RunState, snap: TrainerSnapshot, baseModel: string, keep = 2): Promise<string> {
  const root = checkpointsRoot(out);
  await mkdir(root, { recursive: true });
  const final = path.join(root, checkpointName(state.step));
  const tmp = path.join(root, `.tmp-${checkpointName(state.step)}-${process.pid}-${randomBytes(4).toString('hex')}`);
  await mkdir(tmp);
  try {
    await writeAdapter(tmp, { spec: state.lora, tensors: snapshotParams(snap, 'lora'), baseModel, projector: snapshotParams(snap, 'projector') });
    const moments = snap.info.flatMap((t, i) => [
      { name: `exp_avg/${t.name}`, dtype: 'F32' as const, shape: t.shape, data: snap.expAvg[i] },
      { name: `exp_avg_sq/${t.name}`, dtype: 'F32' as const, shape: t.shape, data: snap.expAvgSq[i] },
    ]);
    await writeSafetensors(path.join(tmp, OPTIMIZER_FILE), moments);
    await writeJsonAtomic(path.join(tmp, STATE_FILE), { ...state, adamStep: snap.adamStep });
    // A folder of that name can only be left over from an earlier run over the same output (started
    // without resume); the new one replaces it.
    await rm(final, { recursive: true, force: true });
    await rename(tmp, final);
    await syncDir(root);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
  await prune(root, keep);
  return final;
}

// Drops all but the `keep` newest checkpoints, and temporary folders of killed writers.
async function prune(root: string, keep: number): Promise<void> {
  const names = await readdir(root);
  for (const n of names.filter((x) => x.startsWith('.tmp-step-') && !x.includes(`-${process.pid}-`))) await rm(path.join(root, n), { recursive: true, force: true });
  const steps = names.filter((n) => /^step-\d+$/.test(n)).sort().reverse();
  for (const n of steps.slice(keep)) await rm(path.join(root, n), { recursive: true, force: true });
}

/** Removes every checkpoint of `out` (a run started without resume). */
export async function clearCheckpoints(out: string): Promise<void> {
  await rm(checkpointsRoot(out), { recursive: true, force: true });
}

/** The newest complete checkpoint of `out`, or null when there is none. */
export async function latestCheckpoint(out: string): Promise<{ dir: string; state: RunState } | null> {
  const root = checkpointsRoot(out);
  let names: string[];
  try {
    names = await readdir(root);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  for (const n of names.filter((x) => /^step-\d+$/.test(x)).sort().reverse()) {
    const dir = path.join(root, n);
    const file = path.join(dir, STATE_FILE);
    let state: RunState;
    try {
      state = JSON.parse(await readFile(file, 'utf8')) as RunState;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // not ours to judge: only complete folders are renamed in
      throw new Error(`${file}: expected a checkpoint state (JSON) but it does not parse (${(err as Error).message}); move ${dir} away to resume from an older one`);
    }
    if (state.format !== FORMAT || state.version !== VERSION) {
      throw new Error(`${file}: expected a ${FORMAT} version ${VERSION} state but found format ${JSON.stringify(state.format)} version ${JSON.stringify(state.version)}`);
    }
    return { dir, state };
  }
  return null;
}

/** Reads a checkpoint's tensors back in `info` order (the trainer's), checking names and shapes. */
export async function readCheckpoint(dir: string, info: NativeTrainTensorInfo[], decoder: Parameters<typeof readAdapter>[1], adamStep: number): Promise<TrainerSnapshot> {
  const adapter = await readAdapter(dir, decoder);
  const params = new Map<string, Float32Array>(adapter.tensors.map((t) => [t.name, t.data]));
  const projectorInfo = info.filter((t) => t.group === 'projector');
  for (const t of projectorInfo) {
    const p = adapter.projector.find((x) => x.name === t.name);
    if (!p) throw new Error(`${path.join(dir, ADAPTER_WEIGHTS)}: expected the trained projector's tensor "${t.name}" but it is missing`);
    params.set(t.name, p.data);
  }
  const optFile = path.join(dir, OPTIMIZER_FILE);
  const opt = await openSafetensors(optFile);
  const entry = (name: string, shape: number[]) => {
    const e = opt.tensors.get(name);
    if (!e) throw new Error(`${optFile}: expected tensor "${name}" but it is missing`);
    if (e.shape.join(',') !== shape.join(',')) throw new Error(`${optFile}: tensor "${name}": expected shape [${shape.join(', ')}] but found [${e.shape.join(', ')}]`);
    return e;
  };
  const expAvg = await readTensors(info.map((t) => entry(`exp_avg/${t.name}`, t.shape)), { as: 'F32' });
  const expAvgSq = await readTensors(info.map((t) => entry(`exp_avg_sq/${t.name}`, t.shape)), { as: 'F32' });
  const param = info.map((t) => {
    const p = params.get(t.name);
    if (!p) throw new Error(`${dir}: expected the trainable tensor "${t.name}" in the checkpoint but it is missing`);
    return p;
  });
  return { info, param, expAvg, expAvgSq, adamStep };
}
