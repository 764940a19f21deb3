// The random LLaVA-1.5-7B checkpoint the 7B benchmarks run on: the architecture of
// llava-hf/llava-1.5-7b-hf (CLIP ViT-L/14-336, 32-layer 4096-wide Llama, vocab 32064) with random
// bf16 weights (~14 GB), written a tensor at a time into `dir`, or the one STIC_BENCH_7B_DIR names
// (kept and reused between runs).
import { existsSync, statfsSync } from 'node:fs';
import path from 'node:path';

import { type RandomLlavaSpec, writeRandomLlava } from '../lib/engine/random_model.ts';

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
