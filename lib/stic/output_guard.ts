// What every writing command does before it writes: refuse outputs that would overwrite or change
// one of its inputs (lib/util/output_safety.ts), then hold the lock of each output's folder for the
// whole command (lib/util/output_lock.ts): the folder an output lives in, so `stic run` on runs/a
// and `stic dpo --out runs/a/dpo` exclude each other too.
import path from 'node:path';

import { type NamedPath, assertOutputSafe } from '../util/output_safety.ts';
import { isWriter } from '../dist/launch.ts';
import { withOutputLocks } from '../util/output_lock.ts';
import { stageOutputs } from './pipeline.ts';
import { type RunConfig, STAGES } from './run_config.ts';

export type { NamedPath } from '../util/output_safety.ts';

/** A flag's path as a NamedPath, or undefined when the flag was not given. */
export function flagPath(flag: string, value: unknown): NamedPath | undefined {
  return typeof value === 'string' && value !== '' ? { name: `--${flag}`, path: value } : undefined;
}

/** The inputs every model command reads: --model, and --adapter and --prompts when given. */
export function modelInputs(args: { model?: string; adapter?: string; prompts?: string }): (NamedPath | undefined)[] {
  return [flagPath('model', args.model), flagPath('adapter', args.adapter), flagPath('prompts', args.prompts)];
}

/** The folder whose lock guards `output` (a file or a folder): the folder that holds it. */
export function lockFolderOf(output: string): string {
  return path.dirname(path.resolve(output));
}

/** Throws when an output would overwrite or change an input (what guardOutputs checks first). */
export function checkOutputs(io: { inputs: readonly (NamedPath | undefined)[]; outputs: readonly (NamedPath | undefined)[] }): void {
  assertOutputSafe(io.inputs, io.outputs);
}

/**
 * Runs `body` once the outputs are known not to touch the inputs, holding the locks of the outputs'
 * folders; the locks are released when it ends, however it ends.
 */
export async function guardOutputs<T>(
  io: { inputs: readonly (NamedPath | undefined)[]; outputs: readonly (NamedPath | undefined)[]; /** Folders to lock instead of the outputs' parents. */ lock?: string[] },
  body: () => Promise<T>,
): Promise<T> {
  const outputs = io.outputs.filter((o): o is NamedPath => o !== undefined);
  assertOutputSafe(io.inputs, outputs);
  // Under several ranks (lib/dist) rank 0 alone writes, so it alone holds the locks: the other
  // ranks of the same command would otherwise find rank 0's lock and stop.
  if (!isWriter()) return body();
  return withOutputLocks(io.lock ?? outputs.map((o) => lockFolderOf(o.path)), body);
}

/** The inputs a `stic run` config names and the stage outputs it writes, for guardOutputs. */
export function pipelineIO(cfg: RunConfig): { inputs: (NamedPath | undefined)[]; outputs: NamedPath[] } {
  const key = (k: string, v: string | undefined): NamedPath | undefined => (v === undefined ? undefined : { name: `${cfg.file}: ${k}`, path: v });
  const given = (stage: (typeof STAGES)[number]) => cfg.stages.includes(stage);
  const inputs = [
    { name: 'the config', path: cfg.file },
    key('model', cfg.model),
    key('prompts', cfg.prompts),
    given('pref') ? key('pref.images', cfg.pref.images) : undefined,
    key('pref.image-root', cfg.pref.imageRoot),
    given('describe') || given('infuse') ? key('describe.instructions', cfg.describe.instructions) : undefined,
    key('describe.image-root', cfg.describe.imageRoot),
    key('dpo.image-root', cfg.dpo.imageRoot),
    key('sft.image-root', cfg.sft.imageRoot),
  ];
  const outs = stageOutputs(cfg.out);
  return { inputs, outputs: STAGES.map((s) => ({ name: `${cfg.file}: out (${s})`, path: outs[s] })) };
}
