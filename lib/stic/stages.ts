// The five stages as functions of (inputs, options, engines), used by both the single-stage
// commands (stic pref, dpo, describe, infuse, sft) and `stic run`. Each returns its report and the
// counts that go into the stage manifest.
import { stat } from 'node:fs/promises';
import path from 'node:path';

import { type DescriptionRecord, descriptionFormat } from '../data/records/descriptions.ts';
import { SkipLog } from '../data/records/faults.ts';
import { imageRootField, recordImageRoot } from '../data/records/image_root.ts';
import { type InstructionSample, instructionFormat } from '../data/records/instructions.ts';
import { loadRecords } from '../data/records/load.ts';
import { listUnlabeledImages } from '../data/records/unlabeled.ts';
import { writeJsonAtomic } from '../util/atomic_write.ts';
import type { ProgressFactory } from '../util/progress.ts';
import { type DescribeReport, runDescribeStage } from './stages/describe.ts';
import type { ImageApi, InferenceEngine, OpenInference, TrainHooks, TrainResult, TrainingEngine } from './engine_api.ts';
import { type InfuseReport, idSample, infuseSamples } from './stages/infuse.ts';
import { claimOutputSettings, settingsPath } from './output_settings.ts';
import { runPrefStage } from './stages/pref.ts';
import type { PromptSet } from '../data/prompts.ts';
import { type StageReport, formatStageReport } from './stages/stage_io.ts';
import { type DescribeOptions, type InfuseOptions, type PrefOptions, corruptionSpecs, samplingOf } from './stage_options.ts';
import { type DpoData, loadDpoData, loadSftData } from './stages/train_data.ts';
import type { DpoOptions, SftOptions } from './train_options.ts';
import { TrainAccount } from './stages/train_account.ts';
import { type TrainRunOutput, runTraining } from './stages/train_run.ts';

export interface StageEnv {
  model: string;
  threads?: number;
  prompts: PromptSet;
  progress?: ProgressFactory;
  /** Where messages for the user go (stderr in the CLI). */
  log: (text: string) => void;
}

export interface StageResult {
  report: string;
  counts: Record<string, number>;
}

/** The folder relative image paths of a pref image source resolve against. */
export async function prefImageRoot(images: string, imageRoot?: string): Promise<string> {
  if (imageRoot !== undefined) return path.resolve(imageRoot);
  return (await stat(images)).isDirectory() ? path.resolve(images) : path.dirname(path.resolve(images));
}

export async function executePref(env: StageEnv, o: PrefOptions, out: string, engines: { open: OpenInference; images: () => Promise<ImageApi> }, adapter?: string): Promise<StageResult> {
  const set = await listUnlabeledImages(o.images, { imageRoot: o.imageRoot });
  const images = o.limit ? set.images.slice(0, o.limit) : set.images;
  const plan = { seed: o.seed, hallucinationProb: o.hallucinationProb, corruptions: corruptionSpecs(o), reproduceUncorrupted: o.reproduceUncorrupted };
  await claimOutputSettings('pref', out, { model: settingsPath(env.model, out), adapter: settingsPath(adapter, out), prompts: env.prompts, plan, sampling: samplingOf(o), refLogps: o.refLogps, imageAspect: o.imageAspect });
  const imageApi = await engines.images();
  const engine = await engines.open({ model: env.model, adapter, threads: env.threads, log: env.log, imageAspect: o.imageAspect });
  let report: StageReport;
  try {
    report = await runPrefStage(
      {
        images,
        imageRoot: set.root,
        listingSkips: set.skips,
        out,
        prompts: env.prompts,
        plan,
        sampling: samplingOf(o),
        batchSize: o.batchSize,
        refLogps: o.refLogps,
        adapter,
      },
      { engine, images: imageApi, progress: env.progress },
    );
  } finally {
    await closeEngine(engine);
  }
  return { report: formatStageReport(report), counts: { inputs: report.total, pairs: report.resumed + report.written, skipped: report.skips.count } };
}

export async function executeDescribe(env: StageEnv, o: DescribeOptions, out: string, adapter: string | undefined, engines: { open: OpenInference; images: () => Promise<ImageApi> }): Promise<StageResult> {
  const { records, skips } = await loadRecords(o.instructions, instructionFormat);
  const samples = o.limit ? records.slice(0, o.limit) : records;
  await claimOutputSettings('describe', out, { model: settingsPath(env.model, out), adapter: settingsPath(adapter, out), prompts: env.prompts, sampling: samplingOf(o), seed: o.seed, imageAspect: o.imageAspect });
  const imageApi = await engines.images();
  const engine = await engines.open({ model: env.model, adapter, threads: env.threads, log: env.log, imageAspect: o.imageAspect });
  let report: DescribeReport;
  try {
    report = await runDescribeStage(
      {
        samples,
        listingSkips: skips,
        imageRoot: o.imageRoot,
        out,
        prompts: env.prompts,
        sampling: samplingOf(o),
        batchSize: o.batchSize,
        seed: o.seed,
      },
      { engine, images: imageApi, progress: env.progress },
    );
  } finally {
    await closeEngine(engine);
  }
  const text = formatStageReport(report) + (report.textOnly ? `describe: ${report.textOnly} text-only samples need no description\n` : '');
  return { report: text, counts: { inputs: report.total, descriptions: report.resumed + report.written, skipped: report.skips.count, text_only: report.textOnly } };
}

export async function executeInfuse(env: StageEnv, o: InfuseOptions, out: string): Promise<StageResult & { infuse: InfuseReport }> {
  const samples = await loadRecords(o.instructions, instructionFormat);
  const descs = await loadRecords(o.descriptions, descriptionFormat(o.joinBy === 'id'));
  // Each written sample says where its image is, so stic sft needs no --image-root (image_root.ts).
  const imageRootOf = (s: InstructionSample, d?: DescriptionRecord): string => {
    const from = o.imageRoot === undefined && d?.image_root !== undefined ? recordImageRoot(o.descriptions, d.image_root, undefined) : recordImageRoot(o.instructions, s.imageRoot, o.imageRoot);
    return imageRootField(out, from.root);
  };
  const { output, report } = infuseSamples(samples.records, descs.records, { missing: o.missing, joinBy: o.joinBy, template: env.prompts.infusion, imageRootOf });
  await writeJsonAtomic(out, output);
  const skips = new SkipLog();
  skips.addAll(samples.skips);
  skips.addAll(descs.skips);
  const lines = [
    `infuse: ${report.written} samples written to ${out} (${report.infused} with a description, ${report.textOnly} text-only unchanged${o.missing === 'keep' ? `, ${report.missing.length} without a description kept unchanged` : ''})`,
  ];
  if (report.missing.length) lines.push(`infuse: ${report.missing.length} samples with an image have no description${o.missing === 'drop' ? ' and were left out' : ''}: ${idSample(report.missing)}`);
  if (report.unused.length) lines.push(`infuse: ${report.unused.length} descriptions match no sample: ${idSample(report.unused)}`);
  if (report.ambiguous) lines.push(`infuse: ${report.ambiguous} samples matched several descriptions by image; the first in file order was used`);
  lines.push(...skips.report(5).map((l) => `infuse: ${l}`));
  return {
    report: `${lines.join('\n')}\n`,
    infuse: report,
    counts: { samples: report.samples, written: report.written, infused: report.infused, missing: report.missing.length, unused: report.unused.length, skipped: skips.count },
  };
}

/**
 * Stage 1b. `evalImageRoot`: what the held-out pairs' relative image paths resolve against when they
 * do not say (default o.imageRoot; `stic run` sets the training pairs' root alone).
 */
export async function executeDpo(env: StageEnv, o: DpoOptions, out: string, trainer: () => Promise<TrainingEngine>, evalImageRoot = o.imageRoot): Promise<StageResult & { run: TrainRunOutput }> {
  const dataOptions = { refLogps: o.refLogps, reproduceMissingImageToken: o.reproduceMissingImageToken };
  const data = await loadDpoData(o.prefs, { ...dataOptions, imageRoot: o.imageRoot });
  const held = o.evalPrefs === undefined ? null : await loadDpoData(o.evalPrefs, { ...dataOptions, imageRoot: evalImageRoot });
  const account = new TrainAccount('dpo', o.prefs, data.examples.length + data.skips.count, 'pairs', data.skips);
  const lines = [`dpo: ${data.examples.length} pairs from ${o.prefs} (${formatCounts(data.formats)}), reference log-probs: ${data.reference}`];
  if (data.imageTokenRestored) lines.push(`dpo: ${data.imageTokenRestored} pairs had lost the image token in their prompt; it was put back (--reproduce-missing-image-token trains without it)`);
  if (data.imageTokenMissing) lines.push(`dpo: ${data.imageTokenMissing} pairs train WITHOUT the image token (--reproduce-missing-image-token)`);
  lines.push(...account.report());
  if (held) lines.push(...heldOutLines(o, held));
  env.log(`${lines.join('\n')}\n`);
  const engine = await trainer();
  const job = { model: env.model, out, resume: true, threads: env.threads, examples: data.examples, ...(held ? { evalExamples: held.examples } : {}), options: o };
  const run = await trainAccounted(account, out, o.minKept, (counted, onData) =>
    runTraining(engine, { kind: 'dpo', job }, (r) => [
      ['stage', 'dpo (STIC stage 1b)'],
      ['model', env.model],
      counted(r),
      ...(held ? [heldOutHeader(o.evalPrefs as string, held, r)] : []),
    ], env.progress, onData),
  );
  return { report: run.summary + account.report().map((l) => `${l}\n`).join(''), run, counts: { pairs: account.trained, skipped: account.skips.count, truncated: account.truncated, steps: run.result.steps, ...(held ? { eval_pairs: run.result.eval?.kept ?? 0 } : {}) } };
}

// What was read of --eval-prefs: the count and formats, every skipped record (first few).
function heldOutLines(o: DpoOptions, held: DpoData): string[] {
  const every = o.evalEvery > 0 ? `every ${o.evalEvery} steps` : 'every quarter of the steps';
  return [
    `dpo: ${held.examples.length} held-out pairs from ${o.evalPrefs} (${formatCounts(held.formats)}), evaluated ${every} and at the end`,
    ...(held.skips.count ? held.skips.report(5, 'held-out pairs').map((l) => `dpo: --eval-prefs: ${l}`) : []),
  ];
}

// The summary line of the held-out pairs: evaluated of read, with what reading and tokenising left out.
function heldOutHeader(file: string, held: DpoData, r: TrainResult): [string, string] {
  const total = held.examples.length + held.skips.count;
  const report = r.eval ?? { kept: held.examples.length, skipped: [], truncated: [] };
  const skipped = held.skips.count + report.skipped.length;
  const parts = [`${skipped} skipped`, ...(report.truncated.length ? [`${report.truncated.length} truncated to --max-length`] : [])];
  return ['eval pairs', `${report.kept} of ${total} in ${file} (${parts.join(', ')})`];
}

export async function executeSft(env: StageEnv, o: SftOptions, out: string, trainer: () => Promise<TrainingEngine>): Promise<StageResult & { run: TrainRunOutput }> {
  const data = await loadSftData(o.data, { imageRoot: o.imageRoot });
  const account = new TrainAccount('sft', o.data, data.examples.length + data.skips.count, 'samples', data.skips);
  const lines = [`sft: ${data.examples.length} samples from ${o.data} (${data.textOnly} text-only)${o.initAdapter ? `, continuing ${o.initAdapter}` : ''}`];
  if (data.imageTokenAdded) lines.push(`sft: ${data.imageTokenAdded} samples with an image had no image token in their first turn; it was put in front`);
  lines.push(...account.report());
  env.log(`${lines.join('\n')}\n`);
  const engine = await trainer();
  const run = await trainAccounted(account, out, o.minKept, (counted, onData) =>
    runTraining(engine, { kind: 'sft', job: { model: env.model, out, resume: true, threads: env.threads, initAdapter: o.initAdapter, examples: data.examples, options: o } }, (r) => [
      ['stage', 'sft (STIC stage 2b)'],
      ['model', env.model],
      counted(r),
    ], env.progress, onData),
  );
  return { report: run.summary + account.report().map((l) => `${l}\n`).join(''), run, counts: { samples: account.trained, skipped: account.skips.count, truncated: account.truncated, steps: run.result.steps } };
}

// Runs training with the --min-kept check between tokenisation and the first step; the summary's
// count line includes every record skipped or truncated, all listed in <out>/skipped.jsonl (also
// when the check stops the run).
async function trainAccounted(
  account: TrainAccount,
  out: string,
  minKept: number,
  train: (header: (r: TrainResult) => [string, string], onData: TrainHooks['onData']) => Promise<TrainRunOutput>,
): Promise<TrainRunOutput> {
  const header = (r: TrainResult): [string, string] => {
    account.addTraining(r);
    return [account.noun, account.headline()];
  };
  const run = await train(header, async (d) => {
    try {
      account.checkKept(d.kept, d.skipped, minKept);
    } catch (err) {
      account.addTraining(d);
      await account.write(out);
      throw err;
    }
  });
  await account.write(out);
  return run;
}

// "3 ours, 0 public STIC format, 2 TRL format": the shapes the pairs came in (TRL's only when there are some).
function formatCounts(f: DpoData['formats']): string {
  const names = { stic: 'ours', 'stic-public': 'public STIC format', trl: 'TRL format' } as const;
  return (Object.keys(names) as (keyof typeof names)[]).filter((k) => k !== 'trl' || f[k] > 0).map((k) => `${f[k]} ${names[k]}`).join(', ');
}

async function closeEngine(engine: InferenceEngine): Promise<void> {
  if (engine.close) await engine.close();
}
