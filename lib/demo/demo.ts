// `stic demo`: the whole method on the built-in toy model, measured. In one output folder:
//   data/            the unlabeled images, the instruction set and the held-out set (data.ts)
//   prompts.json     the demo's prompts (recipe.ts), unless --prompts names a file
//   stic.yaml        the STIC run as a `stic run` config (recipe.ts), run into stic/:
//   stic/            pref.jsonl -> dpo/ -> descriptions.jsonl -> infused.json -> sft/
//   control.yaml     with --control: the same pairs coin-flipped (control.ts), dpo onwards, into
//   control/         pref.jsonl (coin-flipped) -> dpo/ -> ... -> sft/
//   eval/<model>.json  every answer and description of each model on the held-out set, and scores
//   results.md       the table (Markdown), the settings, the wall time, and how often the chosen
//                    answer of a pair was the more accurate one (pair_quality.ts); table.txt as printed
//   comparison.svg/png  the headline metrics as bars; stic/dpo/training.svg etc. the training curves
// Models compared: the base model, after stage 1 (base + DPO adapter), after stage 2 (the final
// STIC model), and with --control the control arm's two. A re-run skips whatever is complete.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';

import { writeFileAtomic, writeJsonAtomic } from '../util/atomic_write.ts';
import { type Progress, type ProgressFactory, silentProgress } from '../util/progress.ts';
import { type RunDeps, runPipeline } from '../stic/pipeline.ts';
import { type StageName, loadRunConfig } from '../stic/run_config.ts';
import { formatComparisonTable } from '../eval/toy_table.ts';
import { modelImageSide } from '../model/config.ts';
import { TOY_EVAL_DEFAULTS, type ToyEvalSettings } from '../eval/toy_run.ts';
import { REASONED_ANSWER_TOKENS, toyAnswersReasoned } from '../toy/answer_form.ts';
import { writeComparisonChart } from './compare_chart.ts';
import { writeControlPairs } from './control.ts';
import { type DemoSizes, demoWorldSeed, prepareDemoData, unlabeledScenes } from './data.ts';
import { type PairQuality, pairQuality, pairQualityLines, pairQualityMarkdown } from './pair_quality.ts';
import { type ModelEval, type ModelUnderTest, evaluateModel } from './evaluate.ts';
import { DEMO_PROMPTS, DEMO_TRAINING, type RecipeScale, recipeConfig, recipeYaml } from './recipe.ts';

export interface DemoOptions extends DemoSizes {
  out: string;
  model: string;
  seed: number;
  control: boolean;
  /** A prompts file (lib/data/prompts.ts keys) used by both arms. */
  prompts?: string;
  threads?: number;
  scale: RecipeScale;
  /** New tokens of a short answer in the evaluation (default: REASONED_ANSWER_TOKENS for a model pretrained with --reasoned, else TOY_EVAL_DEFAULTS'). */
  answerTokens?: number;
  training?: Partial<typeof DEMO_TRAINING>;
}

/** The demo runs `stic run` twice and evaluates: a run's engines, progress bars and messages. */
export type DemoDeps = RunDeps;

export interface DemoResult {
  evals: ModelEval[];
  /** The stage-1a pairs scored against the unlabeled scenes' truth. */
  pairs: PairQuality;
  table: string;
  markdown: string;
  files: { results: string; table: string; chart: { svg: string; png: string } };
  seconds: number;
}

export async function runDemo(o: DemoOptions, deps: DemoDeps): Promise<DemoResult> {
  const started = Date.now();
  const out = path.resolve(o.out);
  deps.log(`demo: ${o.images} unlabeled images, ${o.instructions} instruction samples, ${o.heldout} held-out scenes (world seed ${demoWorldSeed(o.seed)}); model ${o.model}; output ${out}\n`);
  const reasoned = toyAnswersReasoned(o.model);
  const data = await withSceneBars(deps.progress, (onScene) => prepareDemoData(path.join(out, 'data'), o.seed, o, { imageSize: modelImageSide(o.model), reasoned }, onScene));
  const answerTokens = o.answerTokens ?? (reasoned ? REASONED_ANSWER_TOKENS : TOY_EVAL_DEFAULTS.answerTokens);

  if (o.prompts === undefined) {
    o = { ...o, prompts: path.join(out, 'prompts.json') };
    await writeJsonAtomic(o.prompts as string, DEMO_PROMPTS);
  }
  const arms: { name: string; dir: string }[] = [{ name: 'stic', dir: path.join(out, 'stic') }];
  const sticComment = 'STIC on the toy world: stage 1 (pref, dpo) and stage 2 (describe, infuse, sft).';
  const sticStages: StageName[] = ['pref', 'dpo', 'describe', 'infuse', 'sft'];
  // Pair quality first: the pairs are scored against the scenes' truth before anything trains on them.
  await runArm(o, deps, out, 'stic', sticStages, data, sticComment, ['pref']);
  const pairs = await pairQuality(path.join(out, 'stic', 'pref.jsonl'), unlabeledScenes(o.seed, o.images));
  deps.log(`pairs: is the chosen answer the more accurate one (kind+colour, against the scenes' truth)?\n${pairQualityLines(pairs).map((l) => `  ${l}\n`).join('')}`);
  await runArm(o, deps, out, 'stic', sticStages, data, sticComment);
  if (o.control) {
    const control = path.join(out, 'control');
    const r = await writeControlPairs(path.join(out, 'stic', 'pref.jsonl'), path.join(control, 'pref.jsonl'), o.seed);
    deps.log(`control: ${r.swapped} of ${r.pairs} pairs swapped by a coin flip (chosen <-> rejected) into ${path.join(control, 'pref.jsonl')}\n`);
    await runArm(o, deps, out, 'control', ['dpo', 'describe', 'infuse', 'sft'], data, 'Control: the STIC pairs with chosen/rejected assigned by a coin flip per pair, then the same stages.');
    arms.push({ name: 'control', dir: control });
  }

  const models: ModelUnderTest[] = [{ name: 'base', model: o.model }];
  for (const arm of arms) {
    models.push({ name: `${arm.name} stage 1`, model: o.model, adapter: path.join(arm.dir, 'dpo') });
    models.push({ name: `${arm.name} final`, model: o.model, adapter: path.join(arm.dir, 'sft') });
  }
  const settings: ToyEvalSettings = { answerTokens, describeTokens: o.scale.describeTokens, batchSize: o.scale.genBatch };
  const evalDeps = { open: deps.openInference, images: await deps.openImages(), threads: o.threads, progress: deps.progress };
  const evals: ModelEval[] = [];
  for (const m of models) {
    deps.log(`eval: ${m.name}${m.adapter ? ` (${m.adapter})` : ''}\n`);
    evals.push(await evaluateModel(m, data.heldout, settings, path.join(out, 'eval'), evalDeps));
  }

  const columns = evals.map((e) => ({ name: e.name, report: e.report }));
  const table = formatComparisonTable(columns);
  const markdown = formatComparisonTable(columns, { markdown: true });
  const chart = await writeComparisonChart(path.join(out, 'comparison'), `STIC on the toy world: ${o.heldout} held-out scenes`, columns);
  const seconds = (Date.now() - started) / 1000;
  const files = { results: path.join(out, 'results.md'), table: path.join(out, 'table.txt'), chart };
  await writeFileAtomic(files.table, `${table}\n`);
  await writeFileAtomic(files.results, resultsMarkdown(o, markdown, pairQualityMarkdown(pairs), seconds));
  await writeJsonAtomic(path.join(out, 'results.json'), { options: o, seconds, pairs, models: evals.map((e) => ({ name: e.name, adapter: e.adapter, report: { vqa: e.report.vqa, descriptions: { ...e.report.descriptions, details: undefined } } })) });
  return { evals, pairs, table, markdown, files, seconds };
}

// Writes one arm's config and runs it, or only the stages `only` of it (complete stages are
// skipped, partial ones resumed).
async function runArm(o: DemoOptions, deps: DemoDeps, out: string, name: string, stages: StageName[], data: { unlabeled: string; instructions: string }, comment: string, only?: StageName[]): Promise<void> {
  const file = path.join(out, `${name}.yaml`);
  const config = recipeConfig(
    { model: o.model, out: path.join(out, name), unlabeled: data.unlabeled, instructions: data.instructions, seed: o.seed, threads: o.threads, prompts: o.prompts, stages, scale: o.scale, training: o.training },
    out,
  );
  await writeFile(file, recipeYaml(config, `${comment}\nWritten by stic demo; run it again with: stic run ${file}`));
  const cfg = await loadRunConfig(file);
  await runPipeline(only === undefined ? cfg : { ...cfg, stages: only }, { openInference: deps.openInference, openImages: deps.openImages, openTraining: deps.openTraining, progress: deps.progress, log: deps.log });
}

// One bar per toy set being rendered (a set found complete on disk renders nothing and shows none).
async function withSceneBars<T>(progress: ProgressFactory | undefined, work: (onScene: (set: string, done: number, total: number) => void) => Promise<T>): Promise<T> {
  const bars = new Map<string, Progress>();
  try {
    return await work((set, done, total) => {
      let bar = bars.get(set);
      if (bar === undefined) {
        bar = (progress ?? silentProgress)(`data ${set}`, total);
        bars.set(set, bar);
      }
      bar.tick(1);
      if (done === total) bar.stop();
    });
  } finally {
    for (const bar of bars.values()) bar.stop();
  }
}

function resultsMarkdown(o: DemoOptions, table: string, pairs: string, seconds: number): string {
  return [
    '# stic demo results',
    '',
    `${o.images} unlabeled images, ${o.instructions} instruction samples, ${o.heldout} held-out scenes (${o.heldout} descriptions and their questions), seed ${o.seed}, model ${o.model}.`,
    `Greedy decoding; changes in percentage points against the base model. Wall time ${formatSeconds(seconds)} (of the invocation that wrote this file: stages and evaluations found complete on disk are reused, not redone).`,
    '',
    table,
    '',
    'How good the self-made preferences were: the stage-1a answers scored against the truth of the unlabeled scenes (known to the demo, never trained on).',
    '',
    pairs,
    '',
  ].join('\n');
}

export function formatSeconds(s: number): string {
  const m = Math.floor(s / 60);
  return m > 0 ? `${m} min ${Math.round(s - 60 * m)} s` : `${s.toFixed(1)} s`;
}
