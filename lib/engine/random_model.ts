// Random LLaVA checkpoints in the llava-hf layout (config.json + model.safetensors), for
// benchmarks, CLI tests and smoke checks of any size without downloading a model. Weights are
// N(0, std) from a seeded generator; norm weights are 1 + N(0, 0.1) so every parameter matters.
// Tensors are drawn and written one at a time (a 7B model never sits in memory), in name order as
// Hugging Face's safetensors files store them, in F32 or rounded once to BF16/F16.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { parseModelConfig } from '../model/config.ts';
import { writeSafetensors } from '../model/safetensors.ts';
import { native } from '../native/index.ts';

export interface RandomLlavaSpec {
  vision: { imageSize: number; patchSize: number; hiddenSize: number; intermediateSize: number; numLayers: number; numHeads: number };
  decoder: {
    family: 'llama' | 'mistral';
    hiddenSize: number;
    intermediateSize: number;
    numLayers: number;
    numHeads: number;
    numKvHeads: number;
    vocabSize: number;
    ropeTheta?: number;
  };
  /** Default: the last id of the vocabulary (as the fixtures and llava-hf do). */
  imageTokenId?: number;
  /** Default -2 (second-to-last hidden state) and 'default' (drop CLS), as LLaVA-1.5. */
  featureLayer?: number;
  selectStrategy?: 'default' | 'full';
  /** Standard deviation of the weights. Default 0.02 (the initializer_range of transformers). */
  std?: number;
  /** A LLaVA-NeXT (LlavaNextForConditionalGeneration) model with these grid resolutions ([height, width]) and an image_newline. */
  anyres?: { gridPinpoints: [number, number][] };
  /** The stored dtype of every tensor. Default F32. */
  dtype?: 'F32' | 'BF16' | 'F16';
}

/** The config.json of a llava-hf LlavaForConditionalGeneration (or LlavaNext, with spec.anyres) with these sizes. */
export function randomLlavaConfigJson(spec: RandomLlavaSpec): Record<string, unknown> {
  const v = spec.vision;
  const d = spec.decoder;
  return {
    architectures: [spec.anyres ? 'LlavaNextForConditionalGeneration' : 'LlavaForConditionalGeneration'],
    model_type: spec.anyres ? 'llava_next' : 'llava',
    ...(spec.anyres ? { image_grid_pinpoints: spec.anyres.gridPinpoints } : {}),
    image_token_index: spec.imageTokenId ?? d.vocabSize - 1,
    projector_hidden_act: 'gelu',
    multimodal_projector_bias: true,
    vision_feature_layer: spec.featureLayer ?? -2,
    vision_feature_select_strategy: spec.selectStrategy ?? 'default',
    tie_word_embeddings: false,
    torch_dtype: { F32: 'float32', BF16: 'bfloat16', F16: 'float16' }[spec.dtype ?? 'F32'],
    text_config: {
      model_type: d.family,
      hidden_size: d.hiddenSize,
      intermediate_size: d.intermediateSize,
      num_hidden_layers: d.numLayers,
      num_attention_heads: d.numHeads,
      num_key_value_heads: d.numKvHeads,
      head_dim: d.hiddenSize / d.numHeads,
      vocab_size: d.vocabSize,
      rope_theta: d.ropeTheta ?? 10000,
      rms_norm_eps: 1e-5,
      max_position_embeddings: 4096,
      bos_token_id: 1,
      eos_token_id: 2,
      pad_token_id: 0,
      tie_word_embeddings: false,
    },
    vision_config: {
      model_type: 'clip_vision_model',
      hidden_size: v.hiddenSize,
      intermediate_size: v.intermediateSize,
      num_hidden_layers: v.numLayers,
      num_attention_heads: v.numHeads,
      image_size: v.imageSize,
      patch_size: v.patchSize,
      hidden_act: 'quick_gelu',
      layer_norm_eps: 1e-5,
    },
  };
}

/** Seeded N(0, 1) values (mulberry32 + Box-Muller). */
function normalFill(out: Float32Array, seed: number, std: number, mean = 0): void {
  let s = seed >>> 0;
  const uniform = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  for (let i = 0; i < out.length; i += 2) {
    const r = Math.sqrt(-2 * Math.log(Math.max(uniform(), 1e-12)));
    const a = 2 * Math.PI * uniform();
    out[i] = mean + std * r * Math.cos(a);
    if (i + 1 < out.length) out[i + 1] = mean + std * r * Math.sin(a);
  }
}

/** Writes dir/config.json and dir/model.safetensors (spec.dtype, default F32) for a random model; returns the files. */
export async function writeRandomLlava(dir: string, spec: RandomLlavaSpec, seed = 0): Promise<{ config: string; weights: string }> {
  await mkdir(dir, { recursive: true });
  const json = randomLlavaConfigJson(spec);
  const configFile = path.join(dir, 'config.json');
  const config = parseModelConfig(json, configFile);
  const std = spec.std ?? 0.02;
  const dtype = spec.dtype ?? 'F32';
  const tensors = native()
    .llavaTensorSpecs(config)
    .map((t, i) => ({
      name: t.name,
      dtype,
      shape: t.shape,
      data: async () => {
        const values = new Float32Array(t.shape.reduce((a, b) => a * b, 1));
        const isNorm = /(norm|layrnorm|layer_norm\d)\.weight$/.test(t.name);
        normalFill(values, seed * 100003 + i, isNorm ? 0.1 : std, isNorm ? 1 : 0);
        if (dtype === 'F32') return values;
        const bits = new Uint16Array(values.length);
        await native().convertDType(values, 'F32', bits, dtype);
        return bits;
      },
    }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const weights = path.join(dir, 'model.safetensors');
  await writeSafetensors(weights, tensors);
  await writeFile(configFile, `${JSON.stringify(json, null, 2)}\n`);
  return { config: configFile, weights };
}
