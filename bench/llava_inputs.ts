// Inputs of the LLaVA benchmarks: a prompt shaped like LLaVA's (BOS, text, the image tokens, more
// text) and normalised pixels, both deterministic so every side of a comparison sees the same.

/** `total` ids: BOS, text, `imageTokens` image placeholders, text (at least 16 text ids after the image). */
export function llavaPrompt(imageTokenId: number, imageTokens: number, total = imageTokens + 27): number[] {
  const text = (n: number, from: number) => Array.from({ length: n }, (_, i) => 100 + ((from + i * 37) % 31000));
  const after = Math.max(16, total - imageTokens - 11);
  const before = Math.max(0, total - imageTokens - after - 1);
  return [1, ...text(before, 0), ...new Array<number>(imageTokens).fill(imageTokenId), ...text(after, before + 1)];
}

/** n pixels in about [-2, 2] (normalised range) from a seeded LCG. */
export function randomPixels(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 4294967296) * 4 - 2;
  }
  return out;
}
