// The `eval` section of a `stic run` config: after the stages, the base model, the model after stage
// 1 (the dpo adapter) and the final model (the sft adapter) are evaluated on one benchmark with
// `stic eval`'s machinery (lib/eval), into <out>/eval: one column per model in its comparison.
//   eval: {bench: pope, data: data/pope/coco_pope_random.json, models: [base, stage-1, final]}
// Keys are `stic eval`'s flags; judge-scored benchmarks are run with `stic eval` itself (they need an
// endpoint and a key). Each evaluation resumes its predictions, so a re-run only re-scores.
import { stat } from 'node:fs/promises';
import path from 'node:path';

import { BENCHMARKS, type BenchName } from '../eval/registry.ts';
import { type EvalJob, runEval } from '../eval/run_eval.ts';
import { manifestPath } from './manifest.ts';
import { shownValue } from './options.ts';
import type { ImageApi, OpenInference } from './engine_api.ts';
import type { ProgressFactory } from '../util/progress.ts';

/** The models of a STIC run that the eval section can name. */
export const EVAL_MODELS = ['base', 'stage-1', 'final'] as const;
export type EvalModel = (typeof EVAL_MODELS)[number];

/** The section: `stic eval`'s options for one benchmark, and which of the run's models to evaluate. */
export type EvalSection = Pick<EvalJob, 'bench' | 'data' | 'imageRoot' | 'split' | 'limit' | 'instruction' | 'maxNewTokens' | 'batchSize' | 'describeFirst' | 'describeTokens' | 'imageAspect'> & {
  models: EvalModel[];
};

const JUDGED = new Set(['mmvet', 'llava-bench', 'mathvista']);
const POSITIVE = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 1;

/** Checks and reads the section; paths are resolved against the config file's folder `dir`. */
export function parseEvalSection(file: string, dir: string, v: unknown): EvalSection {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error(`${file}: eval: expected a mapping of stic eval options but received ${shownValue(v)}`);
  const o = v as Record<string, unknown>;
  const known = ['bench', 'data', 'models', 'image-root', 'split', 'limit', 'instruction', 'max-new-tokens', 'batch-size', 'describe-first', 'describe-tokens', 'image-aspect'];
  for (const k of Object.keys(o)) if (!known.includes(k)) throw new Error(`${file}: eval: unknown key "${k}" (known keys: ${known.join(', ')})`);
  const bench = o.bench;
  if (typeof bench !== 'string' || !(BENCHMARKS as readonly string[]).includes(bench)) throw new Error(`${file}: eval.bench: expected one of ${BENCHMARKS.join(', ')} but received ${shownValue(bench)}`);
  if (JUDGED.has(bench)) throw new Error(`${file}: eval.bench: ${bench} is scored by a judge model; run it with \`stic eval --judge-url ... --judge-model ...\` on the run's adapters`);
  const str = (k: string): string | undefined => {
    if (o[k] === undefined) return undefined;
    if (typeof o[k] !== 'string') throw new Error(`${file}: eval.${k}: expected a string but received ${shownValue(o[k])}`);
    return o[k] as string;
  };
  const int = (k: string, fallback?: number): number | undefined => {
    if (o[k] === undefined) return fallback;
    if (!POSITIVE(o[k])) throw new Error(`${file}: eval.${k}: expected an integer >= 1 but received ${shownValue(o[k])}`);
    return o[k] as number;
  };
  const data = str('data');
  if (data === undefined || data === '') throw new Error(`${file}: eval.data: expected the benchmark's file or folder but it is missing`);
  const models = o.models ?? [...EVAL_MODELS];
  if (!Array.isArray(models) || models.length === 0 || !models.every((m) => (EVAL_MODELS as readonly unknown[]).includes(m))) {
    throw new Error(`${file}: eval.models: expected a non-empty list of ${EVAL_MODELS.join(', ')} but received ${shownValue(models)}`);
  }
  if (o['describe-first'] !== undefined && typeof o['describe-first'] !== 'boolean') throw new Error(`${file}: eval.describe-first: expected true or false but received ${shownValue(o['describe-first'])}`);
  const imageRoot = str('image-root');
  const aspect = o['image-aspect'];
  if (aspect !== undefined && aspect !== 'anyres' && aspect !== 'pad') throw new Error(`${file}: eval.image-aspect: expected "anyres" or "pad" but received ${shownValue(aspect)}`);
  return {
    bench: bench as BenchName,
    data: path.resolve(dir, data),
    models: EVAL_MODELS.filter((m) => models.includes(m)),
    ...(imageRoot !== undefined ? { imageRoot: path.resolve(dir, imageRoot) } : {}),
    ...(str('split') !== undefined ? { split: str('split') } : {}),
    ...(int('limit') !== undefined ? { limit: int('limit') } : {}),
    ...(str('instruction') !== undefined ? { instruction: str('instruction') } : {}),
    ...(int('max-new-tokens') !== undefined ? { maxNewTokens: int('max-new-tokens') } : {}),
    batchSize: int('batch-size', 8) as number,
    describeFirst: (o['describe-first'] as boolean | undefined) ?? false,
    describeTokens: int('describe-tokens', 256) as number,
    ...(aspect !== undefined ? { imageAspect: aspect } : {}),
  };
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
