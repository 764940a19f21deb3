// LLaVA image preprocessing: RGB images -> the normalised float tensor (N, 3, S, S) the vision tower
// reads. The pixel work is native (native/image/preprocess.cpp, Pillow-exact resampling); this
// file owns the configuration: defaults, the model's preprocessor_config.json, validation.
//
//   clip: CLIPImageProcessor — shorter side to `size` (bicubic), centre crop `crop`, x / 255,
//         (x - mean) / std.
//   pad:  LLaVA-1.5 `image_aspect_ratio: pad` — the image is first centred on a square canvas of its
//         longer side filled with the mean colour, then clip. LLaVA computes that colour as
//         tuple(int(x * 255) for x in image_mean): truncated, (122, 116, 104) for OpenAI CLIP.
import { readFile } from 'node:fs/promises';
import path from 'node:path';

import { OPENAI_CLIP_MEAN, OPENAI_CLIP_STD } from '../model/config_defaults.ts';
import type { VisionConfig } from '../model/engine_config.ts';
import { native } from '../native/index.ts';
import type { NativePreprocessOptions, RgbImage } from '../native/index.ts';
import { type LoadOptions, type LoadOutcome, loadImages } from './image_load.ts';

export type Triple = [number, number, number];

// OpenAI CLIP's normalisation, the defaults here: lib/model/config_defaults.ts's (re-exported for
// the preprocessing's users).
export { OPENAI_CLIP_MEAN, OPENAI_CLIP_STD };

export interface PreprocessConfig {
  mode: 'pad' | 'clip';
  /** Shorter side after the resize. */
  size: number;
  /** Centre-crop side: the S of the output (<= size). */
  crop: number;
  mean: Triple;
  std: Triple;
  /** Canvas colour for 'pad'. */
  padColor: Triple;
  /** Pillow filter of the resize (CLIP processors: bicubic). */
  resample: 'bicubic' | 'bilinear';
}

/** LLaVA's expand2square background: int(255 * mean) per channel. */
export function padColorFor(mean: Triple): Triple {
  return mean.map((m) => Math.trunc(255 * m)) as Triple;
}

function expected(what: string, name: string, v: unknown): TypeError {
  const got = typeof v === 'string' ? `a string "${v}"` : Array.isArray(v) ? `an array of ${v.length} values` : String(v);
  return new TypeError(`Expected ${what} for ${name} but received ${got}`);
}

function checkTriple(v: unknown, name: string, positive: boolean): Triple {
  if (!Array.isArray(v) || v.length !== 3 || v.some((x) => typeof x !== 'number' || !Number.isFinite(x) || (positive && x <= 0))) {
    throw expected(`an array of 3 ${positive ? 'positive ' : ''}numbers`, name, v);
  }
  return v as Triple;
}

function checkSide(v: unknown, name: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 8192) throw expected('an integer between 1 and 8192', name, v);
  return v;
}

/** Defaults (LLaVA-1.5: pad, 336, OpenAI CLIP) overridden by `partial`, validated. */
export function preprocessConfig(partial: Partial<PreprocessConfig> = {}): PreprocessConfig {
  const mode = partial.mode ?? 'pad';
  if (mode !== 'pad' && mode !== 'clip') throw expected('"pad" or "clip"', 'mode', mode);
  const size = checkSide(partial.size ?? 336, 'size');
  const crop = checkSide(partial.crop ?? size, 'crop');
  if (crop > size) throw expected(`a crop no larger than size (${size})`, 'crop', crop);
  const mean = checkTriple(partial.mean ?? OPENAI_CLIP_MEAN, 'mean', false);
  const std = checkTriple(partial.std ?? OPENAI_CLIP_STD, 'std', true);
  const padColor = checkTriple(partial.padColor ?? padColorFor(mean), 'padColor', false);
  if (padColor.some((c) => !Number.isInteger(c) || c < 0 || c > 255)) throw expected('3 integers in [0, 255]', 'padColor', padColor);
  const resample = partial.resample ?? 'bicubic';
  if (resample !== 'bicubic' && resample !== 'bilinear') throw expected('"bicubic" or "bilinear"', 'resample', resample);
  return { mode, size, crop, mean, std, padColor, resample };
}

/**
 * A HF preprocessor_config.json (CLIPImageProcessor): `size` ({shortest_edge} or a number),
 * `crop_size` ({height, width} or a number), `image_mean`, `image_std`. Missing fields keep the
 * OpenAI CLIP defaults. `file` names the source in error messages.
 */
export function preprocessConfigFromHf(json: Record<string, unknown>, mode: 'pad' | 'clip', file = 'preprocessor_config.json'): PreprocessConfig {
  const sizeField = json.size;
  let size: number | undefined;
  if (typeof sizeField === 'number') size = sizeField;
  else if (sizeField && typeof sizeField === 'object' && 'shortest_edge' in sizeField) size = (sizeField as { shortest_edge: number }).shortest_edge;
  else if (sizeField !== undefined) throw expected('a number or {shortest_edge}', `${file}: size`, sizeField);
  const cropField = json.crop_size;
  let crop: number | undefined;
  if (typeof cropField === 'number') crop = cropField;
  else if (cropField && typeof cropField === 'object') {
    const c = cropField as { height?: number; width?: number };
    if (c.height !== c.width) throw expected('a square crop_size', `${file}: crop_size`, `${c.height}x${c.width}`);
    crop = c.height;
  }
  try {
    return preprocessConfig({
      mode,
      size,
      crop: crop ?? size,
      mean: json.image_mean as Triple | undefined,
      std: json.image_std as Triple | undefined,
    });
  } catch (err) {
    throw new TypeError(`${file}: ${(err as Error).message}`);
  }
}

/** The preprocessing an engine config describes (lib/model/config.ts reads preprocessor_config.json). */
export function preprocessConfigFromVision(vision: VisionConfig): PreprocessConfig {
  const p = vision.preprocess;
  return preprocessConfig({
    mode: p?.padToSquare ? 'pad' : 'clip',
    size: p?.resizeShortestEdge ?? vision.imageSize,
    crop: p?.cropSize ?? vision.imageSize,
    mean: vision.imageMean,
    std: vision.imageStd,
    resample: p?.resample ?? 'bicubic',
  });
}

/** Reads <modelDir>/preprocessor_config.json when present; OpenAI CLIP at 336 otherwise. */
export async function readPreprocessConfig(modelDir: string, mode: 'pad' | 'clip'): Promise<PreprocessConfig> {
  const file = path.join(modelDir, 'preprocessor_config.json');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return preprocessConfig({ mode });
    throw err;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new SyntaxError(`${file}: not valid JSON (${(err as Error).message})`);
  }
  return preprocessConfigFromHf(json as Record<string, unknown>, mode, file);
}

/** Load options that let sharp shrink big images on decode while leaving >= 2x for Pillow. */
export function shrinkOnLoadFor(cfg: PreprocessConfig): LoadOptions {
  // pad: the canvas is the longer side, so the longer side sets the scale; clip: the shorter side.
  return { shrinkOnLoad: { side: cfg.mode === 'pad' ? 'longer' : 'shorter', keep: 2 * cfg.size } };
}

/** N images -> Float32Array (N, 3, S, S). One native call for the batch. */
export async function preprocessImages(images: RgbImage[], cfg: PreprocessConfig): Promise<Float32Array> {
  const options: NativePreprocessOptions = { ...cfg };
  return native().preprocessImages(images, options);
}

export interface PreprocessedBatch {
  /** (N_ok, 3, S, S) for the files that loaded, in input order. */
  pixels: Float32Array;
  /** Index into `files` of each row of `pixels`. */
  rows: number[];
  /** Files that could not be loaded, with the reason (reported and skipped by pipelines). */
  failures: { index: number; file: string; reason: string }[];
}

/** Decode (with shrink-on-load) and preprocess a batch of files; bad files are skipped and listed. */
export async function loadAndPreprocess(files: string[], cfg: PreprocessConfig): Promise<PreprocessedBatch> {
  const outcomes: LoadOutcome[] = await loadImages(files, shrinkOnLoadFor(cfg));
  const rows: number[] = [];
  const images: RgbImage[] = [];
  const failures: PreprocessedBatch['failures'] = [];
  outcomes.forEach((o, i) => {
    if (o.ok) {
      rows.push(i);
      images.push(o.image);
    } else {
      failures.push({ index: i, file: files[i], reason: o.error.reason });
    }
  });
  const pixels = images.length > 0 ? await preprocessImages(images, cfg) : new Float32Array(0);
  return { pixels, rows, failures };
}
