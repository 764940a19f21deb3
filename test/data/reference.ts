// Plain TypeScript references for the native image kernels, written from the published algorithms
// (Pillow's Resample.c, torchvision's _functional_tensor.py, Philox4x32-10, DDPM), one readable loop
// per formula and float32 rounding made explicit with Math.fround where the native code is float32.
// Images are (H, W, C) uint8 unless a name says otherwise.
import type { RgbImage } from '../../lib/native/index.ts';

const f32 = Math.fround;

// ---- Pillow resize (8-bit path) ------------------------------------------------------------------
const PRECISION_BITS = 22;

function bicubic(x: number): number {
  const a = -0.5;
  x = Math.abs(x);
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}
function bilinear(x: number): number {
  x = Math.abs(x);
  return x < 1 ? 1 - x : 0;
}

interface Axis { first: number[]; weights: number[][] }

/** Pillow precompute_coeffs + normalize_coeffs_8bpc (fixed point) or the float weights (fixed = false). */
export function pilAxis(inSize: number, outSize: number, filter: 'bicubic' | 'bilinear', fixed = true): Axis {
  const support0 = filter === 'bicubic' ? 2 : 1;
  const kernel = filter === 'bicubic' ? bicubic : bilinear;
  const scale = inSize / outSize;
  const fscale = Math.max(scale, 1);
  const support = support0 * fscale;
  const ss = 1 / fscale;
  const first: number[] = [];
  const weights: number[][] = [];
  for (let i = 0; i < outSize; i++) {
    const center = (i + 0.5) * scale;
    const lo = Math.max(Math.trunc(center - support + 0.5), 0);
    const hi = Math.min(Math.trunc(center + support + 0.5), inSize);
    const k: number[] = [];
    let sum = 0;
    for (let x = lo; x < hi; x++) {
      const w = kernel((x - center + 0.5) * ss);
      k.push(w);
      sum += w;
    }
    weights.push(
      k.map((w) => {
        const v = sum !== 0 ? w / sum : w;
        if (!fixed) return v;
        const s = v * 2 ** PRECISION_BITS;
        return Math.trunc(s < 0 ? s - 0.5 : s + 0.5);
      }),
    );
    first.push(lo);
  }
  return { first, weights };
}

function clip8Fixed(acc: number): number {
  const v = Math.floor(acc / 2 ** PRECISION_BITS);
  return Math.min(255, Math.max(0, v));
}

/** Image.resize((outW, outH), filter) on an RGB PIL image: horizontal pass, uint8, vertical pass, uint8. */
export function pilResize(img: RgbImage, outW: number, outH: number, filter: 'bicubic' | 'bilinear'): RgbImage {
  let cur = img;
  if (outW !== img.width) {
    const ax = pilAxis(img.width, outW, filter);
    const data = new Uint8Array(outW * img.height * 3);
    for (let y = 0; y < img.height; y++) {
      for (let x = 0; x < outW; x++) {
        for (let c = 0; c < 3; c++) {
          let acc = 2 ** (PRECISION_BITS - 1);
          ax.weights[x].forEach((w, t) => (acc += img.data[(y * img.width + ax.first[x] + t) * 3 + c] * w));
          data[(y * outW + x) * 3 + c] = clip8Fixed(acc);
        }
      }
    }
    cur = { data, width: outW, height: img.height };
  }
  if (outH !== img.height) {
    const ay = pilAxis(img.height, outH, filter);
    const data = new Uint8Array(outW * outH * 3);
    for (let y = 0; y < outH; y++) {
      for (let x = 0; x < outW; x++) {
        for (let c = 0; c < 3; c++) {
          let acc = 2 ** (PRECISION_BITS - 1);
          ay.weights[y].forEach((w, t) => (acc += cur.data[((ay.first[y] + t) * outW + x) * 3 + c] * w));
          data[(y * outW + x) * 3 + c] = clip8Fixed(acc);
        }
      }
    }
    cur = { data, width: outW, height: outH };
  }
  return cur === img ? { data: img.data.slice(), width: img.width, height: img.height } : cur;
}

/** Shorter side to `size`, longer int(size * long / short) (torchvision Resize(int), HF processors). */
export function shorterSide(w: number, h: number, size: number): [number, number] {
  const long = Math.trunc((size * Math.max(w, h)) / Math.min(w, h));
  return w <= h ? [size, long] : [long, size];
}

export function crop(img: RgbImage, x0: number, y0: number, w: number, h: number): RgbImage {
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) data.set(img.data.subarray(((y0 + y) * img.width + x0) * 3, ((y0 + y) * img.width + x0 + w) * 3), y * w * 3);
  return { data, width: w, height: h };
}

/** LLaVA expand2square. */
export function expandToSquare(img: RgbImage, color: number[]): RgbImage {
  const side = Math.max(img.width, img.height);
  const data = new Uint8Array(side * side * 3);
  for (let i = 0; i < side * side; i++) data.set(color, i * 3);
  const x0 = Math.floor((side - img.width) / 2);
  const y0 = Math.floor((side - img.height) / 2);
  for (let y = 0; y < img.height; y++) {
    data.set(img.data.subarray(y * img.width * 3, (y + 1) * img.width * 3), ((y0 + y) * side + x0) * 3);
  }
  return { data, width: side, height: side };
}

/** CLIPImageProcessor (PIL path) on one image -> (C, S, S) float32. */
export function clipPreprocess(
  img: RgbImage,
  size: number,
  cropSize: number,
  mean: number[],
  std: number[],
  filter: 'bicubic' | 'bilinear' = 'bicubic',
): Float32Array {
  const [w, h] = shorterSide(img.width, img.height, size);
  const resized = pilResize(img, w, h, filter);
  const c = crop(resized, Math.floor((w - cropSize) / 2), Math.floor((h - cropSize) / 2), cropSize, cropSize);
  const plane = cropSize * cropSize;
  const out = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) {
    for (let ch = 0; ch < 3; ch++) {
      const x = f32(c.data[i * 3 + ch] * (1 / 255));
      out[ch * plane + i] = f32(f32(x - f32(mean[ch])) / f32(std[ch]));
    }
  }
  return out;
}

// ---- torchvision colour ops on uint8 tensors ---------------------------------------------------------
function blendTrunc(v: number): number {
  return Math.trunc(Math.min(Math.max(v, 0), 255));
}

export function brightness(img: RgbImage, f: number): RgbImage {
  const a = f32(f);
  return { ...img, data: img.data.map((x) => blendTrunc(f32(a * x))) };
}

function gray(r: number, g: number, b: number): number {
  return Math.trunc(f32(f32(f32(f32(0.2989) * r) + f32(f32(0.587) * g)) + f32(f32(0.114) * b)));
}

export function contrast(img: RgbImage, f: number): RgbImage {
  let sum = 0;
  const n = img.width * img.height;
  for (let i = 0; i < n; i++) sum += gray(img.data[3 * i], img.data[3 * i + 1], img.data[3 * i + 2]);
  const mean = f32(sum / n);
  const a = f32(f);
  const b = f32(f32(1 - f) * mean);
  return { ...img, data: img.data.map((x) => blendTrunc(f32(f32(a * x) + b))) };
}

export function saturation(img: RgbImage, f: number): RgbImage {
  const a = f32(f);
  const b = f32(1 - f);
  const data = new Uint8Array(img.data.length);
  for (let i = 0; i < img.width * img.height; i++) {
    const g = gray(img.data[3 * i], img.data[3 * i + 1], img.data[3 * i + 2]);
    for (let c = 0; c < 3; c++) data[3 * i + c] = blendTrunc(f32(f32(a * img.data[3 * i + c]) + f32(b * g)));
  }
  return { ...img, data };
}

/** adjust_hue: _rgb2hsv, (h + f) % 1, _hsv2rgb, all float32, then trunc(x * 255.999). */
export function hue(img: RgbImage, f: number): RgbImage {
  const shift = f32(f);
  const data = new Uint8Array(img.data.length);
  for (let i = 0; i < img.width * img.height; i++) {
    const r = f32(img.data[3 * i] / 255);
    const g = f32(img.data[3 * i + 1] / 255);
    const b = f32(img.data[3 * i + 2] / 255);
    const maxc = Math.max(r, g, b);
    const minc = Math.min(r, g, b);
    const eqc = maxc === minc;
    const cr = f32(maxc - minc);
    const s = f32(cr / (eqc ? 1 : maxc));
    const div = eqc ? 1 : cr;
    const rc = f32(f32(maxc - r) / div);
    const gc = f32(f32(maxc - g) / div);
    const bc = f32(f32(maxc - b) / div);
    const hr = maxc === r ? f32(bc - gc) : 0;
    const hg = maxc === g && maxc !== r ? f32(f32(2 + rc) - bc) : 0;
    const hb = maxc !== g && maxc !== r ? f32(f32(4 + gc) - rc) : 0;
    let h = f32(f32(hr + hg) + hb);
    h = f32(f32(h / 6) + 1);
    h = h - Math.floor(h); // fmod by 1 of a positive value: exact
    let hs = f32(h + shift);
    if (hs >= 1) hs = f32(hs - 1);
    if (hs < 0) hs = f32(hs + 1);
    const h6 = f32(hs * 6);
    const fi = Math.floor(h6);
    const fr = f32(h6 - fi);
    const sector = fi % 6;
    const v = maxc;
    const clamp01 = (x: number) => Math.min(Math.max(x, 0), 1);
    const p = clamp01(f32(v * f32(1 - s)));
    const q = clamp01(f32(v * f32(1 - f32(s * fr))));
    const t = clamp01(f32(v * f32(1 - f32(s * f32(1 - fr)))));
    const rgb = [
      [v, t, p],
      [q, v, p],
      [p, v, t],
      [p, q, v],
      [t, p, v],
      [v, p, q],
    ][sector];
    for (let c = 0; c < 3; c++) data[3 * i + c] = Math.trunc(f32(rgb[c] * f32(255.999)));
  }
  return { ...img, data };
}
