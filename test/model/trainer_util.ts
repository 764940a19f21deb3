// Helpers for the model-level training tests: the native model of a checkpoint directory (the
// trainer is created from it), the transformers fixtures' tensors by name, and the preference
// pairs and SFT items of a fixture.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { loadModelConfig } from '../../lib/model/config.ts';
import { openCheckpoint, readTensors } from '../../lib/model/safetensors.ts';
import { type RandomLlavaSpec, writeRandomLlava } from '../../lib/engine/random_model.ts';
import { resolveWeights } from '../../lib/engine/weight_names.ts';
import { native } from '../../lib/native/index.ts';
import type { LlavaModelNative, LlavaTrainerNative, NativePreferencePair, NativeSftItem } from '../../lib/native/contract.ts';
import type { Rng } from '../helpers/rng.ts';
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

// ---- a tiny random model -------------------------------------------------------------------

/** A tiny GQA decoder (Hq 4, Hkv 2) with a 2x2-patch CLIP: Ti = 4 image tokens, vocab 61. */
export const TINY_SPEC: RandomLlavaSpec = {
  vision: { imageSize: 28, patchSize: 14, hiddenSize: 16, intermediateSize: 24, numLayers: 2, numHeads: 2 },
  decoder: { family: 'mistral', hiddenSize: 32, intermediateSize: 40, numLayers: 2, numHeads: 4, numKvHeads: 2, vocabSize: 61 },
  // Weights large enough that the softmax is far from uniform and every path carries gradient.
  std: 0.15,
};
export const TINY_TI = 4;

export interface TinyModel {
  dir: string;
  model: LlavaModelNative;
  imageTokenId: number;
  vocab: number;
  pixelsPerImage: number;
}

export async function makeTinyModel(spec: RandomLlavaSpec = TINY_SPEC, seed = 7): Promise<TinyModel> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'stic-train-'));
  await writeRandomLlava(dir, spec, seed);
  const S = spec.vision.imageSize;
  return { dir, model: await loadNativeModel(dir), imageTokenId: spec.decoder.vocabSize - 1, vocab: spec.decoder.vocabSize, pixelsPerImage: 3 * S * S };
}

export function removeTinyModel(m: TinyModel | undefined): void {
  if (m) rmSync(m.dir, { recursive: true, force: true });
}

/** Random text ids (never BOS/EOS/the image token). */
export function randomIds(rng: Rng, n: number, vocab: number): number[] {
  return Array.from({ length: n }, () => rng.int(3, vocab - 1));
}

/** A pair on image `image`: BOS, 2 text ids, Ti image tokens, `promptText` text ids; responses of the given lengths. */
export function randomPair(rng: Rng, m: TinyModel, image: number, promptText: number, chosen: number, rejected: number): NativePreferencePair {
  const promptIds = [1, ...randomIds(rng, 2, m.vocab), ...Array(TINY_TI).fill(m.imageTokenId), ...randomIds(rng, promptText, m.vocab)];
  return { images: [image], promptIds, chosenIds: randomIds(rng, chosen, m.vocab), rejectedIds: randomIds(rng, rejected, m.vocab) };
}

/** Sets every trainable tensor to N(0, scale) values (LoRA B is zero after init, which hides A's gradient). */
export async function randomizeParams(trainer: LlavaTrainerNative, rng: Rng, scale: number): Promise<void> {
  const info = trainer.tensorInfo();
  const current = await trainer.getTensors('param');
  await trainer.setTensors(
    'param',
    info.map((t, i) => ({
      name: t.name,
      // The projector keeps its values plus a perturbation, so it stays close to the frozen original.
      data: t.group === 'projector' ? current[i].map((x) => x + scale * 0.1 * rng.normal()) : rng.normalArray(current[i].length, scale),
    })),
  );
}

export const ALL_TARGETS = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] as const;
