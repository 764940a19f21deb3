// The training engine of the STIC pipeline (lib/stic/engine_api.ts TrainingEngine): `stic dpo`,
// `stic sft` and `stic run` reach it through lib/stic/engines.ts, which imports this file at run time.
// Each stage: load the model, tokenise the examples once, create the native trainer (LoRA on the
// chosen decoder linears, optionally a trainable projector), settle the reference log-probs (DPO),
// then the loop (loop.ts) with checkpoints and resume; the adapter (PEFT layout) and the projector
// end up in job.out; skipped and truncated examples are returned (lib/stic lists them in
// job.out/skipped.jsonl and the summary).
import { createHash } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';

import { isWriter } from '../dist/launch.ts';
import { native } from '../native/index.ts';
import type { LlavaTrainerNative, LoraTargetModule } from '../native/contract.ts';
import type { DpoExample, DpoJob, SftJob, TrainDataReport, TrainHooks, TrainResult, TrainingEngine } from './training_api.ts';
import type { CommonTrainOptions } from './train_options.ts';
import { portablePath } from '../util/portable_path.ts';
import { type Adapter, type LoraSpec, adapterProjector, readAdapter, targetModule } from './adapter_io.ts';
import { CHECKPOINTS_DIR } from './lora_checkpoint.ts';
import { type Skip, type TokenizedPair, type TokenizedSft, tokenizePairs, tokenizeSft } from './collate.ts';
import { type DpoEvalSet, evaluateDpo } from './dpo_eval.ts';
import { type LoopJob, runLoop } from './loop.ts';
import { type ExampleExtent, featureRowsPerImage, formatPlan, largestStep, pairExtent, sftExtent, trainingMemoryPlan } from './memory_plan.ts';
import { type TrainingModel, encoderForImages, loadTrainingModel } from './model_load.ts';
import { REFERENCE_FILE, type ReferenceOptions, dpoReferences } from './reference.ts';
import { dpoTask, sftTask } from './tasks.ts';
import { adoptEarlierLayout, workPath } from './work_dir.ts';
import type { Trainer } from './trainer_api.ts';
import { baseModelName } from '../model/model_name.ts';

export { readAdapter, writeAdapter, peftAdapterConfig } from './adapter_io.ts';
export { exportMerged } from './merge_export.ts';
export { adapterForLoad } from './adapted_model.ts';

/** The entry point lib/stic/engines.ts looks for. */
export async function sticTrainingEngine(): Promise<TrainingEngine> {
  return { dpo: trainDpo, sft: trainSft };
}

function nativeTargets(spec: LoraSpec): LoraTargetModule[] {
  return spec.targets.map(targetModule);
}

async function createTrainer(m: TrainingModel, spec: LoraSpec, trainProjector: boolean, seed: number): Promise<LlavaTrainerNative> {
  return native().createTrainer(m.model, { lora: { r: spec.r, alpha: spec.alpha, dropout: spec.dropout, targets: nativeTargets(spec), seed }, trainProjector });
}

/** The memory plan of the run's largest micro-batch, shown through the hooks; refuses a run that does not fit. Returns the choice. */
function planMemory(trainer: LlavaTrainerNative, m: TrainingModel, examples: ExampleExtent[], o: CommonTrainOptions, hooks: TrainHooks): boolean {
  const step = largestStep(examples, o.batchSize / o.gradAccum, native().trainPassRowBudget, featureRowsPerImage(m));
  const plan = trainingMemoryPlan(trainer, m.model, step, o);
  hooks.onPlan?.(formatPlan(plan));
  return plan.checkpointing;
}

/** The options every checkpoint of a stage must agree on (checkpointEvery and imageRoot may change). */
function commonRunOptions(o: CommonTrainOptions): Record<string, unknown> {
  return {
    lr: o.lr, projectorLr: o.projectorLr, schedule: o.schedule, warmupRatio: o.warmupRatio, epochs: o.epochs, batchSize: o.batchSize,
    gradAccum: o.gradAccum, maxLength: o.maxLength, weightDecay: o.weightDecay, maxGradNorm: o.maxGradNorm, seed: o.seed,
    adamBeta1: o.adamBeta1, adamBeta2: o.adamBeta2, adamEps: o.adamEps,
  };
}

function fingerprint(parts: { id: string; image: string | null; arrays: ArrayBufferView[] }[]): string {
  const h = createHash('sha256');
  for (const p of parts) {
    h.update(`${p.id}\u0000${p.image ?? ''}\u0000`);
    for (const a of p.arrays) h.update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength)).update('|');
  }
  return h.digest('hex');
}

// The output folder (rank 0 alone writes: lib/dist), with a run of the earlier layout's resume
// state moved under work/.
async function prepareOut(out: string): Promise<void> {
  await mkdir(out, { recursive: true });
  await adoptEarlierLayout(out, [CHECKPOINTS_DIR, REFERENCE_FILE]);
}

function noExamples(what: string, total: number, skips: Skip[]): Error {
  const first = skips[0] ? ` (first: ${skips[0].id}: ${skips[0].reason})` : '';
  return new Error(`expected at least one ${what} to train on but all ${total} were skipped${first}`);
}

async function trainDpo(job: DpoJob, hooks: TrainHooks): Promise<TrainResult> {
  const o = job.options;
  if (job.threads !== undefined) native().setThreads(job.threads);
  if (isWriter()) await prepareOut(job.out);
  const m = await loadTrainingModel(job.model, undefined, { aspect: o.imageAspect });
  const encoder = await encoderForImages(m, job.examples.map((e) => e.image));
  const { examples, skips, truncated } = tokenizePairs(encoder, job.examples, o.maxLength);
  await hooks.onData?.({ kept: examples.length, skipped: skips, truncated });
  if (examples.length === 0) throw noExamples('preference pair', job.examples.length, skips);
  const spec: LoraSpec = { r: o.loraR, alpha: o.loraAlpha, dropout: o.loraDropout, targets: o.loraTargets };
  const trainer = await createTrainer(m, spec, o.trainProjector, o.seed);
  const microSize = o.batchSize / o.gradAccum;
  const heldOut = job.evalExamples?.length ? await tokenizeHeldOut(m, job.evalExamples, o) : null;
  // Held-out passes have no backward, so planning them as training steps over-estimates: a safe bound.
  const gradCheckpointing = planMemory(trainer, m, [...examples, ...(heldOut?.pairs ?? [])].map(pairExtent), o, hooks);
  const at = { pixels: m.pixels, model: m.dir, file: workPath(job.out, REFERENCE_FILE), batch: microSize, ...(hooks.progress ? { progress: hooks.progress } : {}) };
  const refs = await dpoReferences(trainer, examples, o, at);
  const loopJob: LoopJob<TokenizedPair> = {
    ...baseLoopJob(job.out, job.resume, m, o, spec),
    examples,
    fingerprint: pairFingerprint(examples, job.out),
    runOptions: {
      ...commonRunOptions(o),
      beta: o.beta, loss: o.loss, sftWeight: o.sftWeight, sftNorm: o.sftNorm, rejectedLogp: o.rejectedLogp, reproduceReferenceDrift: o.reproduceReferenceDrift,
      reference: refs.source,
    },
  };
  const held = heldOut ? { set: await heldOutSet(trainer, heldOut.pairs, o, at), report: heldOut.report } : null;
  if (held) {
    loopJob.evaluate = { every: o.evalEvery, run: (t) => evaluateDpo(t, held.set) };
    loopJob.runOptions.eval = { every: o.evalEvery, fingerprint: pairFingerprint(held.set.pairs, job.out) };
  }
  const r = await runLoop(trainer, loopJob, dpoTask({ options: o, refs: refs.map, gradCheckpointing }), hooks);
  return { steps: r.steps, adapterDir: r.adapterDir, projector: r.projector, skipped: [...skips, ...r.skips], truncated, ...(held ? { eval: held.report } : {}) };
}

function pairFingerprint(pairs: TokenizedPair[], out: string): string {
  return fingerprint(pairs.map((e) => ({ id: e.id, image: portablePath(e.image, out), arrays: [e.promptIds, e.chosenIds, e.rejectedIds] })));
}

// The held-out pairs tokenised as training's are.
async function tokenizeHeldOut(m: TrainingModel, examples: DpoExample[], o: DpoJob['options']): Promise<{ pairs: TokenizedPair[]; report: TrainDataReport }> {
  const { examples: pairs, skips, truncated } = tokenizePairs(await encoderForImages(m, examples.map((e) => e.image)), examples, o.maxLength);
  if (pairs.length === 0) throw noExamples('held-out pair (--eval-prefs)', examples.length, skips);
  return { pairs, report: { kept: pairs.length, skipped: skips, truncated } };
}

// The held-out set with reference log-probs from the same reference as training's (the pre-pass
// shares training's cache file: its lines are keyed by content).
async function heldOutSet(trainer: Trainer, pairs: TokenizedPair[], o: DpoJob['options'], at: Omit<ReferenceOptions, 'rejectedMode'>): Promise<DpoEvalSet> {
  const refs = await dpoReferences(trainer, pairs, o, at);
  return { pairs, refs: refs.map, options: o, pixels: at.pixels, batch: at.batch };
}

function baseLoopJob(out: string, resume: boolean, m: TrainingModel, o: CommonTrainOptions, spec: LoraSpec) {
  return {
    out,
    resume,
    baseModel: baseModelName(m.dir),
    decoder: m.config.decoder,
    options: o,
    lora: spec,
    trainProjector: o.trainProjector,
    pixels: m.pixels,
  };
}

async function trainSft(job: SftJob, hooks: TrainHooks): Promise<TrainResult> {
  const o = job.options;
  if (job.threads !== undefined) native().setThreads(job.threads);
  if (isWriter()) await prepareOut(job.out);
  const init = job.initAdapter ?? o.initAdapter;
  const initProjector = init !== undefined ? await adapterProjector(init) : [];
  // The stage-1 projector (when it trained one) replaces the checkpoint's: stage 2 continues the
  // stage-1 model, and with --no-train-projector it stays as stage 1 left it.
  const m = await loadTrainingModel(job.model, initProjector, { aspect: o.imageAspect });
  let adapter: Adapter | null = null;
  let spec: LoraSpec = { r: o.loraR, alpha: o.loraAlpha, dropout: o.loraDropout, targets: o.loraTargets };
  if (init !== undefined) {
    adapter = await readAdapter(init, m.config.decoder);
    // Continuing an adapter means its rank, alpha and targets; dropout is a training choice.
    spec = { ...adapter.spec, dropout: o.loraDropout };
  }
  const { examples, skips, truncated } = tokenizeSft(await encoderForImages(m, job.examples.map((e) => e.image)), job.examples, o.maxLength);
  await hooks.onData?.({ kept: examples.length, skipped: skips, truncated });
  if (examples.length === 0) throw noExamples('instruction sample', job.examples.length, skips);
  const trainer = await createTrainer(m, spec, o.trainProjector, o.seed);
  if (adapter) await trainer.setTensors('param', adapter.tensors.map((t) => ({ name: t.name, data: t.data })));
  const gradCheckpointing = planMemory(trainer, m, examples.map(sftExtent), o, hooks);
  const loopJob: LoopJob<TokenizedSft> = {
    ...baseLoopJob(job.out, job.resume, m, o, spec),
    examples,
    fingerprint: fingerprint(examples.map((e) => ({ id: e.id, image: portablePath(e.image, job.out), arrays: [e.ids, e.mask] }))),
    runOptions: { ...commonRunOptions(o), initAdapter: init === undefined ? null : path.resolve(init) },
    // The stage-2 model uses the stage-1 projector as it is (--no-train-projector): it goes with the adapter too.
    carriedProjector: adapter?.projector ?? [],
  };
  const r = await runLoop(trainer, loopJob, sftTask(gradCheckpointing), hooks);
  return { steps: r.steps, adapterDir: r.adapterDir, projector: r.projector, skipped: [...skips, ...r.skips], truncated };
}
