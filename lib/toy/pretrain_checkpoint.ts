// Resumable state of `stic toy pretrain`, one folder per checkpoint under <out>/checkpoints/:
//   step-00000500/state.json              steps done, AdamW's step count, the options that shape the
//                                          trajectory (a resume with others is refused), wall time so far
//   step-00000500/model.safetensors       every parameter, engine (llava-hf) names
//   step-00000500/optimizer.safetensors   AdamW moments: "exp_avg/<name>", "exp_avg_sq/<name>"
// The data needs no state: step s trains on scenes that are a pure function of (seed, s).
// A checkpoint is written into a hidden folder beside the others, every file fsync'ed, and renamed
// into place in one step: a kill at any point leaves no new checkpoint or a complete one. Resume
// reads the newest complete one; the two newest are kept.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';

import { openSafetensors, writeSafetensors } from '../model/safetensors.ts';
import type { PretrainerNative, TensorSourceEntry } from '../native/index.ts';
import { syncDir, writeJsonAtomic } from '../util/atomic_write.ts';

export const PRETRAIN_CHECKPOINTS = 'checkpoints';
const FORMAT = 'stic-toy-pretrain-checkpoint';
const VERSION = 1;

export interface PretrainState {
  format: typeof FORMAT;
  version: number;
  /** Optimizer steps done. */
  step: number;
  adamStep: number;
  /** Options that shape the run; a resume must match them exactly. */
  options: Record<string, unknown>;
  /** Training wall time of the steps done (seconds, summed over resumed runs). */
  seconds: number;
}

function folderName(step: number): string {
  return `step-${String(step).padStart(8, '0')}`;
}

/** Writes the checkpoint of `state.step` atomically and keeps the `keep` newest. Returns its folder. */
export async function writePretrainCheckpoint(out: string, state: Omit<PretrainState, 'format' | 'version' | 'adamStep'>, p: PretrainerNative, keep = 2): Promise<string> {
  const root = path.join(out, PRETRAIN_CHECKPOINTS);
  await mkdir(root, { recursive: true });
  const final = path.join(root, folderName(state.step));
  const tmp = path.join(root, `.tmp-${folderName(state.step)}-${process.pid}-${randomBytes(4).toString('hex')}`);
  await mkdir(tmp);
  try {
    const info = p.tensorInfo();
    const [param, m, v] = [await p.getTensors('param'), await p.getTensors('exp_avg'), await p.getTensors('exp_avg_sq')];
    await writeSafetensors(path.join(tmp, 'model.safetensors'), info.map((t, i) => ({ name: t.name, dtype: 'F32' as const, shape: t.shape, data: param[i] })));
    const moments = info.flatMap((t, i) => [
      { name: `exp_avg/${t.name}`, dtype: 'F32' as const, shape: t.shape, data: m[i] },
      { name: `exp_avg_sq/${t.name}`, dtype: 'F32' as const, shape: t.shape, data: v[i] },
    ]);
    await writeSafetensors(path.join(tmp, 'optimizer.safetensors'), moments);
    const full: PretrainState = { format: FORMAT, version: VERSION, ...state, adamStep: p.getStep() };
    await writeJsonAtomic(path.join(tmp, 'state.json'), full);
    await rm(final, { recursive: true, force: true }); // only a leftover of an earlier run over this folder
    await rename(tmp, final);
    await syncDir(root);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
  const names = await readdir(root);
  for (const n of names.filter((x) => x.startsWith('.tmp-step-') && !x.includes(`-${process.pid}-`))) await rm(path.join(root, n), { recursive: true, force: true });
  for (const n of names.filter((x) => /^step-\d+$/.test(x)).sort().reverse().slice(keep)) await rm(path.join(root, n), { recursive: true, force: true });
  return final;
}

/** The newest complete checkpoint of `out`, or null. */
export async function latestPretrainCheckpoint(out: string): Promise<{ dir: string; state: PretrainState } | null> {
  const root = path.join(out, PRETRAIN_CHECKPOINTS);
  let names: string[];
  try {
    names = await readdir(root);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  const newest = names.filter((x) => /^step-\d+$/.test(x)).sort().reverse()[0];
  if (newest === undefined) return null;
  const dir = path.join(root, newest);
  const file = path.join(dir, 'state.json');
  let state: PretrainState;
  try {
    state = JSON.parse(await readFile(file, 'utf8')) as PretrainState;
  } catch (err) {
    throw new Error(`${file}: expected a pretraining checkpoint state (JSON) but it cannot be read (${(err as Error).message}); move ${dir} away to resume from an older one`);
  }
  if (state.format !== FORMAT || state.version !== VERSION) {
    throw new Error(`${file}: expected a ${FORMAT} version ${VERSION} state but found format ${JSON.stringify(state.format)} version ${JSON.stringify(state.version)}`);
  }
  return { dir, state };
}

/** The first option whose value differs, as "name: checkpoint X, now Y", or null when all match. */
export function optionMismatch(saved: Record<string, unknown>, now: Record<string, unknown>): string | null {
  for (const k of [...new Set([...Object.keys(saved), ...Object.keys(now)])].sort()) {
    const a = JSON.stringify(saved[k]);
    const b = JSON.stringify(now[k]);
    if (a !== b) return `${k}: the checkpoint was written with ${a ?? 'no value'}, this run has ${b ?? 'no value'}`;
  }
  return null;
}

/** Loads a checkpoint's parameters and moments into `p` (native reads) and sets AdamW's step. */
export async function restorePretrainCheckpoint(p: PretrainerNative, dir: string, state: PretrainState): Promise<void> {
  const model = await openSafetensors(path.join(dir, 'model.safetensors'));
  const opt = await openSafetensors(path.join(dir, 'optimizer.safetensors'));
  const entries = (file: typeof model, prefix: string): TensorSourceEntry[] =>
    p.tensorInfo().map((t) => {
      const e = file.tensors.get(`${prefix}${t.name}`);
      if (!e) throw new Error(`${file.file}: expected tensor "${prefix}${t.name}" but it is missing`);
      return { ...e, name: t.name };
    });
  await p.readTensors('param', entries(model, ''));
  await p.readTensors('exp_avg', entries(opt, 'exp_avg/'));
  await p.readTensors('exp_avg_sq', entries(opt, 'exp_avg_sq/'));
  p.setStep(state.adamStep);
  await p.zeroGrad();
}
