// Stage 2a runner: instruction samples -> descriptions JSONL {id, image, image_root, prompt, description}.
// The stage-1 model (base + stage-1 adapter) describes each sample's image with a plain prompt
// drawn per sample from (run seed, sample id), at the paper's temperature 0.2. Text-only samples
// need no description and are counted, not sent. Batches are appended and fsync'ed like stage 1a,
// so a killed run resumes to the same file; under several ranks, batches are sharded as in stage 1a.
// executeDescribe is the stage as `stic describe` and `stic run` call it.
import path from 'node:path';

import { SkipLog, makeFault } from '../../data/records/faults.ts';
import type { RecordFault } from '../../data/records/faults.ts';
import { currentWorld, isWriter } from '../../dist/launch.ts';
import { forEachBatchSharded, sharedDoneIds } from '../../dist/shard.ts';
import type { DescriptionRecord } from '../../data/records/descriptions.ts';
import { imageRootField, recordImageRoot } from '../../data/records/image_root.ts';
import { type InstructionSample, instructionFormat } from '../../data/records/instructions.ts';
import { type Located, loadRecords } from '../../data/records/load.ts';
import { userTurn } from '../../data/records/preference.ts';
import { JsonlWriter } from '../../util/jsonl_writer.ts';
import { silentProgress } from '../../util/progress.ts';
import { seededRandom } from '../../util/seeded.ts';
import type { ChatGenerateRequest, ImageApi, InferenceDeps, OpenInference, RgbImage, RequestSampling } from '../engine_api.ts';
import { claimOutputSettings, settingsPath } from '../output_settings.ts';
import { type DescribeOptions, samplingOf } from '../stage_options.ts';
import type { PromptSet } from '../../data/prompts.ts';
import { chunks } from '../../generate/batching.ts';
import { type StageEnv, type StageReport, type StageResult, closeEngine, formatStageReport, isFault, loadRecordImage, writeSkipped } from './stage_io.ts';

export interface DescribeStageInput {
  samples: (InstructionSample & Located)[];
  listingSkips?: SkipLog;
  /** --image-root: the folder the samples' image paths are relative to (default: per sample, image_root.ts). */
  imageRoot?: string;
  out: string;
  prompts: PromptSet;
  sampling: RequestSampling;
  batchSize: number;
  seed: number;
}

export interface DescribeReport extends StageReport {
  textOnly: number;
}

/** The prompt and sampling seed of one sample (a pure function of seed and id). */
export function planDescription(id: string, prompts: PromptSet, seed: number): { prompt: string; seed: number } {
  const rng = seededRandom(seed, 'describe', id);
  const prompt = prompts.plain[rng.int(prompts.plain.length)];
  return { prompt, seed: rng.u32() };
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

export async function runDescribeStage(input: DescribeStageInput, deps: InferenceDeps): Promise<DescribeReport> {
  const skips = new SkipLog();
  if (input.listingSkips) skips.addAll(input.listingSkips);
  const withImage = input.samples.filter((s) => s.image !== undefined);
  const world = currentWorld();
  const writer = isWriter() ? await JsonlWriter.open(input.out) : null;
  const done = await sharedDoneIds(world, writer?.resume.ids ?? null);
  const resumed = withImage.filter((s) => done.has(s.id)).length;
  const todo = withImage.filter((s) => !done.has(s.id));
  const bar = (deps.progress ?? silentProgress)('describe', withImage.length, resumed);
  let written = 0;
  try {
    await forEachBatchSharded(
      world,
      chunks(todo, input.batchSize),
      async (batch): Promise<{ records: DescriptionRecord[]; faults: RecordFault[] }> => {
        const batchSkips = new SkipLog();
        return { records: await describeBatch(batch, input, deps, batchSkips), faults: batchSkips.faults };
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
  return { stage: 'describe', out: input.out, total: withImage.length, resumed, written, skips, textOnly: input.samples.length - withImage.length };
}

async function describeBatch(batch: (InstructionSample & Located)[], input: DescribeStageInput, deps: InferenceDeps, skips: SkipLog): Promise<DescriptionRecord[]> {
  const ready: { s: InstructionSample; prompt: string; seed: number; image: RgbImage; root: string }[] = [];
  for (const s of batch) {
    const root = recordImageRoot(s.file, s.imageRoot, input.imageRoot);
    const image = await loadRecordImage(deps.images, { id: s.id, path: path.resolve(root.root, s.image as string), file: s.file, line: s.line, resolved: { image: s.image as string, against: root.against } });
    if (isFault(image)) {
      skips.add(image);
      continue;
    }
    ready.push({ s, image, root: imageRootField(input.out, root.root), ...planDescription(s.id, input.prompts, input.seed) });
  }
  const requests: ChatGenerateRequest[] = ready.map((r) => ({ id: r.s.id, image: r.image, messages: [userTurn(r.prompt)], sampling: input.sampling, seed: r.seed }));
  const results = requests.length ? await deps.engine.generate(requests) : [];
  if (results.length !== requests.length) throw new Error(`internal: generate returned ${results.length} results for ${requests.length} requests`);
  const out: DescriptionRecord[] = [];
  ready.forEach((r, i) => {
    const text = results[i].text.trim();
    const src = r.s as InstructionSample & Located;
    if (text === '') skips.add(makeFault('empty generation', src.file, src.line, r.s.id, 'the model generated an empty description; none was written'));
    else out.push({ id: r.s.id, image: r.s.image as string, image_root: r.root, prompt: r.prompt, description: text });
  });
  return out;
}
