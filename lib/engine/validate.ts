// Eager validation of engine inputs in JS, before anything is queued, with one message shape
// (after sharp): "Expected <what> for <name> but received <value>". Messages name the request by
// its index in the caller's array (`requests[3].ids[7]`), so the user finds the bad input.
import type { ModelImage } from '../data/model_image.ts';
import type { EngineConfig } from '../model/engine_config.ts';

/** Describes a received value the way the native helpers do ("a string \"x\"", "-3", "undefined"). */
export function describeValue(v: unknown): string {
  if (v === undefined) return 'undefined';
  if (v === null) return 'null';
  if (typeof v === 'boolean' || typeof v === 'number' || typeof v === 'bigint') return String(v);
  if (typeof v === 'string') return `a string "${v}"`;
  if (Array.isArray(v)) return `an array of ${v.length} value${v.length === 1 ? '' : 's'}`;
  if (ArrayBuffer.isView(v)) return `a ${v.constructor.name} of ${(v as unknown as ArrayLike<unknown>).length} values`;
  if (typeof v === 'function') return 'a function';
  return 'an object';
}

export function expectedError(what: string, name: string, received: unknown): TypeError {
  return new TypeError(`Expected ${what} for ${name} but received ${describeValue(received)}`);
}

export function isInteger(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v);
}

/** An integer >= min (and <= max when given). */
export function checkInt(v: unknown, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!isInteger(v) || v < min || v > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in [${min}, ${max}]`;
    throw expectedError(`an integer ${range}`, name, v);
  }
  return v;
}

/** A finite number in [min, max] (an open end when the flag says so). */
export function checkNumber(v: unknown, name: string, min: number, max: number, openMin = false): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || (openMin && v === min) || v > max) {
    const range = `${openMin ? '(' : '['}${min}, ${max === Infinity ? 'Infinity)' : `${max}]`}`;
    throw expectedError(`a number in ${range}`, name, v);
  }
  return v;
}

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

export function checkArray(v: unknown, name: string, what: string): unknown[] {
  if (!Array.isArray(v)) throw expectedError(what, name, v);
  return v;
}
