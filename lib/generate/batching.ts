// Request batching: fixed-size batches in request order, and the distinct images of a batch packed
// into one (N, 3, S, S) pixel array so the vision tower encodes each image once per call however
// many requests share it (a preference pair's chosen and rejected, several prompts per image).
// Legend: N distinct images, S image side.

/** [start, end) index ranges of consecutive batches of at most `size` items. */
export function batchRanges(count: number, size: number): [number, number][] {
  const out: [number, number][] = [];
  for (let start = 0; start < count; start += size) out.push([start, Math.min(count, start + size)]);
  return out;
}

export interface PackedImages {
  /** (N, 3, S, S): the distinct images, in order of first use. */
  pixels: Float32Array;
  count: number;
  /** Per item: the index of its image in `pixels`, or null for a text-only item. */
  index: (number | null)[];
}

/** Packs the items' images, sharing one slot per distinct Float32Array (compared by identity). */
export function packImages(images: (Float32Array | null)[], imageFloats: number): PackedImages {
  const slot = new Map<Float32Array, number>();
  const index = images.map((img) => {
    if (img === null) return null;
    let k = slot.get(img);
    if (k === undefined) {
      k = slot.size;
      slot.set(img, k);
    }
    return k;
  });
  const pixels = new Float32Array(slot.size * imageFloats);
  for (const [img, k] of slot) pixels.set(img, k * imageFloats);
  return { pixels, count: slot.size, index };
}
