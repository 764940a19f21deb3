// What the stage commands share: the flags every stage takes, and the environment they run in
// (prompts, progress bars on stderr, messages on stderr; results on stdout only when asked).
import type { Options as YargsOption } from 'yargs';

import { type ProgressFactory, progressFactory, startProgress } from '../util/progress.ts';
import { type ResolvedOptions, resolvedLines } from './command_options.ts';
import { type OptionSpec, type OptionTable, THREADS_SPEC, checkThreads } from './options.ts';
import { loadPrompts } from '../data/prompts.ts';
import type { StageEnv } from './stages/stage_io.ts';

export const MODEL_FLAG: YargsOption = { type: 'string', demandOption: true, describe: 'Model directory in Hugging Face layout (config.json, *.safetensors, tokenizer files)' };
export const PROMPTS_FLAG: YargsOption = { type: 'string', describe: 'JSON file overriding any of the prompts: {"detailed", "plain", "hallucination", "infusion"} (default: the built-in prompts, lib/data/prompts.ts)' };
export const THREADS_FLAG: YargsOption = { type: 'number', describe: 'CPU threads, at most 1024 (default: all cores, or STIC_THREADS)' };
export const IMAGE_ASPECT_FLAG: YargsOption = {
  choices: ['anyres', 'pad'],
  default: 'anyres',
  describe: 'LLaVA-NeXT (v1.6) models: anyres = tile each image at its best grid resolution (transformers\' processor, a token count that depends on the image); pad = one square tile padded with the mean colour (576 tokens at 336 px; how the public STIC code trains v1.6). Other models have one way and ignore it',
};

export const DTYPE_FLAG: YargsOption = {
  choices: ['stored', 'fp32'],
  default: 'stored',
  describe: 'How the weight matrices are held: stored = in the checkpoint\'s dtype (BF16/F16 mapped from the file, half the memory of fp32; math in fp32); fp32 = widened to fp32 at load (for checking)',
};

export const ADAPTER_FLAG: YargsOption = {
  type: 'string',
  describe: 'A LoRA adapter folder (stic dpo/sft output, or any PEFT LoRA adapter of this model) applied in memory at load: each targeted linear merged once, nothing written to disk (default: the base model alone)',
};

// The options of the stage commands besides their stage's table, as table entries, so that a
// --config file may give them too (model, out, ...; paths relative to the file).
export const MODEL_OPTION: OptionSpec = { type: 'string', required: true, path: true, describe: MODEL_FLAG.describe as string };
export const PROMPTS_OPTION: OptionSpec = { type: 'string', path: true, describe: PROMPTS_FLAG.describe as string };
export const THREADS_OPTION: OptionSpec = { ...THREADS_SPEC, describe: THREADS_FLAG.describe as string };
export const ADAPTER_OPTION: OptionSpec = { type: 'string', path: true, describe: ADAPTER_FLAG.describe as string };
export const FRESH_OPTION: OptionSpec = { type: 'boolean', default: false, describe: 'Start --out over: delete the records, settings and skipped list an earlier run wrote there, instead of resuming' };

/** --out of a command: required, a path. */
export function outOption(describe: string): OptionSpec {
  return { type: 'string', required: true, path: true, describe };
}

/** The flags of every single-stage command about its options themselves. */
export const CONFIG_FLAGS: Record<'config' | 'dry-run', YargsOption> = {
  config: {
    type: 'string',
    describe: 'YAML (.yaml/.yml) or JSON file of this command\'s options, keyed by flag name (batch-size or batch_size; paths relative to the file); a flag given on the command line wins over the file, the file over the defaults (default: none)',
  },
  'dry-run': { type: 'boolean', default: false, describe: 'Print every option with its value and where it came from (default, config or flag) and stop, writing nothing' },
};

/**
 * With --dry-run: prints the resolved options (stdout) and returns true, the command stopping there.
 */
export function shownDryRun<T>(args: Record<string, unknown>, table: OptionTable<T>, r: ResolvedOptions<T>): boolean {
  if (args.dryRun !== true) return false;
  process.stdout.write(resolvedLines(table, r));
  return true;
}

export interface CommonArgs {
  model: string;
  out: string;
  prompts?: string;
  threads?: number;
}

/** The stage environment of a command: prompts loaded and checked, progress and messages on stderr. */
export async function commandEnv(args: { model?: string; prompts?: string; threads?: number }, unit: string): Promise<StageEnv> {
  return {
    model: args.model ?? '',
    threads: checkThreads(args.threads),
    prompts: await loadPrompts(args.prompts),
    progress: progressFactory({ unit }),
    log: (text) => process.stderr.write(text),
  };
}

/** What each pipeline step's bar counts, keyed by the first word of its label (the stage name). */
const STAGE_UNITS: Record<string, string> = { pref: 'images', describe: 'samples', dpo: 'steps', sft: 'steps', eval: 'questions', data: 'scenes' };

/** Bars on stderr whose rate unit follows the stage (`stic run` and `stic demo` run several). */
export function stageProgress(): ProgressFactory {
  return (label, total, alreadyDone = 0) => startProgress(label, total, alreadyDone, { unit: STAGE_UNITS[label.split(' ')[0]] ?? 'items' });
}
