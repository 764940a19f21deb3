// Helpers for the model-level training tests: the native model of a checkpoint directory (the
// trainer is created from it), the transformers fixtures' tensors by name, and the preference
// pairs and SFT items of a fixture.
import path from 'node:path';

import { loadModelConfig } from '../../lib/model/config.ts';
import { openCheckpoint, readTensors } from '../../lib/model/safetensors.ts';
import { resolveWeights } from '../../lib/engine/weight_names.ts';
import { native } from '../../lib/native/index.ts';
import type { LlavaModelNative, NativePreferencePair, NativeSftItem } from '../../lib/native/contract.ts';
import type { Fixture } from '../engine/fixture_util.ts';

export async function loadNativeModel(dir: string): Promise<LlavaModelNative> {
  const config = loadModelConfig(dir);
  const sources = resolveWeights(native().llavaTensorSpecs(config), [await openCheckpoint(dir)], config);
  return native().loadLlava(config, sources);
}

/** Every tensor of a safetensors file as float32 or float64 (as stored), by name. */
export async function readAll(file: string): Promise<Map<string, Float32Array | Float64Array>> {
  const ck = await openCheckpoint(file);
  const names = [...ck.tensors.keys()];
  const data = await readTensors(names.map((n) => ck.tensors.get(n)!));
  return new Map(names.map((n, i) => [n, data[i] as Float32Array | Float64Array]));
}

/** The fixture's two images as one (2, 3, S, S) batch. */
export function pixelsOf(fx: Fixture): Float32Array {
  const n = fx.images[0].length;
  const out = new Float32Array(2 * n);
  fx.images.forEach((img, i) => out.set(img, i * n));
  return out;
}

/** Item i as a pair on image i: the prompt and the two responses (ids after the prompt). */
export function pairsOf(fx: Fixture): NativePreferencePair[] {
  return fx.items.map((it, i) => ({
    images: [i],
    promptIds: it.prompt,
    chosenIds: it.chosen.slice(it.prompt.length),
    rejectedIds: it.rejected.slice(it.prompt.length),
  }));
}

/** The chosen sequences as SFT items: targets are the response tokens. */
export function sftItemsOf(fx: Fixture): NativeSftItem[] {
  return fx.items.map((it, i) => ({
    images: [i],
    ids: it.chosen,
    mask: it.chosen.map((_, t) => (t >= it.prompt.length ? 1 : 0)),
  }));
}

export const ADAPTER_FILE = (fixtureDir: string) => path.join(fixtureDir, 'adapter', 'adapter_model.safetensors');
