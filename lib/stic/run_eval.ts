// The `eval` section of a `stic run` config: after the stages, the base model, the model after stage
// 1 (the dpo adapter) and the final model (the sft adapter) are evaluated on one benchmark with
// `stic eval`'s machinery (lib/eval), into <out>/eval: one column per model in its comparison.
//   eval: {bench: pope, data: data/pope/coco_pope_random.json, models: [base, stage-1, final]}
// Keys are `stic eval`'s flags; judge-scored benchmarks are run with `stic eval` itself (they need an
// endpoint and a key). Each evaluation resumes its predictions, so a re-run only re-scores.
import { stat } from 'node:fs/promises';
import path from 'node:path';

import type { ImageAspect } from '../data/model_image.ts';
import { type EvalJob, runEval } from '../eval/run_eval.ts';
import { configEntries, configMapping } from './config_file.ts';
import { type EvalBenchOptions, EVAL_BENCH_OPTIONS } from './eval_options.ts';
import { manifestPath } from './manifest.ts';
import { type OptionTable, keyOf, shownValue, validateOptions } from './options.ts';
import type { ImageApi, OpenInference } from './engine_api.ts';
import type { ProgressFactory } from '../util/progress.ts';

/** The models of a STIC run that the eval section can name. */
export const EVAL_MODELS = ['base', 'stage-1', 'final'] as const;
export type EvalModel = (typeof EVAL_MODELS)[number];

/** The section: `stic eval`'s options for one benchmark, and which of the run's models to evaluate. */
export type EvalSection = Omit<EvalBenchOptions, 'imageAspect'> & { imageAspect?: ImageAspect; models: EvalModel[] };

/** The section's keys: stic eval's benchmark options (its table), and models. */
export const EVAL_SECTION_OPTIONS: OptionTable<EvalBenchOptions & { models: EvalModel[] }> = {
  ...EVAL_BENCH_OPTIONS,
  models: { type: 'list', choices: EVAL_MODELS, default: [...EVAL_MODELS], describe: 'The run\'s models to evaluate' },
};

const JUDGED = new Set(['mmvet', 'llava-bench', 'mathvista']);

/** Checks and reads the section; paths are resolved against the config file's folder `dir`. */
export function parseEvalSection(file: string, dir: string, v: unknown): EvalSection {
  return readEvalSection(file, dir, v).section;
}

/** parseEvalSection, with each option's key as written in the file (undefined: not given). */
export function readEvalSection(file: string, dir: string, v: unknown): { section: EvalSection; names: Record<string, string | undefined> } {
  const entries = configEntries(file, 'eval', EVAL_SECTION_OPTIONS, configMapping(file, 'eval', v, 'stic eval options'), dir);
  if (entries.bench !== undefined && JUDGED.has(entries.bench.value as string)) {
    throw new Error(`${file}: eval.bench: ${entries.bench.value as string} is scored by a judge model; run it with \`stic eval --judge-url ... --judge-model ...\` on the run's adapters`);
  }
  const values = Object.fromEntries(Object.entries(entries).map(([k, e]) => [k, e.value]));
  const typed = validateOptions(EVAL_SECTION_OPTIONS, values, (p) => `${file}: eval.${entries[keyOf(p.flag)]?.name ?? p.flag}: expected ${p.expected} but received ${shownValue(p.received)}`);
  // Given keys only (image-aspect too: unset, each evaluation takes stic eval's default); models in run order.
  const section = Object.fromEntries(Object.entries(typed).filter(([k, x]) => x !== undefined && (k !== 'imageAspect' || entries.imageAspect !== undefined))) as EvalSection;
  section.models = EVAL_MODELS.filter((m) => typed.models.includes(m));
  return { section, names: Object.fromEntries(Object.keys(EVAL_SECTION_OPTIONS).map((k) => [k, entries[k]?.name])) };
}

/** Where each model of the run is: the base model alone, or with the dpo / sft adapter. */
export function evalTargets(model: string, outputs: { dpo: string; sft: string }, models: readonly EvalModel[]): { name: EvalModel; adapter?: string; needs?: string }[] {
  return models.map((name) => (name === 'base' ? { name } : { name, adapter: name === 'stage-1' ? outputs.dpo : outputs.sft, needs: name === 'stage-1' ? 'dpo' : 'sft' }));
}

export interface RunEvalDeps {
  openInference: OpenInference;
  openImages: () => Promise<ImageApi>;
  progress?: ProgressFactory;
  log: (text: string) => void;
}

/** Evaluates each model of the section into `<out>/eval`; a model whose stage is not complete is refused first. */
export async function runEvalSection(cfg: { model: string; out: string; threads?: number; eval: EvalSection }, outputs: { dpo: string; sft: string }, deps: RunEvalDeps): Promise<void> {
  const targets = evalTargets(cfg.model, outputs, cfg.eval.models);
  for (const t of targets) {
    if (t.adapter === undefined) continue;
    const done = await stat(manifestPath(t.adapter)).then(() => true, () => false);
    if (!done) throw new Error(`eval: ${t.name} is the ${t.needs} adapter ${t.adapter}, which is missing or unfinished: run that stage first (or leave ${t.name} out of eval.models)`);
  }
  const images = await deps.openImages();
  const e = cfg.eval;
  for (const t of targets) {
    deps.log(`eval: ${t.name} on ${e.bench}\n`);
    const job: EvalJob = {
      name: t.name,
      model: cfg.model,
      ...(t.adapter !== undefined ? { adapter: t.adapter } : {}),
      bench: e.bench,
      data: e.data,
      imageRoot: e.imageRoot,
      split: e.split,
      limit: e.limit,
      instruction: e.instruction,
      maxNewTokens: e.maxNewTokens,
      answerAfter: e.answerAfter,
      batchSize: e.batchSize,
      describeFirst: e.describeFirst,
      describeTokens: e.describeTokens,
      imageAspect: e.imageAspect,
      out: path.join(cfg.out, 'eval'),
      threads: cfg.threads,
      order: [...EVAL_MODELS],
    };
    const stored = await runEval(job, { open: deps.openInference, images, progress: deps.progress, log: deps.log });
    deps.log(`eval: ${t.name}: ${stored.headline.metric} ${stored.headline.value === null ? 'n/a' : stored.headline.value.toFixed(1)}\n`);
  }
  deps.log(`eval: comparison in ${path.join(cfg.out, 'eval', 'comparison.md')}\n`);
}
