// The language model part of a LLaVA config: a Llama or Mistral decoder, read either from
// llava-hf's text_config section or from the flat top level of an original LLaVA config.
// Absent fields take transformers' LlamaConfig/MistralConfig defaults (config_defaults.ts).
import type { DecoderConfig } from './engine_config.ts';
import { LLAMA_DEFAULTS, MISTRAL_DEFAULTS } from './config_defaults.ts';
import { FieldReader, ModelConfigError, showJsonValue, isPlainObject } from './config_json.ts';

export type DecoderFamily = DecoderConfig['family'];

/** Top-level fields a llava-hf config may carry for the decoder when text_config does not. */
export interface DecoderFallbacks {
  tieWordEmbeddings?: boolean;
  padTokenId?: number | null;
}

/** Reads a Llama/Mistral decoder from `r` (text_config, or the whole file for the original layout). */
export function parseDecoder(r: FieldReader, family: DecoderFamily, fallbacks: DecoderFallbacks = {}): DecoderConfig {
  const d = family === 'mistral' ? MISTRAL_DEFAULTS : LLAMA_DEFAULTS;
  // The engine's MLP is SwiGLU: gate/up with SiLU. Any other activation is a different network.
  r.oneOf('hidden_act', ['silu'] as const, 'silu');
  const hiddenSize = r.positiveInt('hidden_size', d.hiddenSize);
  const numHeads = r.positiveInt('num_attention_heads', d.numHeads);
  const numKvHeads = r.positiveInt('num_key_value_heads', family === 'mistral' ? MISTRAL_DEFAULTS.numKvHeads : numHeads);
  if (numHeads % numKvHeads !== 0) {
    r.fail('num_key_value_heads', `a divisor of num_attention_heads (${numHeads})`);
  }
  if (!r.has('head_dim') && hiddenSize % numHeads !== 0) {
    r.fail('hidden_size', `a multiple of num_attention_heads (${numHeads}) when head_dim is not given`);
  }
  const headDim = r.positiveInt('head_dim', hiddenSize / numHeads);
  const vocabSize = r.positiveInt('vocab_size', d.vocabSize);
  return {
    family,
    hiddenSize,
    intermediateSize: r.positiveInt('intermediate_size', d.intermediateSize),
    numLayers: r.positiveInt('num_hidden_layers', d.numLayers),
    numHeads,
    numKvHeads,
    headDim,
    vocabSize,
    ropeTheta: parseRopeTheta(r, d.ropeTheta),
    rmsNormEps: r.positiveNumber('rms_norm_eps', d.rmsNormEps),
    tieWordEmbeddings: r.bool('tie_word_embeddings', fallbacks.tieWordEmbeddings ?? d.tieWordEmbeddings),
    maxPositionEmbeddings: r.positiveInt('max_position_embeddings', d.maxPositionEmbeddings),
    // Mistral has no bias options in transformers (always false); reading them is harmless.
    attentionBias: r.bool('attention_bias', false),
    mlpBias: r.bool('mlp_bias', false),
    bosTokenId: r.raw('bos_token_id') === undefined ? d.bosTokenId : r.intOrNull('bos_token_id'),
    eosTokenIds: r.intList('eos_token_id', [d.eosTokenId]),
    padTokenId: r.has('pad_token_id') ? r.int('pad_token_id') : (fallbacks.padTokenId ?? null),
    slidingWindow: family === 'mistral' ? parseSlidingWindow(r) : null,
  };
}

/** MistralConfig defaults sliding_window to 4096; an explicit null turns it off (Mistral-7B v0.2). */
function parseSlidingWindow(r: FieldReader): number | null {
  if (r.raw('sliding_window') === undefined) return MISTRAL_DEFAULTS.slidingWindow;
  if (r.raw('sliding_window') === null) return null;
  return r.positiveInt('sliding_window');
}

/**
 * RoPE base. Two spellings exist: transformers 5 writes rope_parameters: {rope_theta, rope_type},
 * older configs (every hub LLaVA checkpoint) a top-level rope_theta, or nothing (default 10000).
 * Scaled RoPE (linear, dynamic, yarn, llama3...) changes the positions' frequencies: refused.
 */
export function parseRopeTheta(r: FieldReader, dflt: number): number {
  refuseRopeScaling(r, 'rope_scaling');
  refuseRopeScaling(r, 'rope_parameters');
  const topLevel = r.has('rope_theta') ? r.positiveNumber('rope_theta') : null;
  const params = r.has('rope_parameters') ? r.section('rope_parameters') : null;
  const nested = params?.has('rope_theta') ? params.positiveNumber('rope_theta') : null;
  if (topLevel !== null && nested !== null && topLevel !== nested) {
    r.fail('rope_theta', `the same value as ${params!.path('rope_theta')} (${nested})`);
  }
  return nested ?? topLevel ?? dflt;
}

/** rope_scaling / rope_parameters may be absent, null, or name the 'default' rope type only. */
function refuseRopeScaling(r: FieldReader, name: string): void {
  const v = r.raw(name);
  if (v === undefined || v === null) return;
  if (!isPlainObject(v)) r.fail(name, 'a JSON object or null');
  // transformers 4.x spelled the key 'type', later versions 'rope_type'.
  const key = v.rope_type !== undefined ? 'rope_type' : v.type !== undefined ? 'type' : null;
  if (key === null) {
    // rope_parameters without a type is the default rope; rope_scaling without one is malformed.
    if (name === 'rope_parameters') return;
    r.fail(name, 'null or an object with rope_type "default"');
  }
  if (v[key] !== 'default') {
    const field = `${r.path(name)}.${key}`;
    throw new ModelConfigError(
      r.file,
      field,
      `expected "default" for ${field} but found ${showJsonValue(v[key])}: scaled RoPE variants are not supported yet`,
    );
  }
}
