// What the pipeline needs from the engines, as interfaces: the stages take these as parameters, so
// they run today against small fakes in tests and tomorrow against lib/engine (issue 3), the image
// library (issue 5) and the trainer (issue 4), through the adapters in lib/stic/engines.ts.
// Legend for shape comments: H height, W width, 3 colour channels (RGB).
import type { ImageAspect } from '../data/model_image.ts';
import type { ChatMessage } from '../data/records/preference.ts';
import type { MetricsRow } from '../util/metrics_log.ts';
import type { ProgressFactory } from '../util/progress.ts';
import type { DpoOptions, SftOptions } from './train_options.ts';

/** A decoded image: uint8 RGB, interleaved, as sharp decodes and the native kernels take it. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array; // (H, W, 3)
}

/** Corruptions of the dispreferred branch; STIC's are lowres and jitter (STIC.md stage 1a). */
export type CorruptionSpec =
  | { kind: 'lowres'; size: number } // shorter side to `size` px; preprocessing scales it back up
  | { kind: 'jitter'; brightness: [number, number]; hue: [number, number] } // factor range, hue-circle fraction range
  | { kind: 'noise'; std: number } // additive Gaussian noise on [0, 1] pixels
  | { kind: 'diffusion'; step: number; steps: number } // forward diffusion noise at `step` of a linear beta schedule
  | { kind: 'blur'; sigma: number } // Gaussian blur, pixels
  | { kind: 'mask'; patch: number; ratio: number }; // square patches of `patch` px, fraction `ratio` masked

export type CorruptionKind = CorruptionSpec['kind'];

export interface CorruptedImage {
  image: RgbImage;
  /** What the kernel drew, e.g. {kind: "jitter", brightness: 1.21, hue: -0.08, order: [...]} (provenance, JSON). */
  params: Record<string, unknown>;
}

export interface ImageApi {
  /** Decodes an image file; rejects when it is missing or unreadable (a record-level fault). */
  load(file: string): Promise<RgbImage>;
  /** Corrupts a batch with one seed per image (same seed, same result). */
  corrupt(images: RgbImage[], spec: CorruptionSpec, seeds: number[]): Promise<CorruptedImage[]>;
}

export interface SamplingOptions {
  /** 0: greedy. STIC: 0.2. */
  temperature: number;
  /** 1: off. */
  topP: number;
  /** 0: off. */
  topK: number;
  /** STIC: 1024. */
  maxNewTokens: number;
}

export interface GenerateRequest {
  /** For error messages. */
  id: string;
  image: RgbImage;
  /** Chat turns; the image token "<image>" in a user turn marks where the image goes. */
  messages: ChatMessage[];
  sampling: SamplingOptions;
  /** Per-request seed: results do not depend on what else is in the batch. */
  seed: number;
}

export interface GenerateResult {
  text: string;
  finish: 'eos' | 'length' | 'stop';
  newTokens: number;
}

export interface LogprobItem {
  id: string;
  image: RgbImage;
  /** The prompt turns (the chat template is applied by the engine, generation prompt included). */
  prompt: ChatMessage[];
  response: string;
}

export interface LogprobResult {
  /** Sum of the response tokens' log-probs. */
  sum: number;
  tokens: number;
}

export interface InferenceEngine {
  /** Model (and adapter) identity for provenance, e.g. the model directory. */
  readonly modelId: string;
  generate(requests: GenerateRequest[]): Promise<GenerateResult[]>;
  /** Present when the engine can score responses (needed for --ref-logps). */
  logprobs?(items: LogprobItem[]): Promise<LogprobResult[]>;
  close?(): Promise<void>;
}

export interface InferenceOpenOptions {
  model: string;
  adapter?: string;
  threads?: number;
  /** LLaVA-NeXT models: anyres (default) or one padded tile. */
  imageAspect?: ImageAspect;
  /** Where to say what opening costs (merging an adapter into a full copy of the model). */
  log?: (text: string) => void;
}

export type OpenInference = (options: InferenceOpenOptions) => Promise<InferenceEngine>;

// ---- training -------------------------------------------------------------------------------

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
