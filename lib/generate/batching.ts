// Request batching: fixed-size batches in request order, and the distinct images of a batch packed
// into one (C, 3, S, S) crop array so the vision tower encodes each image once per call however
// many requests share it (a preference pair's chosen and rejected, several prompts per image).
// Legend: N distinct images, C their crops in total, S image side.
import { type ModelImage, nativeLayout } from '../data/model_image.ts';
import type { NativeImageLayout } from '../native/contract.ts';

/** [start, end) index ranges of consecutive batches of at most `size` items. */
export function batchRanges(count: number, size: number): [number, number][] {
  const out: [number, number][] = [];
  for (let start = 0; start < count; start += size) out.push([start, Math.min(count, start + size)]);
  return out;
}

/** xs as consecutive batches of at most `size` items (the batches of batchRanges). */
export function chunks<T>(xs: readonly T[], size: number): T[][] {
  return batchRanges(xs.length, size).map(([start, end]) => xs.slice(start, end));
}

export interface PackedImages {
  /** (C, 3, S, S): the crops of the distinct images, in order of first use. */
  pixels: Float32Array;
  /** One per distinct image (what the native calls take as `images`). */
  layouts: NativeImageLayout[];
  /** Per item: the index of its image in `layouts`, or null for a text-only item. */
  index: (number | null)[];
}

/** Packs the items' images, sharing one slot per distinct pixel array (compared by identity). */
export function packImages(images: (ModelImage | null)[]): PackedImages {
  const slot = new Map<Float32Array, number>();
  const distinct: ModelImage[] = [];
  const index = images.map((img) => {
    if (img === null) return null;
    let k = slot.get(img.pixels);
    if (k === undefined) {
      k = slot.size;
      slot.set(img.pixels, k);
      distinct.push(img);
    }
    return k;
  });
  const pixels = new Float32Array(distinct.reduce((n, im) => n + im.pixels.length, 0));
  let offset = 0;
  for (const im of distinct) {
    pixels.set(im.pixels, offset);
    offset += im.pixels.length;
  }
  return { pixels, layouts: distinct.map(nativeLayout), index };
}
