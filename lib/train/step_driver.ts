// The bookkeeping around every optimizer step of a training run, in one order for every run that
// trains (the LoRA stages' loop.ts and the toy pretrainer's lib/pretrain/toy_pretrain.ts):
//   train the step (the run's own: its data, native steps and the optimizer step at the schedule's
//   rate; it returns the step's metrics row) -> the evaluation, when one is due (its fields join the
//   row) -> record the row (metrics log, progress) -> the checkpoint, when due -> onStep -> stop
//   when asked.
// The evaluation comes before the row is recorded so that its fields can join it, and both before
// the checkpoint: a run killed between them redoes the step's evaluation and row on resume (each
// run's logs drop the rows after its checkpoint).
// What stays with each run, because it differs in kind and not only in value: what a step trains on
// (the LoRA stages: micro-batches of a shuffled order over their examples, images loaded per step,
// gradients summed over ranks; the pretrainer: a batch of fresh scenes drawn while the previous step
// runs), the optimizer's parameter groups and learning rates (the LoRA stages: a rate for the
// adapters and one for the projector; the pretrainer: one rate, frozen tensors), what a row holds,
// and what an evaluation writes (the LoRA stages: eval_* fields of the row; the pretrainer: a row of
// eval.jsonl and the model folder).
import type { MetricsRow } from '../util/metrics_log.ts';

/** One run's steps start..total-1 as the driver runs them. */
export interface StepPlan {
  /** The first step to train (a resumed run's checkpoint step) and the run's number of steps. */
  start: number;
  total: number;
  /** Trains step `step` and returns its metrics row; null where this process records nothing (a rank other than 0: lib/dist). */
  train(step: number): Promise<MetricsRow | null>;
  /** An evaluation and when it is due (after `done` steps); its fields join the row (none: it keeps its own log). */
  evaluation?: { due(done: number): boolean; run(done: number): Promise<Record<string, number>> };
  /** Records a step's row (metrics log, progress). */
  record(row: MetricsRow): Promise<void> | void;
  /** A checkpoint is written after every `checkpointEvery` steps and after the last. */
  checkpointEvery: number;
  checkpoint(done: number): Promise<void>;
  /** Called after each step and its checkpoint with the number of steps done. */
  onStep?(done: number): void;
  /** Stops the run after the current step (its checkpoint written when due), throwing stop.error(done). */
  stop?: { signal: AbortSignal; error(done: number): Error };
}

/** Runs the steps of `plan`. */
export async function runSteps(plan: StepPlan): Promise<void> {
  for (let s = plan.start; s < plan.total; s++) {
    const row = await plan.train(s);
    if (row === null) continue;
    const done = s + 1;
    if (plan.evaluation?.due(done)) Object.assign(row, await plan.evaluation.run(done));
    await plan.record(row);
    if (done % plan.checkpointEvery === 0 || done === plan.total) await plan.checkpoint(done);
    plan.onStep?.(done);
    if (plan.stop?.signal.aborted) throw plan.stop.error(done);
  }
}
