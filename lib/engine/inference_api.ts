// What the pipeline's stages and the evaluation need from the inference engine and the image
// library, as interfaces: the stages take these as parameters, so they run against small fakes in
// tests and against lib/engine and lib/data through the adapters in lib/stic/engine_adapters.ts.
// Legend for shape comments: H height, W width, 3 colour channels (RGB).
import type { ImageAspect } from '../data/model_image.ts';
import type { ChatMessage } from '../data/records/preference.ts';
import type { RgbImage } from '../native/contract.ts';

export type { RgbImage };

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
