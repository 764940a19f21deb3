// The small random LLaVA the CPU benchmarks share (bench/model.bench.ts, dpo_step, weight_dtype,
// grad_checkpointing): decoder hidden 512, 8 layers, vocab 32000; a CLIP-style tower at 336 px /
// patch 14 = 576 image tokens, hidden 256, 4 layers. Also: a BF16 copy of its checkpoint, its
// prompts and preference pairs, the spread of repeated timings, and the peak RSS of a workload run
// in a process of its own (bench/small_model_child.ts), which is the only way two variants' peaks
// can be told apart.
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { type RandomLlavaSpec, writeRandomLlava } from '../lib/engine/random_model.ts';
import type { NativePreferencePair } from '../lib/native/contract.ts';
import { makeRng } from '../test/helpers/rng.ts';

export const SMALL_SPEC: RandomLlavaSpec = {
  vision: { imageSize: 336, patchSize: 14, hiddenSize: 256, intermediateSize: 1024, numLayers: 4, numHeads: 4 },
  decoder: { family: 'llama', hiddenSize: 512, intermediateSize: 1376, numLayers: 8, numHeads: 8, numKvHeads: 8, vocabSize: 32000 },
};
export const IMAGE_FLOATS = 3 * 336 * 336;

/** Writes the small model with every tensor in `dtype` (BF16: the F32 random values rounded, as a bf16 checkpoint holds them). */
export async function writeSmallModel(dir: string, dtype: 'F32' | 'BF16', seed: number): Promise<void> {
  await writeRandomLlava(dir, { ...SMALL_SPEC, dtype }, seed);
}

/** Pairs of ~40 prompt + 576 image tokens and ~200-token responses, one image each, reference log-probs given. */
export function benchPairs(imageTokenId: number, count: number): NativePreferencePair[] {
  const rng = makeRng(5);
  const text = (n: number) => Array.from({ length: n }, () => rng.int(3, 31000));
  return Array.from({ length: count }, (_, i) => ({
    images: [i],
    promptIds: [1, ...text(12), ...Array(576).fill(imageTokenId), ...text(28)],
    chosenIds: text(190 + 7 * i),
    rejectedIds: text(210 - 5 * i),
    refChosen: -1500,
    refRejected: -1600,
  }));
}

/** "min-max" of repeated measures, for the notes. */
export function spread(xs: number[], digits = 0): string {
  return `${Math.min(...xs).toFixed(digits)}-${Math.max(...xs).toFixed(digits)}`;
}

/** 1-minute load average, for the notes (the machine is shared). */
export function loadAverage(): string {
  return os.loadavg()[0].toFixed(2);
}

/** What bench/small_model_child.ts runs and reports. */
export interface ChildJob {
  model: string;
  dtype: 'stored' | 'F32';
  task: 'generate' | 'dpo' | 'pretrain';
  gradCheckpointing?: boolean;
  threads: number;
  /** Run on this stic.node instead of the build (STIC_ADDON_PATH; bench/addon_ab.bench.ts). */
  addon?: string;
}
export interface ChildResult {
  peakRssBytes: number;
  weightBytes: number;
  activationBytes: number;
  /** Wall time of the task itself (the generation's 32 tokens with its prefill, the DPO micro-step, or the pretraining step with its optimizer step), model load excluded. */
  ms: number;
}

/** Runs `job` in a fresh Node process and returns its peak RSS (VmHWM) and the engine's byte counts. */
export function runChild(job: ChildJob): ChildResult {
  const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'small_model_child.ts');
  const env = job.addon ? { ...process.env, STIC_ADDON_PATH: job.addon } : process.env;
  const r = spawnSync(process.execPath, ['--import', 'tsx', script, JSON.stringify(job)], { encoding: 'utf8', maxBuffer: 1 << 24, env });
  if (r.status !== 0) throw new Error(`small_model_child.ts ${JSON.stringify(job)} failed: ${r.stderr.trim().split('\n').slice(-5).join(' | ')}`);
  return JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as ChildResult;
}
