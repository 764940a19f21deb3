// Image throughput on this machine: decode + LLaVA preprocessing of 640x480 JPEGs to 336x336, and
// each corruption on batches of 336x336 images. Baselines from the same run: sharp's nearest
// operation where it has one (resize for lowres, modulate for jitter, blur for blur, a resize with
// a padded "contain" fit for preprocessing) and a plain TypeScript loop of the same formula
// otherwise (noise, diffusion, masking). sharp runs with its default thread pool over the batch.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import sharp, { type Sharp } from 'sharp';

import { type CorruptionKind, type CorruptionOptions, corruptImages, corruptionSpec } from '../lib/data/corrupt.ts';
import { loadImages } from '../lib/data/image_load.ts';
import { preprocessConfig, preprocessImages, shrinkOnLoadFor } from '../lib/data/preprocess.ts';
import type { RgbImage } from '../lib/native/index.ts';
import { type BenchRow, medianMs } from './harness.ts';

export const title = 'Images: decode + preprocess, corruptions (CPU)';

const SIDE = 336;
const BATCH = 64;
const JPEGS = 32;

// A photo-like test image: smooth gradients plus texture, so JPEG decode cost is realistic. (H, W, C)
function syntheticPhoto(w: number, h: number, seed: number): Buffer {
  const data = Buffer.alloc(w * h * 3);
  let s = seed >>> 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      const tex = (s >>> 24) / 8;
      for (let c = 0; c < 3; c++) {
        data[(y * w + x) * 3 + c] = Math.max(0, Math.min(255, 128 + 90 * Math.sin((x * (c + 1)) / 60 + seed) * Math.cos(y / 45) + tex));
      }
    }
  }
  return data;
}

function perSecond(count: number, ms: number): number {
  return count / (ms / 1000);
}

// --- plain TypeScript baselines (same formulas as the native kernels) -------------------------------
function tsNoise(img: RgbImage, sigma: number, seed: number, alpha = 1, beta = 0): Uint8Array {
  // xorshift32 uniforms + Box-Muller; y = alpha x + beta + sigma z (one normal per byte)
  const out = new Uint8Array(img.data.length);
  let s = seed | 1;
  const u = () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return ((s >>> 8) + 0.5) / 16777216;
  };
  for (let i = 0; i < out.length; i += 2) {
    const r = Math.sqrt(-2 * Math.log(u()));
    const t = 2 * Math.PI * u();
    out[i] = Math.min(255, Math.max(0, Math.round(alpha * img.data[i] + beta + sigma * r * Math.cos(t))));
    if (i + 1 < out.length) out[i + 1] = Math.min(255, Math.max(0, Math.round(alpha * img.data[i + 1] + beta + sigma * r * Math.sin(t))));
  }
  return out;
}

function tsMask(img: RgbImage, patch: number, ratio: number, seed: number): Uint8Array {
  const out = img.data.slice();
  const gw = Math.ceil(img.width / patch);
  const n = gw * Math.ceil(img.height / patch);
  const order = Array.from({ length: n }, (_, i) => i);
  let s = seed | 1;
  const chosen = Math.round(ratio * n);
  for (let i = 0; i < chosen; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const j = i + Math.floor((s / 4294967296) * (n - i));
    [order[i], order[j]] = [order[j], order[i]];
    const x0 = (order[i] % gw) * patch;
    const y0 = Math.floor(order[i] / gw) * patch;
    for (let y = y0; y < Math.min(y0 + patch, img.height); y++) out.fill(0, (y * img.width + x0) * 3, (y * img.width + Math.min(x0 + patch, img.width)) * 3);
  }
  return out;
}

async function sharpEach(images: RgbImage[], op: (s: Sharp) => Sharp): Promise<void> {
  await Promise.all(images.map((im) => op(sharp(im.data, { raw: { width: im.width, height: im.height, channels: 3 } })).raw().toBuffer()));
}

export async function run(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const dir = mkdtempSync(path.join(os.tmpdir(), 'stic-bench-images-'));
  try {
    // ---- decode + preprocess ----------------------------------------------------------------------
    const files: string[] = [];
    for (let i = 0; i < JPEGS; i++) {
      const f = path.join(dir, `photo${i}.jpg`);
      await sharp(syntheticPhoto(640, 480, i), { raw: { width: 640, height: 480, channels: 3 } }).jpeg({ quality: 90 }).toFile(f);
      files.push(f);
    }
    const cfg = preprocessConfig({ mode: 'pad', size: SIDE });
    const cpuMs = (c: NodeJS.CpuUsage) => (c.user + c.system) / 1000;
    let decodeCpu = 0; // process CPU ms per image, decode and preprocess apart (insensitive to other load)
    let preprocessCpu = 0;
    const decodeMs = await medianMs(() => loadImages(files, shrinkOnLoadFor(cfg)), 5);
    const oursMs = await medianMs(async () => {
      const c0 = process.cpuUsage();
      const loaded = await loadImages(files, shrinkOnLoadFor(cfg));
      const c1 = process.cpuUsage();
      await preprocessImages(loaded.map((o) => (o.ok ? o.image : (undefined as never))), cfg);
      decodeCpu = cpuMs(process.cpuUsage(c0)) - cpuMs(process.cpuUsage(c1));
      preprocessCpu = cpuMs(process.cpuUsage(c1));
    }, 5);
    const sharpMs = await medianMs(async () => {
      await Promise.all(
        files.map(async (f) => {
          const { data } = await sharp(f)
            .resize(SIDE, SIDE, { fit: 'contain', background: { r: 122, g: 116, b: 104 }, kernel: 'cubic' })
            .raw()
            .toBuffer({ resolveWithObject: true });
          const out = new Float32Array(3 * SIDE * SIDE); // normalise into CHW, as the model needs
          const plane = SIDE * SIDE;
          for (let i = 0; i < plane; i++) for (let c = 0; c < 3; c++) out[c * plane + i] = (data[3 * i + c] / 255 - cfg.mean[c]) / cfg.std[c];
        }),
      );
    }, 5);
    rows.push({
      name: `decode+preprocess 640x480 JPEG -> ${SIDE} (pad)`,
      unit: 'images/s',
      baselineName: 'sharp resize contain + TS normalise',
      baseline: perSecond(JPEGS, sharpMs),
      ours: perSecond(JPEGS, oursMs),
      higherIsBetter: true,
      note:
        `JPEG decode alone: ${perSecond(JPEGS, decodeMs).toFixed(0)} images/s; CPU per image: decode ${(decodeCpu / JPEGS).toFixed(2)} ms, ` +
        `Pillow-exact pad+resize+normalise ${(preprocessCpu / JPEGS).toFixed(2)} ms (the baseline resamples with libvips, not Pillow-exact)`,
    });

    // ---- corruptions at 336x336, batch 64 -----------------------------------------------------------
    const images: RgbImage[] = Array.from({ length: BATCH }, (_, i) => ({
      data: new Uint8Array(syntheticPhoto(SIDE, SIDE, 100 + i)),
      width: SIDE,
      height: SIDE,
    }));
    const seeds = images.map((_, i) => 1000 + i);
    let cpuPerImage = 0; // process CPU ms per image of the last `corrupt` measurement (load-insensitive)
    const corrupt = async (kind: CorruptionKind, opts: CorruptionOptions = {}) => {
      const spec = corruptionSpec(kind, opts);
      const c0 = process.cpuUsage();
      const ms = await medianMs(() => corruptImages(images, seeds, spec), 5); // 1 warm-up + 5 timed calls
      const c = process.cpuUsage(c0);
      cpuPerImage = (c.user + c.system) / 1000 / (6 * BATCH);
      return ms;
    };
    const tsLoop = (fn: (img: RgbImage, i: number) => unknown) => medianMs(() => images.forEach(fn), 3);
    const cases: [string, () => Promise<number>, string, () => Promise<number>][] = [
      ['lowres (shorter side 20)', () => corrupt('lowres'), 'sharp resize', () => medianMs(() => sharpEach(images, (s) => s.resize(20, 20, { fit: 'outside' })), 5)],
      ['jitter brightness+hue (STIC)', () => corrupt('jitter'), 'sharp modulate', () => medianMs(() => sharpEach(images, (s) => s.modulate({ brightness: 1.2, hue: 60 })), 5)],
      ['jitter brightness only', () => corrupt('jitter', { hue: null }), 'sharp modulate', () => medianMs(() => sharpEach(images, (s) => s.modulate({ brightness: 1.2 })), 5)],
      ['jitter hue only', () => corrupt('jitter', { brightness: null }), 'sharp modulate', () => medianMs(() => sharpEach(images, (s) => s.modulate({ hue: 60 })), 5)],
      ['stic (50/50 lowres or jitter)', () => corrupt('stic'), 'sharp resize|modulate', () => medianMs(() => sharpEach(images, (s) => s.modulate({ brightness: 1.2, hue: 60 })), 5)],
      ['gaussian noise', () => corrupt('noise'), 'TypeScript loop', () => tsLoop((im, i) => tsNoise(im, 25.5, i))],
      ['diffusion noise t=500', () => corrupt('diffusion'), 'TypeScript loop', () => tsLoop((im, i) => tsNoise(im, 120, i, 0.28, 90))],
      ['gaussian blur sigma 2 (13 taps)', () => corrupt('blur', { blurSigma: 2 }), 'sharp blur', () => medianMs(() => sharpEach(images, (s) => s.blur(2)), 5)],
      ['patch mask 14px, 50%', () => corrupt('mask'), 'TypeScript loop', () => tsLoop((im, i) => tsMask(im, 14, 0.5, i))],
    ];
    for (const [name, oursFn, baselineName, baseline] of cases) {
      const ours = await oursFn();
      const base = await baseline();
      rows.push({
        name: `${name}, ${SIDE}x${SIDE} x${BATCH}`,
        unit: 'images/s',
        baselineName,
        baseline: perSecond(BATCH, base),
        ours: perSecond(BATCH, ours),
        higherIsBetter: true,
        note: `ours ${cpuPerImage.toFixed(2)} ms CPU per image (both threads, including OpenMP waits)`,
      });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}
