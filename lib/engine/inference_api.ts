// What the pipeline's stages and the evaluation need from the inference engine and the image
// library, as interfaces: the stages take these as parameters, so they run against small fakes in
// tests and against lib/engine and lib/data through the adapters in lib/stic/engine_adapters.ts.
// The requests here are chat-level (turns of text, a decoded image, named by id: ChatGenerateRequest,
// ChatLogprobItem); LlavaModel's GenerateRequest and LogprobItem (llava_model.ts) are the token-level
// ones the adapters turn them into (prompt ids with the image tokens expanded, processed pixels).
// Sampling and finish reasons are lib/generate's types; corruption specs are lib/data/corrupt.ts's.
// Legend for shape comments: H height, W width, 3 colour channels (RGB).
import type { ImageAspect } from '../data/model_image.ts';
import type { CorruptionSpec } from '../data/corrupt.ts';
import type { ChatMessage } from '../model/chat_template.ts';
import type { FinishReason } from '../generate/driver.ts';
import type { SamplingOptions } from '../generate/sampling.ts';
import type { RgbImage } from '../native/contract.ts';
import type { ProgressFactory } from '../util/progress.ts';

export type { RgbImage };

export type { CorruptionSpec };

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

/**
 * The sampling of a stage's requests: lib/generate's SamplingOptions, every field given (STIC:
 * temperature 0.2, up to 1024 new tokens); a request's seed is its own field.
 */
export type RequestSampling = Required<Pick<SamplingOptions, 'temperature' | 'topP' | 'topK' | 'maxNewTokens'>>;

export interface ChatGenerateRequest {
  /** For error messages. */
  id: string;
  image: RgbImage;
  /** Chat turns; the image token "<image>" in a user turn marks where the image goes. */
  messages: ChatMessage[];
  sampling: RequestSampling;
  /** Per-request seed: results do not depend on what else is in the batch. */
  seed: number;
}

export interface ChatGenerateResult {
  text: string;
  finish: FinishReason;
  newTokens: number;
}

export interface ChatLogprobItem {
  id: string;
  image: RgbImage;
  /** The prompt turns (the chat template is applied by the engine, generation prompt included). */
  prompt: ChatMessage[];
  response: string;
}

export interface ChatLogprobResult {
  /** Sum of the response tokens' log-probs. */
  sum: number;
  tokens: number;
}

export interface InferenceEngine {
  /** Model (and adapter) identity for provenance, e.g. the model directory. */
  readonly modelId: string;
  generate(requests: ChatGenerateRequest[]): Promise<ChatGenerateResult[]>;
  /** Present when the engine can score responses (needed for --ref-logps). */
  logprobs?(items: ChatLogprobItem[]): Promise<ChatLogprobResult[]>;
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

/** What a generation run works with (a generation stage of the pipeline, a benchmark's predictions). */
export interface InferenceDeps {
  engine: InferenceEngine;
  images: ImageApi;
  progress?: ProgressFactory;
}

export type OpenInference = (options: InferenceOpenOptions) => Promise<InferenceEngine>;
