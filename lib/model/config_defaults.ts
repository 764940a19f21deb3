// The defaults Hugging Face transformers applies to fields a config.json leaves out. Hub
// checkpoints (llava-1.5-7b-hf, original LLaVA) omit many of them, so reading those files without
// these tables would silently produce a different model. Values are those of the transformers
// configuration classes (LlamaConfig, MistralConfig, CLIPVisionConfig, LlavaConfig,
// LlavaNextConfig), checked against the transformers documentation.

/** LlamaConfig() defaults. num_key_value_heads defaults to num_attention_heads; head_dim to hidden/heads. */
export const LLAMA_DEFAULTS = {
  vocabSize: 32000,
  hiddenSize: 4096,
  intermediateSize: 11008,
  numLayers: 32,
  numHeads: 32,
  maxPositionEmbeddings: 2048,
  rmsNormEps: 1e-6,
  bosTokenId: 1,
  eosTokenId: 2,
  tieWordEmbeddings: false,
  ropeTheta: 10000,
  attentionBias: false,
  mlpBias: false,
} as const;

/** MistralConfig() defaults: grouped-query (8 kv heads), a longer context and a 4096 sliding window. */
export const MISTRAL_DEFAULTS = {
  vocabSize: 32000,
  hiddenSize: 4096,
  intermediateSize: 14336,
  numLayers: 32,
  numHeads: 32,
  numKvHeads: 8,
  maxPositionEmbeddings: 4096 * 32,
  rmsNormEps: 1e-6,
  bosTokenId: 1,
  eosTokenId: 2,
  tieWordEmbeddings: false,
  ropeTheta: 10000,
  slidingWindow: 4096,
} as const;

/** CLIPVisionConfig() defaults: ViT-B/32 at 224 px. */
export const CLIP_VISION_DEFAULTS = {
  hiddenSize: 768,
  intermediateSize: 3072,
  numLayers: 12,
  numHeads: 12,
  numChannels: 3,
  imageSize: 224,
  patchSize: 32,
  act: 'quick_gelu',
  layerNormEps: 1e-5,
} as const;

/**
 * The vision tower LlavaConfig/LlavaNextConfig build when vision_config is absent altogether:
 * CLIP ViT-L/14 at 336 px, LLaVA-1.5's tower (other fields: CLIPVisionConfig defaults).
 */
export const LLAVA_DEFAULT_VISION = {
  hidden_size: 1024,
  intermediate_size: 4096,
  num_hidden_layers: 24,
  num_attention_heads: 16,
  image_size: 336,
  patch_size: 14,
} as const;

/** LlavaConfig() defaults for the top-level fields. */
export const LLAVA_DEFAULTS = {
  imageTokenIndex: 32000,
  projectorHiddenAct: 'gelu',
  visionFeatureLayer: -2,
  visionFeatureSelectStrategy: 'default',
  multimodalProjectorBias: true,
} as const;

/** LlavaNextConfig's default anyres grid: the tile layouts (height, width in pixels) an image may use. */
export const LLAVA_NEXT_DEFAULT_GRID_PINPOINTS: [number, number][] = [
  [336, 672],
  [672, 336],
  [672, 672],
  [1008, 336],
  [336, 1008],
];

/**
 * OpenAI CLIP's image normalisation (CLIPImageProcessor's OPENAI_CLIP_MEAN / OPENAI_CLIP_STD), used
 * when a checkpoint has no preprocessor_config.json.
 */
export const OPENAI_CLIP_MEAN: [number, number, number] = [0.48145466, 0.4578275, 0.40821073];
export const OPENAI_CLIP_STD: [number, number, number] = [0.26862954, 0.26130258, 0.27577711];
