// Tiny random LLaVA models and batches for the pretraining tests. Weights are drawn with a large
// std (not 0.02) so that every parameter moves the loss measurably in fp32 finite differences.
// Legend: N images, S image side, T tokens of an item, Ti image tokens per image.
import { randomLlavaConfigJson, type RandomLlavaSpec } from '../../lib/engine/random_model.ts';
import { parseModelConfig } from '../../lib/model/config.ts';
import type { EngineConfig } from '../../lib/model/engine_config.ts';
import { native } from '../../lib/native/index.ts';
import type { PretrainItem, PretrainerNative } from '../../lib/native/index.ts';
import type { Rng } from '../helpers/rng.ts';

export const TINY_SPEC: RandomLlavaSpec = {
  // 28 px, patch 14: 4 patches + CLS; 3 layers with feature layer -2, so the last one is unused.
  vision: { imageSize: 28, patchSize: 14, hiddenSize: 16, intermediateSize: 24, numLayers: 3, numHeads: 2 },
  decoder: { family: 'llama', hiddenSize: 16, intermediateSize: 24, numLayers: 2, numHeads: 4, numKvHeads: 2, vocabSize: 40 },
};

/** The engine config of a tiny model; `edit` changes the config.json first. */
export function tinyConfig(edit: (json: Record<string, any>) => void = () => undefined, spec: RandomLlavaSpec = TINY_SPEC): EngineConfig {
  const json = randomLlavaConfigJson(spec) as Record<string, any>;
  edit(json);
  return parseModelConfig(json, 'tiny/config.json');
}

/** Every parameter random: norm gains 1 + N(0, 0.2), everything else N(0, std). */
export async function randomizeParams(p: PretrainerNative, rng: Rng, std = 0.3): Promise<void> {
  const tensors = p.tensorInfo().map((t) => {
    const n = t.shape.reduce((a, b) => a * b, 1);
    const gain = /(norm|layrnorm|layer_norm\d)\.weight$/.test(t.name);
    const data = rng.normalArray(n, gain ? 0.2 : std);
    if (gain) for (let i = 0; i < n; i++) data[i] += 1;
    return { name: t.name, data };
  });
  await p.setTensors('param', tensors);
}

/** Normalised-looking pixels (N, 3, S, S). */
export function randomPixels(config: EngineConfig, n: number, rng: Rng): Float32Array {
  return rng.normalArray(n * 3 * config.vision.imageSize ** 2);
}

/**
 * An item of `len` tokens: a text prefix, Ti image tokens for each listed image, more text; about
 * half of the later text tokens are targets. Text ids avoid the image token id.
 */
export function randomItem(config: EngineConfig, rng: Rng, len: number, images: number[]): PretrainItem {
  const Ti = config.imageTokenCount;
  const V = config.decoder.vocabSize;
  const ids: number[] = [rng.int(0, V - 1)];
  for (const _ of images) for (let k = 0; k < Ti; k++) ids.push(config.imageTokenId);
  while (ids.length < len) ids.push(rng.int(0, V - 1));
  const firstText = 1 + images.length * Ti;
  const mask = ids.map((_, t) => (t > firstText && rng.next() < 0.6 ? 1 : 0));
  mask[ids.length - 1] = 1;
  return { images, ids, mask };
}

export async function createTiny(config: EngineConfig): Promise<PretrainerNative> {
  return native().createPretrainer(config);
}
