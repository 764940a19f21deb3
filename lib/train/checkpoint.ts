// Resumable training state, one implementation for every run that trains (native/model's one
// Trainer, whatever its spec trains). A run's checkpoints live in one folder (its format says which),
// one sub-folder per checkpoint:
//   step-00000050/state.json              where the run is: the format's name and version, optimizer
//                                          steps done, AdamW's step count, the options that shape the
//                                          trajectory (a resume with others is refused), and the
//                                          format's own fields
//   step-00000050/<the format's files>    the trained parameters, written by the format
//   step-00000050/optimizer.safetensors   AdamW moments: "exp_avg/<name>", "exp_avg_sq/<name>"
// The two formats: the LoRA stages' (lib/train/lora_checkpoint.ts: a PEFT adapter, the data position)
// and the toy pretrainer's (lib/toy/pretrain_checkpoint.ts: every parameter, the wall time).
// A checkpoint is written into a hidden temporary folder beside the others, every file fsync'ed,
// then renamed into place in one step: a kill at any point leaves either no new checkpoint or a
// complete one, never half of one. Resume reads the newest complete one; the `keep` newest are kept.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';

import { type SafetensorsFile, type TensorEntry, openSafetensors, writeSafetensors } from '../model/safetensors.ts';
import type { NativeTrainTensorKind } from '../native/contract.ts';
import { syncDir, writeJsonAtomic } from '../util/atomic_write.ts';

const STATE_FILE = 'state.json';
const OPTIMIZER_FILE = 'optimizer.safetensors';

/** One kind of checkpoint: what its state.json says it is, and where a run keeps them. */
export interface CheckpointFormat {
  format: string;
  version: number;
  /** The folder holding the checkpoints of the run whose output is `out`. */
  root(out: string): string;
}

/** The fields every format's state.json has (each format adds its own). */
export interface CheckpointState {
  format: string;
  version: number;
  /** Optimizer steps done. */
  step: number;
  /** AdamW's bias-correction count (the trainer's getStep()). */
  adamStep: number;
  /** The options that shape the trajectory (a resume with other values is refused). */
  options: Record<string, unknown>;
}

/** A trainable tensor as a trainer lists it (tensorInfo order). */
export interface CheckpointTensor {
  name: string;
  shape: number[];
}

/** What a checkpoint needs of a trainer: the LoRA trainer and the pretrainer alike. */
export interface CheckpointTrainer<I extends CheckpointTensor> {
  tensorInfo(): I[];
  getTensors(kind: NativeTrainTensorKind): Promise<Float32Array[]>;
  setTensors(kind: NativeTrainTensorKind, tensors: { name: string; data: Float32Array }[]): Promise<void>;
  getStep(): number;
  setStep(step: number): void;
  zeroGrad(): Promise<void>;
}

/** Everything a trainer holds that a resume needs, in tensorInfo order (each array: the tensor's shape, row-major). */
export interface TrainerSnapshot<I extends CheckpointTensor = CheckpointTensor> {
  info: I[];
  param: Float32Array[];
  expAvg: Float32Array[];
  expAvgSq: Float32Array[];
  adamStep: number;
}

export async function snapshotTrainer<I extends CheckpointTensor>(trainer: CheckpointTrainer<I>): Promise<TrainerSnapshot<I>> {
  const info = trainer.tensorInfo();
  return {
    info,
    param: await trainer.getTensors('param'),
    expAvg: await trainer.getTensors('exp_avg'),
    expAvgSq: await trainer.getTensors('exp_avg_sq'),
    adamStep: trainer.getStep(),
  };
}

/** Puts a snapshot's parameters, moments and step count into `trainer`, its gradients zeroed. */
export async function restoreTrainer<I extends CheckpointTensor>(trainer: CheckpointTrainer<I>, s: TrainerSnapshot<I>): Promise<void> {
  const named = (arrays: Float32Array[]) => s.info.map((t, i) => ({ name: t.name, data: arrays[i] }));
  await trainer.setTensors('param', named(s.param));
  await trainer.setTensors('exp_avg', named(s.expAvg));
  await trainer.setTensors('exp_avg_sq', named(s.expAvgSq));
  trainer.setStep(s.adamStep);
  await trainer.zeroGrad();
}

function checkpointName(step: number): string {
  return `step-${String(step).padStart(8, '0')}`;
}

/**
 * Writes the checkpoint of `state.step` atomically: the format's files (`writeParams` into the
 * folder it is given), the moments of `snap`, then `state` as state.json (as given, field order
 * kept). Keeps the `keep` newest checkpoints. Returns its folder.
 */
export async function writeCheckpoint(
  out: string,
  format: CheckpointFormat,
  state: CheckpointState,
  snap: TrainerSnapshot,
  writeParams: (dir: string) => Promise<void>,
  keep: number,
): Promise<string> {
  const root = format.root(out);
  await mkdir(root, { recursive: true });
  const final = path.join(root, checkpointName(state.step));
  const tmp = path.join(root, `.tmp-${checkpointName(state.step)}-${process.pid}-${randomBytes(4).toString('hex')}`);
  await mkdir(tmp);
  try {
    await writeParams(tmp);
    await writeMoments(path.join(tmp, OPTIMIZER_FILE), snap);
    await writeJsonAtomic(path.join(tmp, STATE_FILE), state);
    // A folder of that name can only be left over from an earlier run over the same output (started
    // without resume); the new one replaces it.
    await rm(final, { recursive: true, force: true });
    await rename(tmp, final);
    await syncDir(root);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
  await pruneCheckpoints(out, format, keep);
  return final;
}

// Per tensor its first moment, then its second (the order of the file's header and data).
async function writeMoments(file: string, snap: TrainerSnapshot): Promise<void> {
  const moments = snap.info.flatMap((t, i) => [
    { name: `exp_avg/${t.name}`, dtype: 'F32' as const, shape: t.shape, data: snap.expAvg[i] },
    { name: `exp_avg_sq/${t.name}`, dtype: 'F32' as const, shape: t.shape, data: snap.expAvgSq[i] },
  ]);
  await writeSafetensors(file, moments);
}

/**
 * Drops all but the `keep` newest checkpoints of `out`, and temporary folders of killed writers.
 * After every write, and on resume: a run killed between a checkpoint's rename and this leaves one
 * too many, which a resumed run that writes no checkpoint (its last step's was that one) would keep.
 */
export async function pruneCheckpoints(out: string, format: CheckpointFormat, keep: number): Promise<void> {
  const root = format.root(out);
  const names = await readdir(root);
  for (const n of names.filter((x) => x.startsWith('.tmp-step-') && !x.includes(`-${process.pid}-`))) await rm(path.join(root, n), { recursive: true, force: true });
  const steps = names.filter((n) => /^step-\d+$/.test(n)).sort().reverse();
  for (const n of steps.slice(keep)) await rm(path.join(root, n), { recursive: true, force: true });
}

/** Removes every checkpoint of `out` (a run started without resume). */
export async function clearCheckpoints(out: string, format: CheckpointFormat): Promise<void> {
  await rm(format.root(out), { recursive: true, force: true });
}

/** The newest complete checkpoint of `out` in `format`, or null when there is none. */
export async function latestCheckpoint<S extends CheckpointState>(out: string, format: CheckpointFormat): Promise<{ dir: string; state: S } | null> {
  const root = format.root(out);
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
    let state: S;
    try {
      state = JSON.parse(await readFile(file, 'utf8')) as S;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // not ours to judge: only complete folders are renamed in
      throw new Error(`${file}: expected a checkpoint state (JSON) but it does not parse (${(err as Error).message}); move ${dir} away to resume from an older one`);
    }
    if (state.format !== format.format || state.version !== format.version) {
      throw new Error(
        `${file}: expected a ${format.format} version ${format.version} state but found format ${JSON.stringify(state.format)} version ${JSON.stringify(state.version)}`,
      );
    }
    return { dir, state };
  }
  return null;
}

/** The entries of `file` named `<prefix><name>` for each of `info`, in its order, each checked for presence and shape. */
export function checkedEntries(file: SafetensorsFile, info: CheckpointTensor[], prefix = ''): TensorEntry[] {
  return info.map((t) => {
    const name = `${prefix}${t.name}`;
    const e = file.tensors.get(name);
    if (!e) throw new Error(`${file.file}: expected tensor "${name}" but it is missing`);
    if (e.shape.join(',') !== t.shape.join(',')) throw new Error(`${file.file}: tensor "${name}": expected shape [${t.shape.join(', ')}] but found [${e.shape.join(', ')}]`);
    return e;
  });
}

/** Where the moments of a checkpoint are, per tensor of `info` (in its order, checked). */
export async function momentEntries(dir: string, info: CheckpointTensor[]): Promise<{ expAvg: TensorEntry[]; expAvgSq: TensorEntry[] }> {
  const opt = await openSafetensors(path.join(dir, OPTIMIZER_FILE));
  return { expAvg: checkedEntries(opt, info, 'exp_avg/'), expAvgSq: checkedEntries(opt, info, 'exp_avg_sq/') };
}

/** A trajectory option whose value differs: its JSON text in the checkpoint and in this run (undefined: none). */
export interface OptionDifference {
  name: string;
  saved: string | undefined;
  now: string | undefined;
}

/**
 * The options whose values differ between a checkpoint and this run, by name. `later` lists
 * options added after checkpoints were first written, with the value a checkpoint that lacks one
 * ran with (taken when this run has the option).
 */
export function optionDifferences(saved: Record<string, unknown>, now: Record<string, unknown>, later: Record<string, unknown> = {}): OptionDifference[] {
  const had: Record<string, unknown> = { ...saved };
  for (const [k, v] of Object.entries(later)) if (!(k in had) && k in now) had[k] = v;
  const out: OptionDifference[] = [];
  for (const k of [...new Set([...Object.keys(had), ...Object.keys(now)])].sort()) {
    const [a, b] = [JSON.stringify(had[k]), JSON.stringify(now[k])];
    if (a !== b) out.push({ name: k, saved: a, now: b });
  }
  return out;
}
