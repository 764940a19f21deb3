// The vision side of a LLaVA config: the CLIP vision tower (llava-hf's vision_config, or the
// config.json of a separate CLIP checkpoint for the original layout), which hidden state feeds the
// projector, and how images are preprocessed (preprocessor_config.json).
// Legend: S image side in pixels, p patch side; the tower sees (S/p)^2 patches plus one CLS token.
import type { ImagePreprocess, VisionAct, VisionConfig } from './engine_config.ts';
import { CLIP_VISION_DEFAULTS, OPENAI_CLIP_MEAN, OPENAI_CLIP_STD } from './config_defaults.ts';
import { FieldReader, ModelConfigError, showJsonValue } from './config_json.ts';

const VISION_ACTS: readonly VisionAct[] = ['quick_gelu', 'gelu', 'gelu_pytorch_tanh'];

/** Which hidden state of the tower becomes the image features, and whether CLS is kept. */
export interface FeatureSelection {
  featureLayer: number;
  selectStrategy: 'default' | 'full';
}

/** Mean/std and geometry, from preprocessor_config.json or the defaults. */
export interface ImageNormalisation {
  /** The preprocessor_config.json these came from, or null for the defaults. */
  source: string | null;
  imageMean: [number, number, number];
  imageStd: [number, number, number];
  preprocess: ImagePreprocess;
}

/** The CLIP tower's shape, from a clip_vision_model section (absent fields: CLIPVisionConfig defaults). */
export function parseClipVision(r: FieldReader, select: FeatureSelection, norm: ImageNormalisation): VisionConfig {
  if (r.has('model_type')) r.oneOf('model_type', ['clip_vision_model'] as const);
  const d = CLIP_VISION_DEFAULTS;
  const imageSize = r.positiveInt('image_size', d.imageSize);
  const patchSize = r.positiveInt('patch_size', d.patchSize);
  if (imageSize % patchSize !== 0) r.fail('image_size', `a multiple of patch_size (${patchSize})`);
  const hiddenSize = r.positiveInt('hidden_size', d.hiddenSize);
  const numHeads = r.positiveInt('num_attention_heads', d.numHeads);
  if (hiddenSize % numHeads !== 0) r.fail('hidden_size', `a multiple of num_attention_heads (${numHeads})`);
  const numLayers = r.positiveInt('num_hidden_layers', d.numLayers);
  if (norm.preprocess.cropSize !== imageSize) {
    const field = r.path('image_size');
    throw new ModelConfigError(
      r.file,
      field,
      `expected ${field} to equal the crop size of ${norm.source ?? 'the preprocessor'} (${norm.preprocess.cropSize}) but found ${imageSize}`,
    );
  }
  return {
    imageSize,
    patchSize,
    numChannels: r.positiveInt('num_channels', d.numChannels),
    hiddenSize,
    intermediateSize: r.positiveInt('intermediate_size', d.intermediateSize),
    numLayers,
    numHeads,
    act: r.oneOf('hidden_act', VISION_ACTS, d.act),
    layerNormEps: r.positiveNumber('layer_norm_eps', d.layerNormEps),
    featureLayer: select.featureLayer,
    selectStrategy: select.selectStrategy,
    imageMean: norm.imageMean,
    imageStd: norm.imageStd,
    preprocess: norm.preprocess,
  };
}

/**
 * The feature layer indexes the tower's hidden states, which has numLayers + 1 entries (the
 * embeddings first), Python style from either end. `r`/`name` locate the field that set it.
 */
export function checkFeatureLayer(r: FieldReader, name: string, featureLayer: number, numLayers: number): void {
  if (featureLayer < -(numLayers + 1) || featureLayer > numLayers) {
    r.fail(name, `an integer in [${-(numLayers + 1)}, ${numLayers}] (the vision tower has ${numLayers} layers)`);
  }
}

/** Image tokens per image: one per patch, plus the CLS token when it is kept ('full'). */
export function imageTokenCount(v: Pick<VisionConfig, 'imageSize' | 'patchSize' | 'selectStrategy'>): number {
  const side = v.imageSize / v.patchSize;
  return side * side + (v.selectStrategy === 'full' ? 1 : 0);
}

/** The side of the image the tower expects, before the vision section itself is parsed. */
export function clipImageSize(r: FieldReader): number {
  return r.positiveInt('image_size', CLIP_VISION_DEFAULTS.imageSize);
}

/**
 * preprocessor_config.json (CLIPImageProcessor or LlavaImageProcessor) or, when absent (null),
 * CLIP's defaults at the tower's own size. `size` and `crop_size` come as an int (old files) or an
 * object ({shortest_edge} / {height, width}).
 */
export function parsePreprocessor(r: FieldReader | null, imageSize: number, padToSquare = false): ImageNormalisation {
  if (r === null) {
    return {
      source: null,
      imageMean: [...OPENAI_CLIP_MEAN],
      imageStd: [...OPENAI_CLIP_STD],
      preprocess: { resizeShortestEdge: imageSize, cropSize: imageSize, padToSquare, resample: 'bicubic' },
    };
  }
  const imageMean = r.numberTuple('image_mean', 3, OPENAI_CLIP_MEAN) as [number, number, number];
  const imageStd = r.numberTuple('image_std', 3, OPENAI_CLIP_STD) as [number, number, number];
  // Each channel is divided by its std.
  if (imageStd.some((s) => s <= 0)) r.fail('image_std', 'a list of 3 positive numbers');
  const cropSize = r.bool('do_center_crop', true) ? squareSide(r, 'crop_size', imageSize) : imageSize;
  const resizeShortestEdge = r.bool('do_resize', true) ? shortestEdge(r, cropSize) : cropSize;
  // PIL resample codes: 2 = bilinear, 3 = bicubic (CLIPImageProcessor's default).
  const resampleCode = r.int('resample', 3);
  if (resampleCode !== 2 && resampleCode !== 3) r.fail('resample', '2 (bilinear) or 3 (bicubic)');
  return {
    source: r.file,
    imageMean,
    imageStd,
    preprocess: {
      resizeShortestEdge,
      cropSize,
      padToSquare: r.bool('do_pad', padToSquare),
      resample: resampleCode === 2 ? 'bilinear' : 'bicubic',
    },
  };
}

/** crop_size as an int or {height, width} with height == width. */
function squareSide(r: FieldReader, name: string, dflt: number): number {
  const v = r.raw(name);
  if (v === undefined || v === null) return dflt;
  if (typeof v === 'number') return r.positiveInt(name);
  const s = r.section(name);
  const h = s.positiveInt('height');
  const w = s.positiveInt('width');
  if (h !== w) r.fail(name, 'a square crop (height equal to width)');
  return h;
}

/**
 * size as an int or {shortest_edge}. {height, width} (a plain, aspect-distorting resize) is not
 * what CLIP-style LLaVA processors do, so it is refused rather than approximated.
 */
function shortestEdge(r: FieldReader, dflt: number): number {
  const v = r.raw('size');
  if (v === undefined || v === null) return dflt;
  if (typeof v === 'number') return r.positiveInt('size');
  const s = r.section('size');
  if (!s.has('shortest_edge')) {
    throw new ModelConfigError(r.file, r.path('size'), `expected {"shortest_edge": n} for ${r.path('size')} but found ${showJsonValue(v)}`);
  }
  return s.positiveInt('shortest_edge');
}
