// Shared helpers for the image tests: fixture reads (a minimal safetensors parser, so these tests do
// not depend on the model loader), layout conversions and comparison statistics.
// Legend: C channels (3), H height, W width.
import { readFileSync } from 'node:fs';
import path from 'node:path';

import sharp from 'sharp';

import { packageRoot } from '../../lib/native/index.ts';
import type { RgbImage } from '../../lib/native/index.ts';

export const imagesFixtureDir = path.join(packageRoot, 'test', 'fixtures', 'hf', 'images');

export interface FixtureTensor {
  dtype: string;
  shape: number[];
  data: Float32Array | Uint8Array;
}

/** safetensors: 8-byte little-endian header length, JSON header, raw little-endian tensor bytes. */
export function readSafetensors(file: string): Map<string, FixtureTensor> {
  const buf = readFileSync(file);
  const headerLen = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + headerLen).toString('utf8')) as Record<
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] }
  >;
  const base = 8 + headerLen;
  const out = new Map<string, FixtureTensor>();
  for (const [name, t] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const bytes = buf.subarray(base + t.data_offsets[0], base + t.data_offsets[1]);
    const copy = new Uint8Array(bytes); // aligned copy
    let data: Float32Array | Uint8Array;
    if (t.dtype === 'F32') data = new Float32Array(copy.buffer, 0, copy.byteLength / 4);
    else if (t.dtype === 'U8') data = copy;
    else throw new Error(`${file}: tensor ${name} has dtype ${t.dtype}; this helper reads F32 and U8 only`);
    out.set(name, { dtype: t.dtype, shape: t.shape, data });
  }
  return out;
}

let fixtureCache: Map<string, FixtureTensor> | undefined;
export function imageFixtures(): Map<string, FixtureTensor> {
  fixtureCache ??= readSafetensors(path.join(imagesFixtureDir, 'expected.safetensors'));
  return fixtureCache;
}

export function fixture(name: string): FixtureTensor {
  const t = imageFixtures().get(name);
  if (!t) throw new Error(`expected.safetensors has no tensor ${name}`);
  return t;
}

/** scene.png decoded by sharp as (H, W, C) uint8. */
export async function sceneImage(): Promise<RgbImage> {
  const { data, info } = await sharp(path.join(imagesFixtureDir, 'scene.png')).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data), width: info.width, height: info.height };
}

/** (C, H, W) -> (H, W, C) */
export function chwToHwc<T extends Uint8Array | Float32Array>(chw: T, h: number, w: number): T {
  const out = new (chw.constructor as { new (n: number): T })(chw.length);
  for (let c = 0; c < 3; c++) for (let i = 0; i < h * w; i++) out[i * 3 + c] = chw[c * h * w + i];
  return out;
}

/** Largest absolute difference and the fraction of elements that differ by more than `tol`. */
export function compare(a: ArrayLike<number>, b: ArrayLike<number>, tol: number): { maxDiff: number; fracOver: number; exact: number } {
  if (a.length !== b.length) throw new Error(`length mismatch: ${a.length} vs ${b.length}`);
  let maxDiff = 0;
  let over = 0;
  let exact = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (d > maxDiff) maxDiff = d;
    if (d > tol) over++;
    if (d === 0) exact++;
  }
  return { maxDiff, fracOver: over / a.length, exact: exact / a.length };
}

/** A random (H, W, C) image from a seeded RNG function returning [0, 1). */
export function randomImage(next: () => number, width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = Math.floor(next() * 256);
  return { data, width, height };
}
