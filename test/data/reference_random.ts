// TypeScript references for the corruption RNG and the noise/blur/mask kernels: Philox4x32-10 in
// BigInt arithmetic, uniforms and normals by their defining formulas (the normal by inverting an
// accurate normal CDF, not by the native erfinv approximation), and each kernel as a plain loop in
// float64. Images are (H, W, C) uint8.
import type { RgbImage } from '../../lib/native/index.ts';

export type StreamName = 'params' | 'pixels' | 'mask';
const STREAM_ID: Record<StreamName, number> = { params: 0, pixels: 1, mask: 2 };

const M0 = 0xd2511f53n;
const M1 = 0xcd9e8d57n;
const MASK32 = 0xffffffffn;

/** Philox4x32-10 of counter c (4 words) and key k (2 words). */
export function philox(c: number[], k: [number, number]): number[] {
  let [c0, c1, c2, c3] = c.map(BigInt);
  let k0 = BigInt(k[0]);
  let k1 = BigInt(k[1]);
  for (let r = 0; r < 10; r++) {
    const p0 = M0 * c0;
    const p1 = M1 * c2;
    [c0, c1, c2, c3] = [(p1 >> 32n) ^ c1 ^ k0, p1 & MASK32, (p0 >> 32n) ^ c3 ^ k1, p0 & MASK32];
    k0 = (k0 + 0x9e3779b9n) & MASK32;
    k1 = (k1 + 0xbb67ae85n) & MASK32;
  }
  return [c0, c1, c2, c3].map(Number);
}

export function keyOf(seed: number): [number, number] {
  return [seed % 2 ** 32, Math.floor(seed / 2 ** 32)];
}

/** Word `index` of a stream: lane index & 3 of block index >> 2, counter (block, 0, stream, 0). */
export function streamWords(seed: number, stream: StreamName, first: number, count: number): Uint32Array {
  const out = new Uint32Array(count);
  let cachedBlock = -1;
  let block: number[] = [];
  for (let i = 0; i < count; i++) {
    const idx = first + i;
    const b = Math.floor(idx / 4);
    if (b !== cachedBlock) {
      block = philox([b % 2 ** 32, Math.floor(b / 2 ** 32), STREAM_ID[stream], 0], keyOf(seed));
      cachedBlock = b;
    }
    out[i] = block[idx % 4];
  }
  return out;
}

/** Sequential 53-bit uniforms of a stream: draw i from words 2i, 2i+1. */
export function uniformDraws(seed: number, stream: StreamName, count: number): number[] {
  const w = streamWords(seed, stream, 0, 2 * count);
  return Array.from({ length: count }, (_, i) => ((w[2 * i] >>> 5) * 67108864 + (w[2 * i + 1] >>> 6)) / 9007199254740992);
}

// Normal CDF to ~1e-15: erfc by its Taylor series near 0 and a continued fraction in the tails.
function erfc(x: number): number {
  if (x < 0) return 2 - erfc(-x);
  if (x < 2.5) {
    let term = x;
    let sum = x;
    for (let n = 1; n < 200; n++) {
      term *= (-x * x) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return 1 - (2 / Math.sqrt(Math.PI)) * sum;
  }
  let f = 0; // Lentz-free backward evaluation of the continued fraction
  for (let n = 60; n >= 1; n--) f = n / 2 / (x + f);
  return Math.exp(-x * x) / Math.sqrt(Math.PI) / (x + f);
}
const normalCdf = (z: number) => 0.5 * erfc(-z / Math.SQRT2);
const normalPdf = (z: number) => Math.exp(-0.5 * z * z) / Math.sqrt(2 * Math.PI);

/** Phi^-1(u) by bisection to a bracket then Newton steps on the accurate CDF. */
export function inverseNormal(u: number): number {
  let lo = -10;
  let hi = 10;
  for (let i = 0; i < 60; i++) {
    const mid = 0.5 * (lo + hi);
    if (normalCdf(mid) < u) lo = mid;
    else hi = mid;
  }
  let z = 0.5 * (lo + hi);
  for (let i = 0; i < 3; i++) z -= (normalCdf(z) - u) / normalPdf(z);
  return z;
}

/** Normals of a stream: u = ((w >> 8) + 0.5) / 2^24, z = Phi^-1(u). */
export function streamNormals(seed: number, stream: StreamName, first: number, count: number): Float64Array {
  const w = streamWords(seed, stream, first, count);
  return Float64Array.from(w, (x) => inverseNormal(((x >>> 8) + 0.5) / 2 ** 24));
}

const roundHalfEven = (v: number) => {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
};
const toByte = (v: number) => roundHalfEven(Math.min(Math.max(v, 0), 255));

/** y = round(x + 255 sigma z). */
export function gaussianNoise(img: RgbImage, seed: number, sigma: number): RgbImage {
  const z = streamNormals(seed, 'pixels', 0, img.data.length);
  return { ...img, data: img.data.map((x, i) => toByte(x + 255 * sigma * z[i])) };
}

/** abar_t of the linear schedule, then y = round((sqrt(abar) (x / 127.5 - 1) + sqrt(1 - abar) z + 1) 127.5). */
export function alphaBar(t: number, steps: number, b0: number, b1: number): number {
  let a = 1;
  for (let i = 0; i <= t; i++) a *= 1 - (b0 + ((b1 - b0) * i) / (steps - 1));
  return a;
}
export function diffusionNoise(img: RgbImage, seed: number, abar: number): RgbImage {
  const z = streamNormals(seed, 'pixels', 0, img.data.length);
  const sa = Math.sqrt(abar);
  const sn = Math.sqrt(1 - abar);
  return { ...img, data: img.data.map((x, i) => toByte((sa * (x / 127.5 - 1) + sn * z[i] + 1) * 127.5)) };
}

/** 2-D Gaussian blur with reflect padding, float64, as the definition (no separability tricks). */
export function gaussianBlur(img: RgbImage, kernelSize: number, sigma: number): RgbImage {
  const r = (kernelSize - 1) / 2;
  const k1 = Array.from({ length: kernelSize }, (_, j) => Math.exp(-0.5 * ((j - r) / sigma) ** 2));
  const s = k1.reduce((a, b) => a + b, 0);
  const k = k1.map((v) => v / s);
  const reflect = (i: number, n: number) => {
    if (n === 1) return 0;
    const p = 2 * n - 2;
    const m = ((i % p) + p) % p;
    return m < n ? m : p - m;
  };
  const { width: w, height: h } = img;
  const data = new Uint8Array(img.data.length);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < 3; c++) {
        let acc = 0;
        for (let dy = 0; dy < kernelSize; dy++) {
          const yy = reflect(y + dy - r, h);
          for (let dx = 0; dx < kernelSize; dx++) acc += k[dy] * k[dx] * img.data[(yy * w + reflect(x + dx - r, w)) * 3 + c];
        }
        data[(y * w + x) * 3 + c] = toByte(acc);
      }
    }
  }
  return { ...img, data };
}

/** Patch choice by partial Fisher-Yates over the Mask stream, and the filled image. */
export function maskPatches(img: RgbImage, seed: number, patch: number, ratio: number, fill: number[]): { image: RgbImage; masked: number[] } {
  const gw = Math.ceil(img.width / patch);
  const gh = Math.ceil(img.height / patch);
  const n = gw * gh;
  const chosen = Math.min(n, Math.floor(ratio * n + 0.5));
  const order = Array.from({ length: n }, (_, i) => i);
  const u = uniformDraws(seed, 'mask', chosen);
  for (let i = 0; i < chosen; i++) {
    const j = i + Math.floor(u[i] * (n - i));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const masked = order.slice(0, chosen).sort((a, b) => a - b);
  const data = img.data.slice();
  for (const idx of masked) {
    const x0 = (idx % gw) * patch;
    const y0 = Math.floor(idx / gw) * patch;
    for (let y = y0; y < Math.min(y0 + patch, img.height); y++) {
      for (let x = x0; x < Math.min(x0 + patch, img.width); x++) data.set(fill, (y * img.width + x) * 3);
    }
  }
  return { image: { ...img, data }, masked };
}

/** Jitter draws: order by Fisher-Yates (3 draws), then one factor per op in fixed order. */
export function jitterDraws(u: number[], ranges: ([number, number] | null)[]): { order: number[]; factors: number[] } {
  const perm = [0, 1, 2, 3];
  let d = 0;
  for (let i = 3; i >= 1; i--) {
    const j = Math.floor(u[d++] * (i + 1));
    [perm[i], perm[j]] = [perm[j], perm[i]];
  }
  const factors = ranges.map((r) => {
    const x = u[d++];
    return r ? r[0] + (r[1] - r[0]) * x : NaN;
  });
  return { order: perm, factors };
}
