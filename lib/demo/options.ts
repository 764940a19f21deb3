// The flags of `stic demo`, declared once (help text, defaults, ranges) with the option tables of
// lib/stic/options.ts, and turned into the demo's options. The defaults are the full demo (49 s for
// one seed, about 79 s per seed with --control, on 2 CPU cores, measured; README "Quick start");
// the smaller settings are for trials and CI.
import path from 'node:path';

import { packageRoot } from '../native/loader.ts';
import { type OptionTable, validateOptions } from '../stic/options.ts';
import { DEMO_WORLD_SEED, MAX_SET_SIZE } from './data.ts';
import type { DemoOptions } from './demo.ts';
import { TOY_EVAL_DEFAULTS } from '../eval/toy_run.ts';
import { REASONED_ANSWER_TOKENS } from '../toy/answer_form.ts';
import { DEMO_SCALE, DEMO_TRAINING } from './recipe.ts';

/** The built-in model, committed with the repository. */
export const BUILTIN_MODEL = path.join(packageRoot, 'models', 'toy-llava');

export interface DemoFlags {
  out: string;
  model: string;
  images: number;
  instructions: number;
  heldout: number;
  seed: number;
  control: boolean;
  seeds: number;
  prompts?: string;
  dpoEpochs: number;
  sftEpochs: number;
  dpoLr: number;
  sftLr: number;
  describeTokens: number;
  answerTokens?: number;
  batchSize: number;
}

export const DEMO_FLAGS: OptionTable<DemoFlags> = {
  out: { type: 'string', default: 'stic-demo', describe: 'Output folder: the data, both runs, every intermediate file, the evaluations, the table and the charts (a re-run continues it)' },
  model: { type: 'string', default: BUILTIN_MODEL, describe: 'Model directory in Hugging Face layout (default: the built-in toy model)' },
  images: { type: 'integer', min: 1, max: MAX_SET_SIZE, default: 400, describe: 'Unlabeled toy images for stage 1 (preference pairs)' },
  instructions: { type: 'integer', min: 1, max: MAX_SET_SIZE, default: 200, describe: 'Toy instruction samples (QA conversations) for stage 2' },
  heldout: { type: 'integer', min: 1, max: MAX_SET_SIZE, default: 200, describe: 'Held-out toy scenes the models are evaluated on (each: its questions and one description)' },
  seed: { type: 'integer', min: 0, max: 1_000_000, default: 0, describe: `Seed of the toy world drawn (world seed ${DEMO_WORLD_SEED} + seed) and of every stage` },
  control: { type: 'boolean', default: false, describe: 'Also train a control arm on the same pairs with chosen/rejected assigned by a coin flip per pair, and evaluate it' },
  seeds: { type: 'integer', min: 1, max: 100, default: 1, describe: 'Run the whole demo this many times, seeds --seed .. --seed + N - 1 (each into <out>/seed-<k>), and report the mean and seed-to-seed spread of every metric (with --control: STIC minus control, paired by seed)' },
  prompts: { type: 'string', describe: 'JSON file overriding any of the STIC prompts, as for stic run (default: the toy world\'s description requests, written to <out>/prompts.json; see lib/demo/recipe.ts)' },
  dpoEpochs: { type: 'integer', min: 1, default: DEMO_SCALE.dpoEpochs, describe: 'Epochs of stage 1 (DPO)' },
  sftEpochs: { type: 'integer', min: 1, default: DEMO_SCALE.sftEpochs, describe: 'Epochs of stage 2 (SFT)' },
  dpoLr: { type: 'number', min: 0, minExclusive: true, default: DEMO_TRAINING.dpoLr, describe: 'Peak learning rate of stage 1 (the paper\'s 1e-7 is for 7B models)' },
  sftLr: { type: 'number', min: 0, minExclusive: true, default: DEMO_TRAINING.sftLr, describe: 'Peak learning rate of stage 2 (the paper\'s 2e-5 is for 7B models)' },
  describeTokens: { type: 'integer', min: 1, default: DEMO_SCALE.describeTokens, describe: 'Maximum new tokens of a description (pairs, stage 2a, evaluation)' },
  answerTokens: { type: 'integer', min: 1, describe: `Maximum new tokens of a short answer in the evaluation (default: ${REASONED_ANSWER_TOKENS} for a model pretrained with --reasoned, whose answers name every shape first; else ${TOY_EVAL_DEFAULTS.answerTokens})` },
  batchSize: { type: 'integer', min: 1, default: DEMO_SCALE.genBatch, describe: 'Generation requests per batch' },
};

type ProblemFormat = (p: { flag: string; expected: string; received: unknown }) => string;

/** Checked flags -> the demo's options. */
export function demoOptions(values: Record<string, unknown>, threads: number | undefined, format: ProblemFormat): DemoOptions & { seeds: number } {
  const f = validateOptions(DEMO_FLAGS, values, format);
  return {
    out: f.out,
    model: path.resolve(f.model),
    images: f.images,
    instructions: f.instructions,
    heldout: f.heldout,
    seed: f.seed,
    control: f.control,
    seeds: f.seeds,
    ...(f.prompts !== undefined ? { prompts: path.resolve(f.prompts) } : {}),
    threads,
    scale: { describeTokens: f.describeTokens, dpoEpochs: f.dpoEpochs, sftEpochs: f.sftEpochs, genBatch: f.batchSize },
    ...(f.answerTokens !== undefined ? { answerTokens: f.answerTokens } : {}),
    training: { dpoLr: f.dpoLr, sftLr: f.sftLr },
  };
}
