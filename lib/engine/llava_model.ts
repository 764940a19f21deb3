// The LLaVA engine's TypeScript API: load a model directory, generate, score (log-probs), and the
// diagnostic accessors the reference fixtures check (vision hidden states, image features, full
// logits). Everything is async; inputs are validated here, before any native work is queued, with
// messages that name the request (`requests[2].ids[5]`). Native code does the math
// (native/model/); this file owns policy: batching, seeds, stop strings, text.
// Legend: N images, S image side, T tokens, V vocab, Ti image tokens per image, D decoder hidden,
// P patches, Dv vision hidden.
import { existsSync } from 'node:fs';
import path from 'node:path';

import type { EngineConfig } from '../model/engine_config.ts';
import { loadTokenizer } from '../model/tokenizer.ts';
import type { ModelImage } from '../data/model_image.ts';
import { native } from '../native/index.ts';
import type { LlavaModelNative, TensorSourceEntry, NativeGenerationItem, NativeScoredSequence, NativeSequence } from '../native/contract.ts';
import { batchRanges, packImages } from '../generate/batching.ts';
import { DEFAULT_STOP_CHUNK, type GenerateResult, type TokenDecoder, runGeneration } from '../generate/driver.ts';
import { type ResolvedSampling, type SamplingOptions, resolveDefaults, resolveSampling } from '../generate/sampling.ts';
import { checkArray, checkInt, expectedError } from '../util/expect.ts';
import { checkIds, checkImage, checkImageTokens, checkSequenceLength } from './validate.ts';
import { modelSources } from './model_sources.ts';

export interface LoadModelOptions {
  /** A checkpoint (a .safetensors file, an index .json, or a directory) to read instead of `dir`'s own. */
  weights?: string;
  /** Original LLaVA layout: the CLIP checkpoint directory (else found from mm_vision_tower). */
  visionTowerPath?: string;
  /** Turns ids into text. Default: `dir`/tokenizer.json when present (special tokens skipped), else none. */
  tokenizer?: TokenDecoder | null;
  /**
   * How the matrices are held: 'stored' (default) keeps BF16/F16 checkpoints in their own dtype
   * (mapped from the file where possible; the GEMMs widen them to F32 as they read, F32 compute);
   * 'fp32' widens every matrix to F32 at load (for checking the stored-dtype path, 2x the memory).
   */
  dtype?: WeightDTypeOption;
  /** A LoRA adapter applied in memory at load (merged per linear; see InMemoryAdapter). */
  adapter?: InMemoryAdapter;
}

/**
 * A LoRA adapter as the engine applies it at load: each targeted linear (engine name) becomes
 * W + (alpha / r) B A, a private copy in the stored dtype, rounded once, as a merged export holds it;
 * projector: sources (engine names) that replace the checkpoint's projector (a trained one).
 * lib/train's adapterForLoad reads one from an adapter folder.
 */
export interface InMemoryAdapter {
  alpha: number;
  tensors: { weight: string; r: number; A: Float32Array; B: Float32Array }[];
  projector: TensorSourceEntry[];
}

/** LoadModelOptions.dtype: keep the checkpoint's matrix dtype, or widen every matrix to F32. */
export type WeightDTypeOption = 'stored' | 'fp32';
export const WEIGHT_DTYPE_OPTIONS: readonly WeightDTypeOption[] = ['stored', 'fp32'];

/** An image input: normalised pixels (3, S, S) of one tile, or a processed image (lib/data/image_processor.ts). */
export type ImageInput = Float32Array | ModelImage;

/** One prompt to continue. `ids` already hold the expanded image tokens (image.tokens of them; Ti for a tile). */
export interface GenerateRequest extends SamplingOptions {
  ids: ArrayLike<number>;
  /** The image of the image tokens in ids; requests may share one (its pixels are encoded once). */
  image?: ImageInput | null;
}

export interface GenerateOptions extends SamplingOptions {
  /** Requests per native generation batch (each with its own KV cache rows). Default 8. */
  batchSize?: number;
  /** Tokens per native call while stop strings are watched for. Default 16. */
  stopChunk?: number;
  /** Token ids that end a generation. Default: the model's (config.json and generation_config.json). */
  eosTokenIds?: number[];
}

/** A response to score given its prompt (and image). */
export interface LogprobItem {
  promptIds: ArrayLike<number>;
  responseIds: ArrayLike<number>;
  image?: ImageInput | null;
}

export interface LogprobResult {
  /** log p(response token t | everything before it), one per response token. */
  tokenLogps: Float32Array;
  /** Their sum (accumulated in float64). */
  sum: number;
}

/** A full sequence for fullLogits. */
export interface SequenceInput {
  ids: ArrayLike<number>;
  image?: ImageInput | null;
}

export interface ModelMemory {
  /** Bytes of every weight, copied or mapped. */
  weightBytes: number;
  /** Of weightBytes, those mapped from the checkpoint files (shared with the page cache). */
  mappedWeightBytes: number;
  /** The dtype most matrix bytes are held in. */
  weightDType: 'F32' | 'BF16' | 'F16';
  /** KV cache and activations of the most recent generation batch, or null before the first. */
  lastGeneration: { kvCacheBytes: number; activationBytes: number } | null;
}

interface CheckedSequence {
  ids: Int32Array;
  image: ModelImage | null;
}

export class LlavaModel {
  private lastGeneration: ModelMemory['lastGeneration'] = null;

  private constructor(
    readonly dir: string,
    readonly config: EngineConfig,
    private readonly impl: LlavaModelNative,
    readonly tokenizer: TokenDecoder | null,
  ) {}

  /** Reads config.json (and what completes it), maps the checkpoint's tensor names and loads the weights. */
  static async load(dir: string, opts: LoadModelOptions = {}): Promise<LlavaModel> {
    const { root, config, sources } = await modelSources(dir, {
      ...(opts.visionTowerPath !== undefined ? { visionTowerPath: opts.visionTowerPath } : {}),
      ...(opts.weights !== undefined ? { weights: opts.weights } : {}),
      ...(opts.adapter !== undefined ? { replacements: opts.adapter.projector } : {}),
    });
    const dtype = opts.dtype ?? 'stored';
    if (!WEIGHT_DTYPE_OPTIONS.includes(dtype)) throw expectedError(`one of ${WEIGHT_DTYPE_OPTIONS.join(', ')}`, 'options.dtype', dtype);
    const impl = await native().loadLlava(config, sources, {
      dtype: dtype === 'fp32' ? 'F32' : 'stored',
      ...(opts.adapter !== undefined ? { adapter: { alpha: opts.adapter.alpha, tensors: opts.adapter.tensors } } : {}),
    });
    return new LlavaModel(root, config, impl, opts.tokenizer !== undefined ? opts.tokenizer : defaultTokenizer(root));
  }

  memory(): ModelMemory {
    const m = this.impl.memory();
    return { weightBytes: m.weightBytes, mappedWeightBytes: m.mappedWeightBytes, weightDType: m.weightDType, lastGeneration: this.lastGeneration };
  }

  /** Continues each prompt; results in request order. */
  async generate(requests: GenerateRequest[], options: GenerateOptions = {}): Promise<GenerateResult[]> {
    checkArray(requests, 'requests', 'an array of generation requests');
    const defaults = resolveDefaults(options);
    const batchSize = options.batchSize === undefined ? 8 : checkInt(options.batchSize, 'options.batchSize', 1);
    const stopChunk = options.stopChunk === undefined ? DEFAULT_STOP_CHUNK : checkInt(options.stopChunk, 'options.stopChunk', 1);
    const eos = options.eosTokenIds === undefined ? this.config.decoder.eosTokenIds : checkEosIds(options.eosTokenIds, this.config.decoder.vocabSize);
    const checked = requests.map((r, i) => {
      const where = `requests[${i}]`;
      if (typeof r !== 'object' || r === null) throw expectedError('a generation request object', where, r);
      const seq = this.checkSequence(r.ids, r.image, where);
      const sampling = resolveSampling(r, defaults, i, where);
      checkSequenceLength(seq.ids.length + sampling.maxNewTokens, where, this.config);
      if (sampling.stop.length > 0 && !this.tokenizer) {
        throw new Error(`${where}.stop: stop strings are matched on decoded text, but the model at ${this.dir} has no tokenizer (no tokenizer.json)`);
      }
      return { seq, sampling };
    });
    const results: GenerateResult[] = [];
    for (const [start, end] of batchRanges(checked.length, batchSize)) {
      const batch = checked.slice(start, end);
      const images = packImages(batch.map((b) => b.seq.image));
      const items: NativeGenerationItem[] = batch.map((b, j) => ({ ...this.nativeSequence(b.seq, images.index[j]), ...nativeSampling(b.sampling) }));
      const gen = this.impl.startGeneration(images.pixels, images.layouts, items, eos);
      results.push(...(await runGeneration(gen, batch.map((b) => b.sampling), this.tokenizer, stopChunk)));
      this.lastGeneration = gen.memory();
    }
    return results;
  }

  /** Per-token and summed log-probs of each response given its prompt and image. */
  async logprobs(items: LogprobItem[], options: { batchSize?: number } = {}): Promise<LogprobResult[]> {
    checkArray(items, 'items', 'an array of log-prob items');
    const batchSize = options.batchSize === undefined ? 8 : checkInt(options.batchSize, 'options.batchSize', 1);
    const checked = items.map((it, i) => {
      const where = `items[${i}]`;
      if (typeof it !== 'object' || it === null) throw expectedError('a log-prob item object', where, it);
      const prompt = checkIds(it.promptIds, `${where}.promptIds`, this.config);
      const response = checkIds(it.responseIds, `${where}.responseIds`, this.config);
      const ids = new Int32Array(prompt.length + response.length);
      ids.set(prompt);
      ids.set(response, prompt.length);
      const seq = this.checkSequence(ids, it.image, where);
      return { seq, responseStart: prompt.length };
    });
    const out: LogprobResult[] = [];
    for (const [start, end] of batchRanges(checked.length, batchSize)) {
      const batch = checked.slice(start, end);
      const images = packImages(batch.map((b) => b.seq.image));
      const seqs: NativeScoredSequence[] = batch.map((b, j) => ({ ...this.nativeSequence(b.seq, images.index[j]), responseStart: b.responseStart }));
      for (const tokenLogps of await this.impl.logprobs(images.pixels, images.layouts, seqs)) {
        let sum = 0;
        for (const x of tokenLogps) sum += x;
        out.push({ tokenLogps, sum });
      }
    }
    return out;
  }

  /** Diagnostics: image features after the projector: each image's token rows in order, images concatenated (sum of tokens, D). */
  async imageFeatures(images: ImageInput[]): Promise<Float32Array> {
    const packed = this.packAll(images);
    return (await this.impl.encodeImages(packed.pixels, packed.layouts, false)).features;
  }

  /** Diagnostics: every CLIP hidden state, each (C, P+1, Dv) over all crops; [0] is the embeddings after pre-layernorm. */
  async visionHiddenStates(images: ImageInput[]): Promise<Float32Array[]> {
    const packed = this.packAll(images);
    return (await this.impl.encodeImages(packed.pixels, packed.layouts, true)).hidden;
  }

  /** Diagnostics: the full logits (T, V) of each sequence with its own image. */
  async fullLogits(sequences: SequenceInput[]): Promise<Float32Array[]> {
    checkArray(sequences, 'sequences', 'an array of sequences');
    const checked = sequences.map((s, i) => this.checkSequence(s?.ids, s?.image, `sequences[${i}]`));
    const images = packImages(checked.map((c) => c.image));
    return this.impl.logits(images.pixels, images.layouts, checked.map((c, j) => this.nativeSequence(c, images.index[j])));
  }

  private packAll(images: ImageInput[]): ReturnType<typeof packImages> {
    checkArray(images, 'images', 'an array of images');
    // Every entry is its own image, even when two share pixels.
    return packImages(images.map((img, i) => {
      const m = checkImage(img, `images[${i}]`, this.config);
      return { ...m, pixels: m.pixels.slice() };
    }));
  }

  private checkSequence(ids: unknown, image: unknown, where: string): CheckedSequence {
    const checkedIds = checkIds(ids, `${where}.ids`, this.config);
    const img = image === undefined || image === null ? null : checkImage(image, `${where}.image`, this.config);
    checkImageTokens(checkedIds, img ? [img] : [], where, this.config);
    checkSequenceLength(checkedIds.length, where, this.config);
    return { ids: checkedIds, image: img };
  }

  private nativeSequence(seq: CheckedSequence, imageIndex: number | null): NativeSequence {
    return { ids: seq.ids, images: imageIndex === null ? [] : [imageIndex] };
  }
}

function nativeSampling(s: ResolvedSampling): Omit<NativeGenerationItem, keyof NativeSequence> {
  return { maxNewTokens: s.maxNewTokens, temperature: s.temperature, topK: s.topK, topP: s.topP, seed: s.seed };
}

function checkEosIds(ids: unknown, vocabSize: number): number[] {
  checkArray(ids, 'options.eosTokenIds', 'an array of token ids');
  return (ids as unknown[]).map((id, i) => checkInt(id, `options.eosTokenIds[${i}]`, 0, vocabSize - 1));
}

function defaultTokenizer(dir: string): TokenDecoder | null {
  if (!existsSync(path.join(dir, 'tokenizer.json'))) return null;
  const tok = loadTokenizer(dir);
  return { decode: (ids) => tok.decode(ids, { skipSpecialTokens: true }) };
}

/** Loads a LLaVA model directory (see LlavaModel.load). */
export function loadModel(dir: string, opts: LoadModelOptions = {}): Promise<LlavaModel> {
  return LlavaModel.load(dir, opts);
}
