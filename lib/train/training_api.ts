// What a training run is given and reports, as the trainer (lib/train/index.ts, sticTrainingEngine)
// and its callers (lib/stic's stages, tests' fakes) share it: the examples, the job, the hooks the
// caller follows the run with, the result.
import type { ChatMessage } from '../model/chat_template.ts';
import type { MetricsRow } from '../util/metrics_log.ts';
import type { ProgressFactory } from '../util/progress.ts';
import type { DpoOptions, SftOptions } from './train_options.ts';

/** A preference pair ready for training: prompt turns (with the image token), two answers. */
export interface DpoExample {
  id: string;
  /** Absolute image path. */
  image: string;
  prompt: ChatMessage[];
  chosen: string;
  rejected: string;
  refChosenLogp?: number;
  refRejectedLogp?: number;
}

/** An instruction sample ready for SFT: LLaVA turns mapped to chat roles. */
export interface SftExample {
  id: string;
  /** Absolute image path, absent for text-only samples. */
  image?: string;
  messages: ChatMessage[];
}

export interface TrainJobBase {
  model: string;
  /** Adapter directory to write (PEFT layout) plus the projector beside it. */
  out: string;
  /** Continue from an existing checkpoint in `out` when there is one. */
  resume: boolean;
  threads?: number;
}

export interface DpoJob extends TrainJobBase {
  examples: DpoExample[];
  /** Held-out pairs (--eval-prefs), evaluated every options.evalEvery steps and at the end. */
  evalExamples?: DpoExample[];
  options: DpoOptions;
}

export interface SftJob extends TrainJobBase {
  /** Stage-1 adapter to continue (STIC stage 2b continues the stage-1 LoRA). */
  initAdapter?: string;
  examples: SftExample[];
  options: SftOptions;
}

/** What tokenisation kept of a job's examples: skipped ones (kind and reason) and truncated ones. */
export interface TrainDataReport {
  kept: number;
  skipped: { id: string; kind: string; reason: string }[];
  truncated: { id: string; tokens: number }[];
}

export interface TrainHooks {
  /** Called once the examples are tokenised, before anything trains; throwing stops the run. */
  onData?(report: TrainDataReport): Promise<void> | void;
  /** Called once before the first step: where training starts (a resumed run > 0) and ends. */
  onStart(startStep: number, totalSteps: number): Promise<void> | void;
  /** Called after every optimizer step. */
  onStep(row: MetricsRow): Promise<void> | void;
  /** A warning for the user that does not stop training (e.g. a warm-up covering every step). */
  onNote?(text: string): void;
  /** Bars for the work before the first step (the reference log-prob pre-pass). */
  progress?: ProgressFactory;
  /** The memory plan chosen before the first step (lib/train/memory_plan.ts), as lines for the user. */
  onPlan?(lines: string[]): void;
}

export interface TrainResult {
  steps: number;
  adapterDir: string;
  /** The adapter carries a trained projector (PEFT modules_to_save in adapter_model.safetensors). */
  projector: boolean;
  /** Examples left out (tokenisation, or an image that failed to load during training). */
  skipped: TrainDataReport['skipped'];
  /** Examples cut to --max-length. */
  truncated: TrainDataReport['truncated'];
  /** What tokenisation kept of the held-out pairs, when there are some. */
  eval?: TrainDataReport;
}

export interface TrainingEngine {
  dpo(job: DpoJob, hooks: TrainHooks): Promise<TrainResult>;
  sft(job: SftJob, hooks: TrainHooks): Promise<TrainResult>;
}

export type OpenTraining = () => Promise<TrainingEngine>;
