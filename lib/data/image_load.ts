// Image files -> RGB pixels with sharp (libvips): JPEG, PNG, WebP, GIF (first frame), TIFF, AVIF/HEIF
// where the installed libvips has it. Output is uint8 RGB, interleaved (H, W, 3) — the layout the
// native kernels take.
//
// Colour handling, compared with what LLaVA's data loader does (`Image.open(f).convert('RGB')`):
//  - EXIF orientation is applied (sharp `.rotate()` with no angle). PIL's convert() does *not* apply
//    it, but every modern viewer does and so does the camera's intent; a rotated photo described as
//    upright is what the user expects.
//  - alpha is dropped without compositing, exactly like PIL's RGBA -> RGB (the colour under a
//    transparent pixel is kept as stored);
//  - grayscale is replicated to three channels (as PIL); 16-bit images are scaled to 8 bits;
//  - CMYK is converted with the embedded (or libvips' default) ICC profile. PIL uses a naive
//    per-channel formula instead, so CMYK JPEGs can differ from PIL by a few levels; they are rare.
//
// Shrink-on-load: with `shrinkOnLoad`, an image whose chosen side is at least twice `keep` is
// decoded smaller (JPEG/WebP decode at 1/2, 1/4, 1/8 scale in the DCT domain, then lanczos3) so that
// side becomes `keep`. Preprocessing asks for keep = 2 x its target, so the Pillow-exact resize still
// performs the final >= 2x antialiased reduction; a 4000x3000 photo never exists at full size in
// memory.
import { stat } from 'node:fs/promises';

import sharp, { type Metadata } from 'sharp';

import type { RgbImage } from '../native/index.ts';

/**
 * The file endings every command treats as images (directories are scanned for these; other files are
 * ignored): what sharp's prebuilt libvips decodes (sharp.format[*].input.fileSuffix, checked by
 * test/data/image_load.test.ts). Not BMP or HEIC: sharp cannot read them.
 */
export const IMAGE_EXTENSIONS: readonly string[] = ['.jpg', '.jpeg', '.jpe', '.jfif', '.png', '.webp', '.gif', '.tif', '.tiff', '.avif'];

export interface LoadedImage extends RgbImage {
  file: string;
  /** Size of the stored image, after EXIF orientation, before any shrink-on-load. */
  sourceWidth: number;
  sourceHeight: number;
  format: string;
}

export interface LoadOptions {
  /** Decode large images smaller: the `side` ends up `keep` pixels when it is >= 2 x keep. */
  shrinkOnLoad?: { side: 'shorter' | 'longer'; keep: number };
}

/** An image file that could not be turned into pixels; the message names the file and the reason. */
export class ImageLoadError extends Error {
  readonly file: string;
  readonly reason: string;
  constructor(file: string, reason: string) {
    super(`Cannot load image ${file}: ${reason}`);
    this.name = 'ImageLoadError';
    this.file = file;
    this.reason = reason;
  }
}

async function checkFile(file: string): Promise<void> {
  let info;
  try {
    info = await stat(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ImageLoadError(file, 'file does not exist');
    if (code === 'EACCES') throw new ImageLoadError(file, 'permission denied');
    throw new ImageLoadError(file, (err as Error).message);
  }
  if (info.isDirectory()) throw new ImageLoadError(file, 'is a directory, not an image file');
  if (!info.isFile()) throw new ImageLoadError(file, 'is not a regular file');
  if (info.size === 0) throw new ImageLoadError(file, 'file is empty (0 bytes)');
}

/** libvips messages carry repeated warning lines; the first line is the cause. */
function vipsReason(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0].trim();
}

function classify(file: string, err: unknown): ImageLoadError {
  const msg = vipsReason(err);
  if (/unsupported image format/i.test(msg)) {
    return new ImageLoadError(file, 'not a recognised image format (expected JPEG, PNG, WebP, GIF, TIFF or AVIF)');
  }
  if (/pixel limit/i.test(msg)) return new ImageLoadError(file, `image is too large (${msg})`);
  return new ImageLoadError(file, `image data is truncated or corrupt (${msg})`);
}

/** The size of an image file after EXIF orientation, from its header alone; throws ImageLoadError. */
export async function readImageSize(file: string): Promise<{ width: number; height: number }> {
  await checkFile(file);
  let meta: Metadata;
  try {
    meta = await sharp(file).metadata();
  } catch (err) {
    throw classify(file, err);
  }
  const swap = (meta.orientation ?? 1) >= 5;
  const width = (swap ? meta.height : meta.width) ?? 0;
  const height = (swap ? meta.width : meta.height) ?? 0;
  if (width < 1 || height < 1) throw new ImageLoadError(file, 'image header gives no size');
  return { width, height };
}

/** Decodes one file to RGB; throws ImageLoadError naming the file and why. */
export async function loadImage(file: string, options: LoadOptions = {}): Promise<LoadedImage> {
  await checkFile(file);
  let meta: Metadata;
  try {
    meta = await sharp(file).metadata();
  } catch (err) {
    throw classify(file, err);
  }
  const swap = (meta.orientation ?? 1) >= 5; // orientations 5-8 rotate by 90 degrees
  const sourceWidth = (swap ? meta.height : meta.width) ?? 0;
  const sourceHeight = (swap ? meta.width : meta.height) ?? 0;
  let pipeline = sharp(file).rotate();
  const shrink = options.shrinkOnLoad;
  if (shrink) {
    const side = shrink.side === 'shorter' ? Math.min(sourceWidth, sourceHeight) : Math.max(sourceWidth, sourceHeight);
    if (side >= 2 * shrink.keep) {
      pipeline = pipeline.resize({
        width: shrink.keep,
        height: shrink.keep,
        fit: shrink.side === 'shorter' ? 'outside' : 'inside',
        kernel: 'lanczos3',
        fastShrinkOnLoad: true,
      });
    }
  }
  try {
    const { data, info } = await pipeline
      .removeAlpha()
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels instead of 3`);
    return {
      data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
      width: info.width,
      height: info.height,
      file,
      sourceWidth,
      sourceHeight,
      format: meta.format ?? 'unknown',
    };
  } catch (err) {
    throw classify(file, err);
  }
}

export type LoadOutcome = { ok: true; image: LoadedImage } | { ok: false; error: ImageLoadError };

/** Loads every file; a file that fails is returned as its error (pipelines report, skip and count). */
export async function loadImages(files: string[], options: LoadOptions = {}, concurrency = 4): Promise<LoadOutcome[]> {
  const out: LoadOutcome[] = new Array(files.length);
  let next = 0;
  const worker = async () => {
    while (next < files.length) {
      const i = next++;
      try {
        out[i] = { ok: true, image: await loadImage(files[i], options) };
      } catch (err) {
        if (!(err instanceof ImageLoadError)) throw err;
        out[i] = { ok: false, error: err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, files.length) }, worker));
  return out;
}
