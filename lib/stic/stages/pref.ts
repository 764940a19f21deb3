// Stage 1a runner: unlabeled images -> preference JSONL, in batches. Per batch: decode the images
// (an unreadable one is skipped and counted), corrupt those whose plan says so (one batched call
// per corruption kind), generate preferred and dispreferred answers in one generate call, optionally
// score both answers under the stored training prompt (reference log-probs, computed once here so
// training needs no reference forward), then append the batch's records and fsync. Records are
// written in input order; a re-run skips ids already in the output, so a killed run resumes to the
// same file. Under several ranks (lib/dist/shard.ts) each rank generates every W-th batch and rank 0
// alone writes, in the same order: the same file again. executePref is the stage as `stic pref` and
// `stic run` call it: the images listed, the output's settings claimed, the engine opened, the runner run.
import { stat } from 'node:fs/promises';
import path from 'node:path';

import { SkipLog, makeFault } from '../../data/records/faults.ts';
import { imageRootField } from '../../data/records/image_root.ts';
import type { RecordFault } from '../../data/records/faults.ts';
import { currentWorld, isWriter } from '../../dist/launch.ts';
import { forEachBatchSharded, sharedDoneIds } from '../../dist/shard.ts';
import { type UnlabeledImage, listUnlabeledImages } from '../../data/records/unlabeled.ts';
import { JsonlWriter } from '../../util/jsonl_writer.ts';
import { silentProgress } from '../../util/progress.ts';
import type { CorruptionSpec, ChatGenerateRequest, ImageApi, InferenceDeps, InferenceEngine, OpenInference, RgbImage, RequestSampling } from '../engine_api.ts';
import { claimOutputSettings, settingsPath } from '../output_settings.ts';
import { type PrefOptions, corruptionSpecs, samplingOf } from '../stage_options.ts';
import { userTurn } from '../../data/records/preference.ts';
import { type PairOutputs, type PrefPlan, type PrefPlanOptions, planPreference, preferenceRecord } from './pref_plan.ts';
import type { PromptSet } from '../../data/prompts.ts';
import { chunks } from '../../generate/batching.ts';
import { type StageEnv, type StageReport, type StageResult, closeEngine, formatStageReport, isFault, loadRecordImage, writeSkipped } from './stage_io.ts';

export interface PrefStageInput {
  images: UnlabeledImage[];
  /** The folder the images' paths are relative to (stored in each record as image_root). */
  imageRoot: string;
  /** Faults found while listing the images (duplicates, bad list lines): reported with the stage's. */
  listingSkips?: SkipLog;
  out: string;
  prompts: PromptSet;
  plan: PrefPlanOptions;
  sampling: RequestSampling;
  batchSize: number;
  refLogps: boolean;
  adapter?: string;
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

interface Item {
  image: UnlabeledImage;
  plan: PrefPlan;
  clean: RgbImage;
  dispreferredImage: RgbImage;
  corruptionParams: Record<string, unknown>;
}

export async function runPrefStage(input: PrefStageInput, deps: InferenceDeps): Promise<StageReport> {
  if (input.refLogps && !deps.engine.logprobs) throw new Error('--ref-logps needs an engine that computes log-probs, and this one does not');
  const skips = new SkipLog();
  if (input.listingSkips) skips.addAll(input.listingSkips);
  const world = currentWorld();
  const writer = isWriter() ? await JsonlWriter.open(input.out) : null;
  const done = await sharedDoneIds(world, writer?.resume.ids ?? null);
  const resumed = input.images.filter((im) => done.has(im.id)).length;
  const todo = input.images.filter((im) => !done.has(im.id));
  const bar = (deps.progress ?? silentProgress)('pref', input.images.length, resumed);
  let written = 0;
  try {
    await forEachBatchSharded(
      world,
      chunks(todo, input.batchSize),
      async (batch): Promise<{ records: object[]; faults: RecordFault[] }> => {
        const batchSkips = new SkipLog();
        const items = await prepareBatch(batch, input, deps.images, batchSkips);
        return { records: await generateBatch(items, input, deps.engine, batchSkips), faults: batchSkips.faults };
      },
      async (r, batch) => {
        await writer?.append(r.records);
        r.faults.forEach((f) => skips.add(f));
        written += r.records.length;
        bar.tick(batch.length);
      },
    );
  } finally {
    bar.stop();
    await writer?.close();
  }
  if (writer) await writeSkipped(input.out, skips);
  return { stage: 'pref', out: input.out, total: input.images.length, resumed, written, skips };
}

// Decodes and plans each image of the batch and applies the planned corruptions.
async function prepareBatch(batch: UnlabeledImage[], input: PrefStageInput, api: ImageApi, skips: SkipLog): Promise<Item[]> {
  const items: Item[] = [];
  for (const image of batch) {
    const clean = await loadRecordImage(api, image);
    if (isFault(clean)) {
      skips.add(clean);
      continue;
    }
    const plan = planPreference(image.id, input.prompts, input.plan);
    items.push({ image, plan, clean, dispreferredImage: clean, corruptionParams: {} });
  }
  const byKind = new Map<string, Item[]>();
  for (const it of items) {
    const c = it.plan.corruption;
    if (!c || !c.apply) continue;
    const key = JSON.stringify(c.spec);
    byKind.set(key, [...(byKind.get(key) ?? []), it]);
  }
  for (const [key, group] of byKind) {
    const spec = JSON.parse(key) as CorruptionSpec;
    const out = await api.corrupt(group.map((g) => g.clean), spec, group.map((g) => g.plan.corruption!.seed));
    if (out.length !== group.length) throw new Error(`internal: corrupt returned ${out.length} images for ${group.length}`);
    group.forEach((g, i) => {
      g.dispreferredImage = out[i].image;
      g.corruptionParams = out[i].params;
    });
  }
  return items;
}

// Both answers of every item in one generate call (and one log-prob call), then the records.
async function generateBatch(items: Item[], input: PrefStageInput, engine: InferenceEngine, skips: SkipLog) {
  const requests: ChatGenerateRequest[] = items.flatMap((it) => [
    { id: `${it.plan.id}#chosen`, image: it.clean, messages: [userTurn(it.plan.preferredPrompt)], sampling: input.sampling, seed: it.plan.seeds.chosen },
    { id: `${it.plan.id}#rejected`, image: it.dispreferredImage, messages: [userTurn(it.plan.dispreferredPrompt)], sampling: input.sampling, seed: it.plan.seeds.rejected },
  ]);
  const results = requests.length ? await engine.generate(requests) : [];
  if (results.length !== requests.length) throw new Error(`internal: generate returned ${results.length} results for ${requests.length} requests`);
  const kept: { it: Item; out: PairOutputs }[] = [];
  items.forEach((it, i) => {
    const [chosen, rejected] = [results[2 * i], results[2 * i + 1]];
    const empty = [chosen.text.trim() === '' && 'preferred', rejected.text.trim() === '' && 'dispreferred'].filter(Boolean);
    if (empty.length) {
      skips.add(makeFault('empty generation', it.image.file, it.image.line, it.plan.id, `the model generated an empty ${empty.join(' and ')} answer; no pair was written`));
      return;
    }
    kept.push({ it, out: { chosen, rejected, corruptionParams: it.corruptionParams } });
  });
  if (input.refLogps && kept.length) await addReferenceLogps(kept, engine);
  return kept.map(({ it, out }) =>
    preferenceRecord(it.plan, out, { image: it.image.image, imageRoot: imageRootField(input.out, input.imageRoot), sampling: input.sampling, model: engine.modelId, adapter: input.adapter ?? null, runSeed: input.plan.seed }),
  );
}

// Reference log-probs under the training prompt: the stored plain prompt with the clean image.
// One call per pair (its two answers together): a batched forward's float rounding can depend on
// what else is in the batch, and a resumed run (other batch boundaries) must store the same bits.
async function addReferenceLogps(kept: { it: Item; out: PairOutputs }[], engine: InferenceEngine): Promise<void> {
  for (const { it, out } of kept) {
    const prompt = [userTurn(it.plan.storedPrompt)];
    const lp = await engine.logprobs!([
      { id: `${it.plan.id}#chosen`, image: it.clean, prompt, response: out.chosen.text },
      { id: `${it.plan.id}#rejected`, image: it.clean, prompt, response: out.rejected.text },
    ]);
    if (lp.length !== 2) throw new Error(`internal: logprobs returned ${lp.length} results for 2 items`);
    out.ref = { chosen: lp[0].sum, rejected: lp[1].sum };
  }
}
