// The built-in toy model's shape, its from-scratch initialisation, and its files in Hugging Face
// layout (config.json for LlavaForConditionalGeneration, model.safetensors under the llava-hf names
// the engine loads, the toy tokenizer, generation_config.json and preprocessor_config.json).
//
// Sizes, and why (a few MB that 2 CPU cores train in minutes, and still a LLaVA in every part):
//   vision: 84 px images, patch 14 -> 6 x 6 = 36 patches, so each cell of the toy world's 3 x 3
//     grid is exactly 2 x 2 patches (render.ts); CLIP hidden 64, MLP 256, 4 heads of 16; 3 layers
//     read at layer -2 with the CLS row dropped (LLaVA-1.5's feature_layer / select 'default'), so
//     2 layers compute the features and the last one, as in LLaVA-1.5, is never read and stays at
//     its initialisation. (A 128-wide tower, tried with the same recipe for 2600 steps, scored lower
//     on the held-out set: 43% VQA against 50%.)
//   projector: 2-layer GELU MLP 64 -> 128 -> 128 (mlp2x_gelu).
//   decoder: Llama, hidden 128, 4 layers, 4 heads of 32 (no GQA), SwiGLU MLP 344 (~ 8/3 x 128,
//     rounded to a multiple of 8 like Llama's), vocabulary 640 from the toy tokenizer, RoPE 1e4,
//     untied lm_head, 512 positions (a conversation with every question of a scene is ~220 tokens).
//   Total 1.17 M parameters, stored as float16: 2.3 MB (trained in float32; the engine widens on load).
// Initialisation: every linear layer (lm_head included) LeCun-normal, N(0, 1/fan_in), so a layer
// keeps the scale of its normalised input; the projections that write into a residual stream
// (out_proj, fc2, o_proj, down_proj) divided further by sqrt(2 L) (GPT-2, Radford et al. 2019) so
// the stream's variance does not grow with depth; embedding tables (tokens, patches, positions, the
// class embedding) N(0, 0.02) (transformers' initializer_range; the patch embedding feeds the
// pre-layernorm, which removes its scale anyway); biases 0, norm gains 1.
// Why not transformers' flat N(0, 0.02) everywhere: at these widths (64, 128) it is 3-4x smaller
// than 1/sqrt(fan_in), each layer shrinks the signal, and a measured consequence was that the
// decoder never learned to read one image token among 36 (the colour of a one-patch square stayed
// at chance after 600 steps; with this init it is learned in 40). Each tensor draws from its own
// generator keyed by (seed, name).
import { mkdir } from 'node:fs/promises';
import path from 'node:path';

import { type JsonDoc, parseModelConfig } from '../model/config.ts';
import type { EngineConfig } from '../model/engine_config.ts';
import { OPENAI_CLIP_MEAN, OPENAI_CLIP_STD } from '../data/preprocess.ts';
import { writeSafetensors } from '../model/safetensors.ts';
import { native } from '../native/index.ts';
import { syncDir, writeJsonAtomic } from '../util/atomic_write.ts';
import { seededRandom } from '../util/seeded.ts';
import { TOY_IMAGE_SIZE } from './render.ts';
import { type ToyTokenizer, writeToyTokenizer } from './tokenizer_builder.ts';

export interface ToyModelSize {
  vision: { imageSize: number; patchSize: number; hiddenSize: number; intermediateSize: number; numLayers: number; numHeads: number; featureLayer: number };
  decoder: { hiddenSize: number; intermediateSize: number; numLayers: number; numHeads: number; numKvHeads: number; maxPositions: number };
}

export const TOY_MODEL_SIZE: ToyModelSize = {
  vision: { imageSize: TOY_IMAGE_SIZE, patchSize: 14, hiddenSize: 64, intermediateSize: 256, numLayers: 3, numHeads: 4, featureLayer: -2 },
  decoder: { hiddenSize: 128, intermediateSize: 344, numLayers: 4, numHeads: 4, numKvHeads: 4, maxPositions: 512 },
};

/** config.json of the toy model (llava-hf LlavaForConditionalGeneration, Llama text config, CLIP vision config). */
export function toyConfigJson(tok: ToyTokenizer, size: ToyModelSize = TOY_MODEL_SIZE): Record<string, unknown> {
  const v = size.vision;
  const d = size.decoder;
  if (!Number.isInteger(v.imageSize / v.patchSize) || v.imageSize <= 0) {
    throw new RangeError(`Expected an image size that is a positive multiple of the ${v.patchSize} px patch but received ${v.imageSize}`);
  }
  const patches = (v.imageSize / v.patchSize) ** 2;
  return {
    architectures: ['LlavaForConditionalGeneration'],
    model_type: 'llava',
    torch_dtype: 'float32',
    image_token_index: tok.imageTokenId,
    image_seq_length: patches,
    projector_hidden_act: 'gelu',
    multimodal_projector_bias: true,
    vision_feature_layer: v.featureLayer,
    vision_feature_select_strategy: 'default',
    tie_word_embeddings: false,
    text_config: {
      model_type: 'llama',
      hidden_size: d.hiddenSize,
      intermediate_size: d.intermediateSize,
      num_hidden_layers: d.numLayers,
      num_attention_heads: d.numHeads,
      num_key_value_heads: d.numKvHeads,
      head_dim: d.hiddenSize / d.numHeads,
      hidden_act: 'silu',
      vocab_size: tok.vocabSize,
      rope_theta: 10000,
      rms_norm_eps: 1e-5,
      max_position_embeddings: d.maxPositions,
      attention_bias: false,
      mlp_bias: false,
      bos_token_id: tok.bosTokenId,
      eos_token_id: tok.eosTokenId,
      pad_token_id: tok.padTokenId,
      tie_word_embeddings: false,
    },
    vision_config: {
      model_type: 'clip_vision_model',
      hidden_size: v.hiddenSize,
      intermediate_size: v.intermediateSize,
      num_hidden_layers: v.numLayers,
      num_attention_heads: v.numHeads,
      num_channels: 3,
      image_size: v.imageSize,
      patch_size: v.patchSize,
      hidden_act: 'quick_gelu',
      layer_norm_eps: 1e-5,
    },
  };
}

/** CLIPImageProcessor at the model's side: no real resize or crop for 84 px toy images, OpenAI CLIP normalisation. */
export function toyPreprocessorJson(imageSize: number = TOY_IMAGE_SIZE): Record<string, unknown> {
  return {
    image_processor_type: 'CLIPImageProcessor',
    do_resize: true,
    size: { shortest_edge: imageSize },
    resample: 3,
    do_center_crop: true,
    crop_size: { height: imageSize, width: imageSize },
    do_rescale: true,
    rescale_factor: 1 / 255,
    do_normalize: true,
    image_mean: [...OPENAI_CLIP_MEAN],
    image_std: [...OPENAI_CLIP_STD],
    do_convert_rgb: true,
  };
}

export function toyGenerationJson(tok: ToyTokenizer): Record<string, unknown> {
  return { bos_token_id: tok.bosTokenId, eos_token_id: tok.eosTokenId, pad_token_id: tok.padTokenId, do_sample: false };
}

/** The engine's view of the toy config (what the pretrainer and lib/engine consume). */
export function toyEngineConfig(configJson: Record<string, unknown>, preprocessorJson: Record<string, unknown>): EngineConfig {
  const preprocessor: JsonDoc = { json: preprocessorJson, source: 'preprocessor_config.json' };
  return parseModelConfig(configJson, 'config.json', { preprocessor });
}

const RESIDUAL_OUTPUTS = /(self_attn\.out_proj|mlp\.fc2|self_attn\.o_proj|mlp\.down_proj)\.weight$/;
const EMBEDDINGS = /(embed_tokens|patch_embedding|position_embedding)\.weight$|class_embedding$/;
const GAINS = /(norm|layrnorm|layer_norm\d)\.weight$/;

/**
 * How the patch embedding starts and whether it trains:
 *   fixed    each filter is one zero-mean pattern shared by the three colour channels plus a smaller
 *            independent part per channel (PATCH_COLOUR_SHARE of the shared one), and it is frozen
 *            (the pretrainer leaves it out of the optimizer, as MoCo v3 freezes its random patch
 *            projection). The shared part sees an outline the same way whatever its colour and
 *            ignores a flat background; the per-channel part carries the colours.
 *   learned  every weight drawn independently and trained (the recipe before 2026-12-07).
 * Why: with learned filters the toy world's constant backgrounds (black and white are -1.8 and +1.9
 * after CLIP normalisation, over every pixel) dominate the patch embedding's gradient, and the tower
 * never learned shape kinds: in 400-step one-shape pilots ("What shape is this?", held-out loss per
 * kind token, chance 1.79) a red shape on black stayed at 1.80, and 1.34 once black was shifted to
 * 0; the whole world stayed at 1.72 with learned filters and reached 1.50 with fixed ones.
 */
export const PATCH_EMBEDDINGS = ['fixed', 'learned'] as const;
export type PatchEmbedding = (typeof PATCH_EMBEDDINGS)[number];
export const PATCH_COLOUR_SHARE = 0.3;
const PATCH_WEIGHT = /patch_embedding\.weight$/;

/** The names of the tensors a pretraining run with this patch embedding recipe keeps frozen. */
export function frozenTensors(specs: readonly { name: string }[], patchEmbedding: PatchEmbedding): string[] {
  return patchEmbedding === 'fixed' ? specs.filter((t) => PATCH_WEIGHT.test(t.name)).map((t) => t.name) : [];
}

/** From-scratch weights (see the header) for every tensor the engine loads, by engine name. */
export function initialWeights(
  specs: readonly { name: string; shape: number[] }[],
  config: EngineConfig,
  seed: number,
  patchEmbedding: PatchEmbedding = 'fixed',
): { name: string; data: Float32Array }[] {
  return specs.map(({ name, shape }) => {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    if (GAINS.test(name)) return { name, data: data.fill(1) };
    if (name.endsWith('.bias')) return { name, data };
    const layers = name.startsWith('vision_tower.') ? config.vision.numLayers : config.decoder.numLayers;
    const fanIn = shape.slice(1).reduce((a, b) => a * b, 1);
    const base = EMBEDDINGS.test(name) ? 0.02 : 1 / Math.sqrt(fanIn);
    const std = RESIDUAL_OUTPUTS.test(name) ? base / Math.sqrt(2 * layers) : base;
    const rng = seededRandom('stic-toy-init', seed, name);
    if (patchEmbedding === 'fixed' && PATCH_WEIGHT.test(name)) return { name, data: sharedChannelFilters(normals(data, rng, 1), shape, std, seed, name) };
    return { name, data: normals(data, rng, std) };
  });
}

/** Fills `out` with normals of std `std` (Box-Muller: two per pair of uniforms); returns it. */
function normals(out: Float32Array, rng: { next(): number }, std: number): Float32Array {
  for (let i = 0; i < out.length; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - rng.next()));
    const a = 2 * Math.PI * rng.next();
    out[i] = std * r * Math.cos(a);
    if (i + 1 < out.length) out[i + 1] = std * r * Math.sin(a);
  }
  return out;
}

/**
 * 'fixed' patch filters (O, C, p, p) of overall std `std`: a zero-mean (p, p) pattern per output
 * shared by the C channels, plus `own` (standard normals, per channel) at PATCH_COLOUR_SHARE of it.
 */
function sharedChannelFilters(own: Float32Array, shape: number[], std: number, seed: number, name: string): Float32Array {
  const [outputs, channels] = shape;
  const pixels = own.length / (outputs * channels); // p * p
  const shared = new Float32Array(outputs * pixels);
  normals(shared, seededRandom('stic-toy-init', seed, `${name}#shared`), 1);
  const sharedStd = std / Math.sqrt(1 + PATCH_COLOUR_SHARE ** 2);
  const out = new Float32Array(own.length);
  for (let o = 0; o < outputs; o++) {
    const pattern = shared.subarray(o * pixels, (o + 1) * pixels);
    const mean = pattern.reduce((a, b) => a + b, 0) / pixels;
    for (let c = 0; c < channels; c++) {
      const at = (o * channels + c) * pixels;
      for (let i = 0; i < pixels; i++) out[at + i] = sharedStd * (pattern[i] - mean + PATCH_COLOUR_SHARE * own[at + i]);
    }
  }
  return out;
}

export interface ToyModelFiles {
  configJson: Record<string, unknown>;
  preprocessorJson: Record<string, unknown>;
  tokenizer: ToyTokenizer;
  /** Engine names (llava-hf), float32. */
  tensors: { name: string; shape: number[]; data: Float32Array }[];
  /** Stored in model.safetensors' metadata (how the weights were made). */
  metadata?: Record<string, string>;
  /** On-disk dtype of the weights (default F32). */
  dtype?: 'F32' | 'F16';
}

/**
 * Writes the model files into `dir` (created; other files in it are left alone), each atomically;
 * the weights go last, so a folder with new weights has the matching config and tokenizer.
 */
export async function writeToyModel(dir: string, m: ToyModelFiles): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeJsonAtomic(path.join(dir, 'config.json'), m.configJson);
  await writeJsonAtomic(path.join(dir, 'preprocessor_config.json'), m.preprocessorJson);
  await writeJsonAtomic(path.join(dir, 'generation_config.json'), toyGenerationJson(m.tokenizer));
  await writeToyTokenizer(dir, m.tokenizer);
  const dtype = m.dtype ?? 'F32';
  const tensors = await Promise.all(
    m.tensors.map(async (t) => {
      if (dtype === 'F32') return { name: t.name, dtype, shape: t.shape, data: t.data };
      const half = new Uint16Array(t.data.length);
      await native().convertDType(t.data, 'F32', half, 'F16');
      return { name: t.name, dtype, shape: t.shape, data: half };
    }),
  );
  await writeSafetensors(path.join(dir, 'model.safetensors'), tensors, { format: 'pt', ...m.metadata });
  await syncDir(dir);
}
