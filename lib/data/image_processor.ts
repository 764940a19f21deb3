// Images -> what the model takes (ModelImage), for one model and one image aspect:
//   a single-tile model (LLaVA-1.5 / original layout): its own preprocessing (preprocess.ts), Ti tokens;
//   a LLaVA-NeXT model with aspect 'anyres' (the default): transformers 5's LlavaNextImageProcessor
//     (anyres.ts for the geometry, native anyresPreprocess for the pixels), a size-dependent number
//     of tokens;
//   a LLaVA-NeXT model with aspect 'pad': one square tile, the image centred on a canvas of the mean
//     colour (LLaVA-1.5's expand2square, as the public STIC code trains v1.6), Ti tokens, no newline.
// Legend: N images, S crop side.
import type { EngineConfig } from '../model/engine_config.ts';
import { native } from '../native/index.ts';
import type { RgbImage } from '../native/contract.ts';
import { anyresGeometry } from './anyres.ts';
import { ImageLoadError, type LoadOptions, type LoadOutcome, loadImages, readImageSize } from './image_load.ts';
import type { ImageAspect, ModelImage, ResizeBackend } from './model_image.ts';
import { type PreprocessConfig, preprocessConfig, preprocessImages, shrinkOnLoadFor } from './preprocess.ts';

export interface ImageProcessorOptions {
  /** LLaVA-NeXT models only: 'anyres' (default) or 'pad'. Ignored by single-tile models, which have one way. */
  aspect?: ImageAspect;
  /** Anyres resize arithmetic: 'torchvision' (default, transformers 5) or 'pil'. */
  backend?: ResizeBackend;
}

export interface ImageProcessor {
  /** 'anyres': tiled, per-image token counts; 'tile': one S x S tile per image. */
  readonly kind: 'anyres' | 'tile';
  /** How image files should be decoded for it (shrink-on-load only where it cannot change the result's geometry). */
  readonly loadOptions: LoadOptions;
  /** N images -> N model images, in order. */
  process(images: RgbImage[]): Promise<ModelImage[]>;
  /** The image tokens of an image of this size (what process gives it). */
  tokens(width: number, height: number): number;
}

/** The single-tile preprocessing of a config; with pad, LLaVA-1.5's pad-to-square whatever the config says. */
export function tilePreprocessConfig(config: EngineConfig, pad = false): PreprocessConfig {
  const p = config.vision.preprocess;
  const S = config.vision.imageSize;
  return preprocessConfig({
    mode: pad || p?.padToSquare ? 'pad' : 'clip',
    size: p?.resizeShortestEdge ?? S,
    crop: p?.cropSize ?? S,
    mean: config.vision.imageMean,
    std: config.vision.imageStd,
    resample: p?.resample ?? 'bicubic',
  });
}

/** The processor of a model for the given aspect. */
export function imageProcessor(config: EngineConfig, opts: ImageProcessorOptions = {}): ImageProcessor {
  const aspect = opts.aspect ?? 'anyres';
  if (config.anyres && aspect === 'anyres') return anyresProcessor(config, opts.backend ?? 'torchvision');
  return tileProcessor(config, tilePreprocessConfig(config, config.anyres !== null && config.anyres !== undefined && aspect === 'pad'));
}

function tileProcessor(config: EngineConfig, cfg: PreprocessConfig): ImageProcessor {
  const floats = 3 * cfg.crop * cfg.crop;
  return {
    kind: 'tile',
    loadOptions: shrinkOnLoadFor(cfg),
    tokens: () => config.imageTokenCount,
    async process(images) {
      if (images.length === 0) return [];
      const all = await preprocessImages(images, cfg); // (N, 3, S, S)
      return images.map((_, k) => ({ pixels: all.subarray(k * floats, (k + 1) * floats), layout: null, tokens: config.imageTokenCount }));
    },
  };
}

function anyresProcessor(config: EngineConfig, backend: ResizeBackend): ImageProcessor {
  const v = config.vision;
  const S = v.preprocess?.cropSize ?? v.imageSize;
  const pinpoints = config.anyres!.gridPinpoints;
  return {
    kind: 'anyres',
    // The image's own size decides the grid and the token count: decode it whole.
    loadOptions: {},
    tokens: (width, height) => anyresGeometry(height, width, pinpoints, S, v.patchSize).tokens,
    async process(images) {
      return Promise.all(
        images.map(async (im) => {
          const geo = anyresGeometry(im.height, im.width, pinpoints, S, v.patchSize);
          const pixels = await native().anyresPreprocess(im, {
            crop: S,
            canvasWidth: geo.best[1],
            canvasHeight: geo.best[0],
            resizedWidth: geo.resized[1],
            resizedHeight: geo.resized[0],
            mean: v.imageMean,
            std: v.imageStd,
            backend,
          });
          return { pixels, layout: geo.layout, tokens: geo.tokens };
        }),
      );
    },
  };
}

export interface ProcessedBatch {
  /** The images that loaded, in input order. */
  images: ModelImage[];
  /** Index into `files` of each entry of `images`. */
  rows: number[];
  /** Files that could not be loaded, with the reason (reported and skipped by pipelines). */
  failures: { index: number; file: string; reason: string }[];
}

/** Decodes and processes image files; bad files are skipped and listed. */
export async function loadAndProcess(files: string[], processor: ImageProcessor): Promise<ProcessedBatch> {
  const outcomes: LoadOutcome[] = await loadImages(files, processor.loadOptions);
  const rows: number[] = [];
  const loaded: RgbImage[] = [];
  const failures: ProcessedBatch['failures'] = [];
  outcomes.forEach((o, i) => {
    if (o.ok) {
      rows.push(i);
      loaded.push(o.image);
    } else {
      failures.push({ index: i, file: files[i], reason: o.error.reason });
    }
  });
  return { images: await processor.process(loaded), rows, failures };
}

/**
 * The image tokens of each file under this processor, from the file headers (no pixels decoded):
 * what prompts need before training tokenises them. A file whose size cannot be read maps to the
 * Error saying why (the example is skipped with that reason).
 */
export async function imageTokenCounts(files: readonly string[], processor: ImageProcessor, concurrency = 8): Promise<Map<string, number | Error>> {
  const distinct = [...new Set(files)];
  const out = new Map<string, number | Error>();
  let next = 0;
  const worker = async () => {
    while (next < distinct.length) {
      const file = distinct[next++];
      try {
        const { width, height } = await readImageSize(file);
        out.set(file, processor.tokens(width, height));
      } catch (err) {
        if (!(err instanceof ImageLoadError)) throw err;
        out.set(file, new Error(err.message));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, distinct.length) }, worker));
  return out;
}
