// Reading the transformers reference fixtures (test/fixtures/hf, see its README) for the engine
// tests, and the one error measure every comparison uses.
import { copyFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { openCheckpoint, readTensors, writeSafetensors } from '../../lib/model/safetensors.ts';
import { native } from '../../lib/native/index.ts';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const hfFixtures = path.join(repoRoot, 'test', 'fixtures', 'hf');
export const FIXTURE_MODELS = ['llava-tiny-llama', 'llava-tiny-mistral-gqa', 'llava-tiny-llama-fullfeat-lastlayer'] as const;
export type FixtureModel = (typeof FIXTURE_MODELS)[number];

/**
 * Relative error of one tensor: max |a - b| / max |b| over all elements. Scaling by the tensor's
 * largest magnitude (not per element) keeps near-zero entries from dominating, which is what
 * "relative error <= 1e-5 in fp32" of a whole logits row or hidden state means.
 */
export function relError(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error(`relError: lengths differ (${a.length} vs ${b.length})`);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / scale;
}

export interface FixtureItem {
  prompt: number[];
  chosen: number[]; // prompt + chosen response
  rejected: number[];
}

export interface Fixture {
  dir: string;
  /** (2, 3, S, S) pixel values, one Float32Array per image. */
  images: Float32Array[];
  items: FixtureItem[];
  /** Every tensor of expected.safetensors as float32 or numbers. */
  expectedF32(name: string): Float32Array;
  expectedIds(name: string): number[];
}

async function tensorMap(file: string) {
  const ck = await openCheckpoint(file);
  const names = [...ck.tensors.keys()];
  const data = await readTensors(names.map((n) => ck.tensors.get(n)!));
  return new Map(names.map((n, i) => [n, { entry: ck.tensors.get(n)!, data: data[i] }]));
}

export async function loadFixture(model: FixtureModel): Promise<Fixture> {
  const dir = path.join(hfFixtures, model);
  const inputs = await tensorMap(path.join(dir, 'inputs.safetensors'));
  const expected = await tensorMap(path.join(dir, 'expected.safetensors'));
  const ids = (name: string, map: typeof inputs) => Array.from(map.get(name)!.data as BigInt64Array, Number);
  const pixels = inputs.get('pixel_values')!;
  const perImage = pixels.entry.shape.slice(1).reduce((a, b) => a * b, 1);
  const all = pixels.data as Float32Array;
  const images = [0, 1].map((i) => all.slice(i * perImage, (i + 1) * perImage));
  const items = [0, 1].map((i) => ({ prompt: ids(`prompt_${i}`, inputs), chosen: ids(`ids_chosen_${i}`, inputs), rejected: ids(`ids_rejected_${i}`, inputs) }));
  return {
    dir,
    images,
    items,
    expectedF32: (name) => {
      const t = expected.get(name);
      if (!t) throw new Error(`no ${name} in ${dir}/expected.safetensors`);
      return t.data as Float32Array;
    },
    expectedIds: (name) => ids(name, expected),
  };
}

export type Half = 'BF16' | 'F16';

/**
 * Writes into `dir` a copy of the fixture model whose floating-point tensors are rounded to `half`:
 * stored as `half` (asStored) or as F32 holding the rounded values (else).
 */
export async function roundedCopy(fixtureDir: string, dir: string, half: Half, asStored: boolean): Promise<void> {
  mkdirSync(dir, { recursive: true });
  for (const f of ['config.json', 'generation_config.json']) copyFileSync(path.join(fixtureDir, f), path.join(dir, f));
  const ck = await openCheckpoint(path.join(fixtureDir, 'model.safetensors'));
  const names = [...ck.tensors.keys()];
  const data = (await readTensors(names.map((n) => ck.tensors.get(n)!), { as: 'F32' })) as Float32Array[];
  const tensors = await Promise.all(names.map(async (name, i) => {
    const f32 = data[i];
    const bits = new Uint16Array(f32.length);
    await native().convertDType(f32, 'F32', bits, half);
    const shape = ck.tensors.get(name)!.shape;
    if (asStored) return { name, dtype: half, shape, data: bits };
    const back = new Float32Array(f32.length);
    await native().convertDType(bits, half, back, 'F32');
    return { name, dtype: 'F32' as const, shape, data: back };
  }));
  await writeSafetensors(path.join(dir, 'model.safetensors'), tensors);
}
