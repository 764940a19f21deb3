// The random LLaVA-1.5-7B checkpoint the 7B benchmarks run on: the architecture of
// llava-hf/llava-1.5-7b-hf (CLIP ViT-L/14-336, 32-layer 4096-wide Llama, vocab 32064) with random
// bf16 weights (~14 GB), written a tensor at a time into `dir`, or the one STIC_BENCH_7B_DIR names
// (kept and reused between runs).
import { existsSync, statfsSync } from 'node:fs';
import path from 'node:path';

import { type RandomLlavaSpec, writeRandomLlava } from '../lib/engine/random_model.ts';
import { openCheckpoint } from '../lib/model/safetensors.ts';

export const LLAVA_7B: RandomLlavaSpec = {
  vision: { imageSize: 336, patchSize: 14, hiddenSize: 1024, intermediateSize: 4096, numLayers: 24, numHeads: 16 },
  decoder: { family: 'llama', hiddenSize: 4096, intermediateSize: 11008, numLayers: 32, numHeads: 32, numKvHeads: 32, vocabSize: 32064 },
  imageTokenId: 32000,
  dtype: 'BF16',
};

const GB = 1e9;

/** The model folder: STIC_BENCH_7B_DIR's (written there once), else a new one under `work`. */
export async function llava7bModel(work: string, log: (text: string) => void): Promise<string> {
  const model = process.env.STIC_BENCH_7B_DIR ?? path.join(work, 'llava-1.5-7b-random');
  if (existsSync(path.join(model, 'model.safetensors'))) return model;
  const fs = statfsSync(path.dirname(path.resolve(model)));
  const free = fs.bavail * fs.bsize;
  if (free < 16 * GB) throw new Error(`needs 16 GB free under ${path.dirname(model)} for the 7B checkpoint but ${(free / GB).toFixed(1)} GB are`);
  const t0 = performance.now();
  await writeRandomLlava(model, LLAVA_7B, 1);
  log(`wrote the random bf16 checkpoint in ${((performance.now() - t0) / 1e3).toFixed(0)} s: ${model}`);
  return model;
}

/**
 * The decoder's weights as a decode step reads them (every one but the embedding table, of which one
 * row per token is read; the lm_head included), in bytes and parameters, and the vision tower's parameters.
 */
export async function weightTotals(model: string): Promise<{ decoderBytes: number; decoderParams: number; visionParams: number }> {
  const t = { decoderBytes: 0, decoderParams: 0, visionParams: 0 };
  for (const [name, e] of (await openCheckpoint(model)).tensors) {
    const n = e.shape.reduce((a, b) => a * b, 1);
    if (name.startsWith('language_model.') && !name.includes('embed_tokens')) {
      t.decoderBytes += e.nbytes;
      t.decoderParams += n;
    } else if (name.startsWith('vision_tower.')) {
      t.visionParams += n;
    }
  }
  return t;
}
