// The one normalised model description every engine consumes, whatever layout the checkpoint
// came in (llava-hf LlavaForConditionalGeneration, LlavaNext, or the original LlavaLlama/Mistral
// with a separate CLIP tower). Produced by lib/model/config.ts.

export type VisionAct = 'quick_gelu' | 'gelu' | 'gelu_pytorch_tanh';
export type ProjectorAct = 'gelu' | 'gelu_pytorch_tanh' | 'quick_gelu' | 'relu' | 'silu';

export interface VisionConfig {
  imageSize: number; // S: input side in pixels (e.g. 336)
  patchSize: number; // p: e.g. 14
  numChannels: number; // 3
  hiddenSize: number; // Dv
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  act: VisionAct;
  layerNormEps: number;
  /** Hidden state index used for image features, as given (negative counts from the end: -2 = second-to-last). */
  featureLayer: number;
  /** 'default' drops the CLS token; 'full' keeps it. */
  selectStrategy: 'default' | 'full';
  /** Image mean/std (from the preprocessor config, defaulting to OpenAI CLIP's). */
  imageMean: [number, number, number];
  imageStd: [number, number, number];
  /** How an image reaches imageSize x imageSize before normalisation (absent: resize + crop to imageSize, bicubic, no padding). */
  preprocess?: ImagePreprocess;
}

/** From preprocessor_config.json (llava-hf) or image_aspect_ratio (original LLaVA). */
export interface ImagePreprocess {
  /** Shorter side resized to this many pixels (keeping the aspect ratio)... */
  resizeShortestEdge: number;
  /** ...then a centre crop of cropSize x cropSize; equals VisionConfig.imageSize. */
  cropSize: number;
  /** LLaVA-1.5 "pad": first pad to a square with the mean colour, the image centred. */
  padToSquare: boolean;
  resample: 'bicubic' | 'bilinear';
}

/** LLaVA-NeXT "anyres" tiling parameters (the checkpoint then also has an `image_newline` weight). */
export interface AnyresConfig {
  /** Allowed tile layouts as [height, width] in pixels. */
  gridPinpoints: [number, number][];
}

export interface ProjectorConfig {
  /** 'mlp2x_gelu': linear_1 -> act -> linear_2; 'linear': one linear layer. */
  type: 'mlp2x_gelu' | 'linear';
  act: ProjectorAct;
  bias: boolean;
}

export interface DecoderConfig {
  family: 'llama' | 'mistral';
  hiddenSize: number; // D
  intermediateSize: number; // F (SwiGLU)
  numLayers: number;
  numHeads: number; // Hq
  numKvHeads: number; // Hkv (grouped-query when < Hq)
  headDim: number; // hd
  vocabSize: number; // V
  ropeTheta: number;
  rmsNormEps: number;
  tieWordEmbeddings: boolean;
  maxPositionEmbeddings: number;
  attentionBias: boolean;
  mlpBias: boolean;
  bosTokenId: number | null;
  eosTokenIds: number[];
  padTokenId: number | null;
  /** Mistral's sliding attention window in tokens; null (or absent) = full causal attention. */
  slidingWindow?: number | null;
}

/** Where the tensors of each part live and how they are named. */
export interface WeightLayout {
  /** 'llava-hf' (language_model.* / vision_tower.* / multi_modal_projector.*) or 'llava-original' (model.* / lm_head / model.mm_projector.*). */
  naming: 'llava-hf' | 'llava-original';
  /** Directory of a separate CLIP checkpoint (original layout's mm_vision_tower), when the tower is not in the model's own files. */
  visionTowerPath: string | null;
}

export interface EngineConfig {
  /** The architecture string from config.json, as found. */
  architecture: string;
  vision: VisionConfig;
  projector: ProjectorConfig;
  decoder: DecoderConfig;
  /**
   * Id of the image placeholder in prompt ids. llava-hf: image_token_index (a real row of the
   * embedding table). Original LLaVA layout: decoder.vocabSize, i.e. one past the last embedding
   * row (the original code uses -200), so it can never collide with a text token; the engine
   * replaces these positions with image features and must not look them up in the embedding table.
   * Always in [0, decoder.vocabSize].
   */
  imageTokenId: number;
  /** Image tokens per image after feature selection: (S/p)^2, plus 1 with selectStrategy 'full'. */
  imageTokenCount: number;
  weights: WeightLayout;
  /** Set for anyres (LLaVA-NeXT) checkpoints; null/absent otherwise. */
  anyres?: AnyresConfig | null;
  /** The config.json this was read from (for messages). */
  source?: string;
}
