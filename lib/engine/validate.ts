// Eager validation of engine inputs in JS, before anything is queued: token ids, images and sequence
// lengths against the model's config, with the message shape of lib/util/expect.ts.
import type { ModelImage } from '../data/model_image.ts';
import type { EngineConfig } from '../model/engine_config.ts';
import { expectedError, isInteger } from '../util/expect.ts';

/** Token ids as an Int32Array: an array or typed array of integers in the vocabulary (or the image token). */
export function checkIds(ids: unknown, name: string, config: EngineConfig, allowEmpty = false): Int32Array {
  const isList = Array.isArray(ids) || (ArrayBuffer.isView(ids) && !(ids instanceof DataView) && !(ids instanceof BigInt64Array));
  if (!isList) throw expectedError('an array of token ids', name, ids);
  const list = ids as ArrayLike<unknown>;
  if (list.length === 0 && !allowEmpty) throw expectedError('a non-empty array of token ids', name, ids);
  const V = config.decoder.vocabSize;
  const out = new Int32Array(list.length);
  for (let i = 0; i < list.length; i++) {
    const id = list[i];
    if (!isInteger(id) || ((id < 0 || id >= V) && id !== config.imageTokenId)) {
      throw expectedError(`a token id in [0, ${V}) or the image token ${config.imageTokenId}`, `${name}[${i}]`, id);
    }
    out[i] = id;
  }
  return out;
}

/**
 * One image: a Float32Array of 3 x S x S normalised values (a single tile) or a ModelImage from the
 * processor (an anyres image's crops and layout). Returns it as a ModelImage.
 */
export function checkImage(image: unknown, name: string, config: EngineConfig): ModelImage {
  const S = config.vision.imageSize;
  const n = 3 * S * S;
  if (image instanceof Float32Array) {
    if (image.length !== n) throw expectedError(`a Float32Array of 3 x ${S} x ${S} = ${n} normalised pixel values`, name, image);
    return { pixels: image, layout: null, tokens: config.imageTokenCount };
  }
  if (typeof image !== 'object' || image === null || !((image as ModelImage).pixels instanceof Float32Array)) {
    throw expectedError(`a Float32Array of 3 x ${S} x ${S} normalised pixel values or a processed image {pixels, layout, tokens}`, name, image);
  }
  const img = image as ModelImage;
  const crops = img.layout === null ? 1 : img.layout.crops;
  if (img.pixels.length !== crops * n) throw expectedError(`${crops} crop(s) of 3 x ${S} x ${S} = ${crops * n} values`, `${name}.pixels`, img.pixels);
  const g = S / config.vision.patchSize;
  const tokens = img.layout === null ? config.imageTokenCount : g * g + img.layout.keepRows * (img.layout.keepCols + 1);
  if (img.tokens !== tokens) throw expectedError(`${tokens} (what its layout gives)`, `${name}.tokens`, img.tokens);
  if (img.layout !== null && !config.anyres) {
    throw new TypeError(`${name}: an anyres (tiled) image needs a LLaVA-NeXT model, but ${config.source ?? 'this model'} is ${config.architecture}`);
  }
  return img;
}

export function countImageTokens(ids: Int32Array, imageTokenId: number): number {
  let n = 0;
  for (const id of ids) if (id === imageTokenId) n++;
  return n;
}

/** The image tokens in ids must be exactly what the given images fill (same message as the native check). */
export function checkImageTokens(ids: Int32Array, images: readonly ModelImage[], where: string, config: EngineConfig): void {
  const found = countImageTokens(ids, config.imageTokenId);
  const want = images.reduce((n, im) => n + im.tokens, 0);
  if (found !== want) {
    // "x 576" when the images have one count (single tiles), "(37 + 51)" otherwise.
    const same = images.every((im) => im.tokens === (images[0]?.tokens ?? config.imageTokenCount));
    const counts = same ? ` x ${images[0]?.tokens ?? config.imageTokenCount}` : ` (${images.map((im) => im.tokens).join(' + ')})`;
    throw new RangeError(`${where}: expected ${want} image tokens (id ${config.imageTokenId}) for ${images.length} image(s)${counts} but found ${found}`);
  }
}

/** Mistral's sliding window is not implemented: refuse sequences long enough for it to matter. */
export function checkSequenceLength(length: number, where: string, config: EngineConfig): void {
  const window = config.decoder.slidingWindow;
  if (window !== null && window !== undefined && length > window) {
    throw new RangeError(
      `${where}: a sequence of ${length} tokens is longer than the model's sliding attention window (${window}), which the engine does not implement`,
    );
  }
}
