// The training loop shared by DPO and SFT: resume from the newest checkpoint (or start fresh), then
// per optimizer step: the step's examples from the seeded order, their images preprocessed once,
// micro-batches whose gradients accumulate into the global batch's mean, one AdamW update with the
// scheduled learning rate of each parameter group (LoRA, projector) and global-norm clipping, the
// metrics row to the hooks (with the held-out evaluation's fields when one is due: dpo_eval.ts), and
// a checkpoint every N steps and at the end (that bookkeeping's order is step_driver.ts's, shared with
// the toy pretrainer; the checkpoints' format is lora_checkpoint.ts's). The loss-specific part
// (what one micro-batch is, how its metrics combine) is a MicroTask (dpo_task.ts, sft_task.ts).
// Bit-identical resumes follow from: the order (data_order.ts), the dropout keys (seed, step,
// micro-batch) and the learning rate (a function of the step) being pure functions of the step,
// and checkpoints holding all the rest (parameters, AdamW moments and step count).
// Under several ranks (lib/dist/data_parallel.ts) each rank computes every W-th micro-batch, the
// gradients are summed across ranks before the update, and rank 0 alone reads and writes files.

import { allReduceGradients, broadcastTrainerState, mergeFailures, ownsMicro, sumMicroMetrics } from '../dist/data_parallel.ts';
import type { Comm } from '../dist/comm.ts';
import { currentWorld, isWriter } from '../dist/launch.ts';
import type { DecoderConfig } from '../model/engine_config.ts';
import type { CommonTrainOptions } from './train_options.ts';
import type { TrainHooks } from './training_api.ts';
import { learningRateAt, warmupSteps } from '../util/lr_schedule.ts';
import type { MetricsRow } from '../util/metrics_log.ts';
import { type LoraSpec, type NamedTensor, writeAdapter } from './adapter_io.ts';
import { clearCheckpoints, latestCheckpoint, pruneCheckpoints, restoreTrainer, snapshotTrainer } from './checkpoint.ts';
import { LORA_CHECKPOINTS, type RunState, readLoraCheckpoint, runDifferences, snapshotParams, writeLoraCheckpoint } from './lora_checkpoint.ts';
import { type PixelLoader, type Skip, StepImages } from './collate.ts';
import { DataOrder } from './data_order.ts';
import { evalDue, evalInterval } from './dpo_eval.ts';
import { runSteps } from './step_driver.ts';
import type { Trainer } from './trainer_api.ts';

/** What a loss contributes: one micro-batch's work and how a step's micro-batches add up. */
export interface MicroTask<E extends { id: string; image: string | null }> {
  kind: 'dpo' | 'sft';
  /** Called once per step before its micro-batches (e.g. SFT counts the step's target tokens). */
  beginStep(examples: E[]): void;
  /** Runs one micro-batch (gradients accumulate); returns its metrics, already weighted for summing. */
  micro(trainer: Trainer, examples: E[], images: StepImages, key: { step: number; micro: number }, stepExamples: number): Promise<Record<string, number>>;
  /** Tokens an example puts through the model (for tokens/s). */
  tokens(e: E): number;
}

export interface LoopJob<E extends { id: string; image: string | null }> {
  out: string;
  resume: boolean;
  /** The base model's name in adapter_config.json (base_model_name_or_path): lib/model/model_name.ts. */
  baseModel: string;
  decoder: DecoderConfig;
  examples: E[];
  /** sha256 of the tokenised examples (checkpoint compatibility). */
  fingerprint: string;
  options: CommonTrainOptions;
  /** Options that change the trajectory, recorded in checkpoints and compared on resume. */
  runOptions: Record<string, unknown>;
  lora: LoraSpec;
  trainProjector: boolean;
  pixels: PixelLoader;
  /** Checkpoints kept (newest first). Default 2. */
  keepCheckpoints?: number;
  /** Held-out evaluation (DPO --eval-prefs): its fields join the row of each step after which it is due, before the checkpoint. */
  evaluate?: { every: number; run(trainer: Trainer): Promise<Record<string, number>> };
  /** A projector that does not train but goes with the final adapter (stage 2 keeping stage 1's). */
  carriedProjector?: NamedTensor[];
}

export interface LoopResult {
  steps: number;
  startStep: number;
  adapterDir: string;
  /** The adapter carries a projector (trained, or carried: PEFT modules_to_save). */
  projector: boolean;
  /** Examples left out of a step because their image could not be loaded. */
  skips: Skip[];
}

/** Trains `job` on `trainer` to the end (or resumes it there) and writes the final adapter into job.out. */
export async function runLoop<E extends { id: string; image: string | null }>(trainer: Trainer, job: LoopJob<E>, task: MicroTask<E>, hooks: TrainHooks): Promise<LoopResult> {
  const o = job.options;
  const order = new DataOrder({ examples: job.examples.length, batchSize: o.batchSize, gradAccum: o.gradAccum, epochs: o.epochs, seed: o.seed });
  const total = plannedSteps(order, o);
  const idle = idleScheduleNote(o, total);
  if (idle) hooks.onNote?.(idle);
  const { comm } = currentWorld();
  const startStep = await comm.broadcastJson(0, isWriter() ? await resumeOrStart(trainer, job, task.kind, total) : 0);
  await broadcastTrainerState(comm, trainer);
  const at: StepContext<E> = { trainer, job, task, order, total, comm, skips: [] };
  if (isWriter()) await hooks.onStart(startStep, total);
  const evaluate = job.evaluate;
  await runSteps({
    start: startStep,
    total,
    // Every rank trains every step (its share of the micro-batches); rank 0 alone evaluates, records and checkpoints.
    train: async (s) => {
      const row = await trainStep(at, s);
      return isWriter() ? row : null;
    },
    ...(evaluate ? { evaluation: { due: (done: number) => evalDue(done, evalInterval(evaluate.every, total), total), run: () => evaluate.run(trainer) } } : {}),
    record: (row) => hooks.onStep(row),
    checkpointEvery: o.checkpointEvery,
    checkpoint: (done) => saveCheckpoint(trainer, job, task.kind, order, done),
  });
  const final = isWriter() ? await writeFinal(trainer, job) : { adapterDir: job.out, projector: job.trainProjector || (job.carriedProjector?.length ?? 0) > 0 };
  return { ...final, steps: total, startStep, skips: at.skips };
}

/** What every step of a run works with. */
interface StepContext<E extends { id: string; image: string | null }> {
  trainer: Trainer;
  job: LoopJob<E>;
  task: MicroTask<E>;
  order: DataOrder;
  total: number;
  comm: Comm;
  /** Examples left out so far (images that did not load), appended to by each step. */
  skips: Skip[];
}

/**
 * Optimizer step `s`: its examples from the seeded order, their images, the micro-batches this rank
 * owns (gradients accumulate), the gradients and metrics summed over ranks, one AdamW update at the
 * scheduled rates. Returns the step's metrics row.
 */
async function trainStep<E extends { id: string; image: string | null }>(at: StepContext<E>, s: number): Promise<MetricsRow> {
  const { trainer, job, task, order, total, comm, skips } = at;
  const o = job.options;
  const t0 = performance.now();
  const slice = order.step(s);
  const all = slice.micro.flat().map((i) => job.examples[i]);
  const mine = slice.micro.filter((_, u) => ownsMicro(comm, u)).flat().map((i) => job.examples[i]);
  const images = await StepImages.load(mine.map((e) => e.image), job.pixels);
  const failures = await mergeFailures(comm, images.failures);
  const usable = (ids: number[]) =>
    ids.map((i) => job.examples[i]).filter((e) => {
      if (e.image === null || !failures.has(e.image)) return true;
      skips.push({ id: e.id, kind: 'image unreadable', reason: `image ${e.image} could not be loaded at step ${s}: ${failures.get(e.image)}` });
      return false;
    });
  const micro = slice.micro.map((ids, u) => ({ u, examples: usable(ids) })).filter((m) => m.examples.length > 0);
  const stepExamples = micro.reduce((n, m) => n + m.examples.length, 0);
  if (stepExamples === 0) throw new Error(`step ${s}: none of its ${all.length} examples has a loadable image (first: ${skips[skips.length - 1]?.reason})`);
  task.beginStep(micro.flatMap((m) => m.examples));
  const done: { j: number; metrics: Record<string, number> }[] = [];
  let tokens = 0;
  for (let j = 0; j < micro.length; j++) {
    tokens += micro[j].examples.reduce((n, e) => n + task.tokens(e), 0);
    if (!ownsMicro(comm, micro[j].u)) continue;
    done.push({ j, metrics: await task.micro(trainer, micro[j].examples, images, { step: s, micro: j }, stepExamples) });
  }
  const sums = await sumMicroMetrics(comm, done);
  await allReduceGradients(comm, trainer);
  const lr = learningRateAt({ kind: o.schedule, lr: o.lr, totalSteps: total, warmupRatio: o.warmupRatio }, s);
  const projectorLr = learningRateAt({ kind: o.schedule, lr: o.projectorLr, totalSteps: total, warmupRatio: o.warmupRatio }, s);
  const opt = await trainer.optimizerStep({
    lora: { lr, weightDecay: o.weightDecay },
    ...(job.trainProjector ? { projector: { lr: projectorLr, weightDecay: o.weightDecay } } : {}),
    maxGradNorm: o.maxGradNorm,
    beta1: o.adamBeta1,
    beta2: o.adamBeta2,
    eps: o.adamEps,
  });
  const seconds = (performance.now() - t0) / 1000;
  return {
    step: s,
    epoch: (s + 1) / order.stepsPerEpoch,
    lr,
    ...(job.trainProjector ? { projector_lr: projectorLr } : {}),
    loss: sums.loss,
    ...withoutLoss(sums),
    grad_norm: opt.gradNorm,
    examples: stepExamples,
    tokens,
    tokens_per_s: tokens / seconds,
    ...(opt.skipped ? { skipped_update: 1 } : {}),
  };
}

// Warm-up starts at learning rate 0 (lr_schedule.ts); when it spans every step, nothing trains at
// the peak rate (a one-step run trains at lr 0: nothing at all). A warning, not an error: tiny smoke
// runs hit it by design.
function idleScheduleNote(o: CommonTrainOptions, total: number): string | null {
  const warm = warmupSteps({ totalSteps: total, warmupRatio: o.warmupRatio });
  if (warm < total) return null;
  return (
    `--warmup-ratio ${o.warmupRatio} of ${total} step${total > 1 ? 's' : ''} warms up for ${warm}: the learning rate starts at 0 and never reaches --lr` +
    `${total === 1 ? ' (this run changes nothing)' : ''}. Lower --warmup-ratio (0 turns warm-up off), or train more steps (more data, --epochs, a smaller --batch-size)`
  );
}

function withoutLoss(sums: Record<string, number>): Record<string, number> {
  const { loss: _loss, ...rest } = sums;
  return rest;
}

/** The optimizer steps this run makes: every step of --epochs, or --max-steps of them when smaller. */
function plannedSteps(order: DataOrder, o: CommonTrainOptions): number {
  return o.maxSteps > 0 ? Math.min(order.totalSteps, o.maxSteps) : order.totalSteps;
}

function runState(job: LoopJob<{ id: string; image: string | null }>, kind: 'dpo' | 'sft', order: DataOrder, done: number, adamStep: number): RunState {
  const pos = order.position(done);
  return {
    format: 'stic-train-checkpoint',
    version: 1,
    kind,
    step: done,
    totalSteps: plannedSteps(order, job.options),
    adamStep,
    data: { epoch: pos.epoch, index: pos.index, seed: job.options.seed, examples: job.examples.length, fingerprint: job.fingerprint },
    options: job.runOptions,
    lora: job.lora,
    trainProjector: job.trainProjector,
  };
}

async function saveCheckpoint<E extends { id: string; image: string | null }>(trainer: Trainer, job: LoopJob<E>, kind: 'dpo' | 'sft', order: DataOrder, done: number): Promise<void> {
  const snap = await snapshotTrainer(trainer);
  await writeLoraCheckpoint(job.out, runState(job, kind, order, done, snap.adamStep), snap, job.baseModel, keepCheckpoints(job));
}

function keepCheckpoints(job: LoopJob<{ id: string; image: string | null }>): number {
  return job.keepCheckpoints ?? job.options.saveTotalLimit;
}

/** Restores the newest compatible checkpoint (returns its step) or starts at 0. */
async function resumeOrStart<E extends { id: string; image: string | null }>(trainer: Trainer, job: LoopJob<E>, kind: 'dpo' | 'sft', total: number): Promise<number> {
  if (!job.resume) {
    await clearCheckpoints(job.out, LORA_CHECKPOINTS);
    return 0;
  }
  const found = await latestCheckpoint<RunState>(job.out, LORA_CHECKPOINTS);
  if (!found) return 0;
  const want = runState(job, kind, new DataOrder({ examples: job.examples.length, batchSize: job.options.batchSize, gradAccum: job.options.gradAccum, epochs: job.options.epochs, seed: job.options.seed }), 0, 0);
  const diffs = runDifferences(found.state, want, total);
  if (diffs.length > 0) {
    throw new Error(`${found.dir}: this checkpoint belongs to a different run (${diffs.join('; ')}); train into another --out, or move ${LORA_CHECKPOINTS.root(job.out)} away to start over`);
  }
  const snap = await readLoraCheckpoint(found.dir, trainer.tensorInfo(), job.decoder, found.state.adamStep);
  await restoreTrainer(trainer, snap);
  await pruneCheckpoints(job.out, LORA_CHECKPOINTS, keepCheckpoints(job));
  return found.state.step;
}

/** The trained adapter (PEFT layout, the trained or carried projector as modules_to_save), written into job.out. */
async function writeFinal<E extends { id: string; image: string | null }>(trainer: Trainer, job: LoopJob<E>): Promise<{ adapterDir: string; projector: boolean }> {
  const snap = await snapshotTrainer(trainer);
  const lora: NamedTensor[] = snapshotParams(snap, 'lora');
  const trained = snapshotParams(snap, 'projector');
  const projector = trained.length > 0 ? trained : (job.carriedProjector ?? []);
  await writeAdapter(job.out, { spec: job.lora, tensors: lora, baseModel: job.baseModel, projector });
  return { adapterDir: job.out, projector: projector.length > 0 };
}
