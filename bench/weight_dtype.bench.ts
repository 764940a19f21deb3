// BF16 weights held as stored vs the same weights widened to F32 at load (--dtype fp32), on the
// small model of the CPU benchmarks (bench/small_model.ts): prefill and decode tokens/s (a 602-token
// prompt with an image, 32 new tokens, greedy), one DPO micro-step (2 pairs of ~616 prompt rows and
// ~200-token responses, LoRA r=16 on every linear, trainable projector), the weight bytes, and the
// peak RSS of a generation and of a DPO step, each run in a process of its own. The two models are
// loaded from the one BF16 checkpoint, so they hold the same values; timings are interleaved
// (F32, BF16, F32, ...) in one process, medians with their spread, the load average printed.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { resolveWeights } from '../lib/engine/weight_names.ts';
import { loadModelConfig } from '../lib/model/config.ts';
import { openCheckpoint } from '../lib/model/safetensors.ts';
import { native } from '../lib/native/index.ts';
import type { LlavaModelNative, LlavaTrainerNative, NativePreferencePair } from '../lib/native/contract.ts';
import { makeRng } from '../test/helpers/rng.ts';
import { type BenchRow, median } from './harness.ts';
import { llavaPrompt } from './llava_inputs.ts';
import { IMAGE_FLOATS, benchPairs, loadAverage, runChild, spread, writeSmallModel } from './small_model.ts';
import { dpoStepOptions } from '../test/helpers/dpo_options.ts';

export const title = 'BF16 weights as stored vs widened to F32 (CPU, small random model, same values)';

// One thread, as bench/dpo_step.bench.ts: on the shared 2-core machine a descheduled OpenMP worker
// stalls every barrier of a 2-thread run (measured here at 2 threads: decode spread 3-23 tokens/s).
const THREADS = 1;
const ROUNDS = 5;
const NEW_TOKENS = 32;
const MiB = 2 ** 20;

interface Variant {
  name: 'F32' | 'BF16';
  model: LlavaModelNative;
  trainer: LlavaTrainerNative;
  prefill: number[];
  decode: number[];
  step: number[];
}

async function timeRound(v: Variant, ids: number[], pixels: Float32Array, pairs: NativePreferencePair[], pairPixels: Float32Array): Promise<void> {
  const gen = v.model.startGeneration(pixels, 1, [{ ids, images: [0], maxNewTokens: NEW_TOKENS, temperature: 0, topK: 0, topP: 1, seed: 0 }], []);
  const t0 = performance.now();
  await gen.step(1);
  const t1 = performance.now();
  await gen.step(NEW_TOKENS - 1);
  const t2 = performance.now();
  v.prefill.push(ids.length / ((t1 - t0) / 1e3));
  v.decode.push((NEW_TOKENS - 1) / ((t2 - t1) / 1e3));
  await v.trainer.zeroGrad();
  const t3 = performance.now();
  await v.trainer.dpoStep(pairPixels, 2, pairs, dpoStepOptions({ key: { step: 0, micro: 0 } }));
  v.step.push(performance.now() - t3);
}

export async function run(): Promise<BenchRow[]> {
  const dir = mkdtempSync(path.join(tmpdir(), 'stic-bench-dtype-'));
  try {
    await writeSmallModel(dir, 'BF16', 1);
    native().setThreads(THREADS);
    const config = loadModelConfig(dir);
    const sources = resolveWeights(native().llavaTensorSpecs(config), [await openCheckpoint(dir)], config);
    const variants: Variant[] = [];
    for (const [name, dtype] of [['F32', 'F32'], ['BF16', 'stored']] as const) {
      const model = await native().loadLlava(config, sources, { dtype });
      const trainer = await native().createTrainer(model, {
        lora: { r: 16, alpha: 32, dropout: 0.05, targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'], seed: 1 },
        trainProjector: true,
      });
      variants.push({ name, model, trainer, prefill: [], decode: [], step: [] });
    }
    const ids = llavaPrompt(config.imageTokenId, config.imageTokenCount);
    const pixels = makeRng(7).normalArray(IMAGE_FLOATS);
    const pairs = benchPairs(config.imageTokenId, 2);
    const pairPixels = makeRng(9).normalArray(2 * IMAGE_FLOATS);
    const loadBefore = loadAverage();
    for (let r = 0; r < ROUNDS + 1; r++) {
      for (const v of variants) await timeRound(v, ids, pixels, pairs, pairPixels);
      if (r === 0) for (const v of variants) (v.prefill.length = 0), (v.decode.length = 0), (v.step.length = 0); // warm-up
    }
    const loads = `load average ${loadBefore} before, ${loadAverage()} after`;
    const [f32, bf16] = variants;
    const peak = (dtype: 'F32' | 'stored', task: 'generate' | 'dpo') => runChild({ model: dir, dtype, task, threads: THREADS });
    const gen = { f32: peak('F32', 'generate'), bf16: peak('stored', 'generate') };
    const dpo = { f32: peak('F32', 'dpo'), bf16: peak('stored', 'dpo') };
    const row = (name: string, unit: string, pick: (v: Variant) => number[], higherIsBetter: boolean, digits: number): BenchRow => ({
      name, unit, baselineName: 'F32 (--dtype fp32)', baseline: median(pick(f32)), ours: median(pick(bf16)), higherIsBetter,
      note: `medians of ${ROUNDS} interleaved rounds, spread F32 ${spread(pick(f32), digits)}, BF16 ${spread(pick(bf16), digits)}; ${THREADS} thread; ${loads}`,
    });
    return [
      row('prefill, 602 tokens + image', 'tokens/s', (v) => v.prefill, true, 0),
      row('decode, 31 tokens', 'tokens/s', (v) => v.decode, true, 1),
      row('DPO micro-step, 2 pairs', 'ms', (v) => v.step, false, 0),
      { name: 'weights', unit: 'MiB', baselineName: 'F32', baseline: f32.model.memory().weightBytes / MiB, ours: bf16.model.memory().weightBytes / MiB, higherIsBetter: false,
        note: `${(bf16.model.memory().mappedWeightBytes / MiB).toFixed(1)} MiB of the BF16 weights mapped from the checkpoint` },
      { name: 'peak RSS, generation', unit: 'MiB', baselineName: 'F32', baseline: gen.f32.peakRssBytes / MiB, ours: gen.bf16.peakRssBytes / MiB, higherIsBetter: false,
        note: 'each in a fresh process: load, generate 32 tokens; /proc/self/status VmHWM (includes Node itself)' },
      { name: 'peak RSS, DPO micro-step', unit: 'MiB', baselineName: 'F32', baseline: dpo.f32.peakRssBytes / MiB, ours: dpo.bf16.peakRssBytes / MiB, higherIsBetter: false,
        note: `each in a fresh process: load, trainer, one 2-pair step (activations ${(dpo.bf16.activationBytes / MiB).toFixed(0)} MiB both)` },
    ];
  } finally {
    native().setThreads(0);
    rmSync(dir, { recursive: true, force: true });
  }
}
