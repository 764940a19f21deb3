// A LoRA DPO micro-step with gradient checkpointing (each decoder layer's input kept, the layer
// recomputed right before its backward) vs keeping every layer's activations, on the small model
// of the CPU benchmarks (bench/small_model.ts; 8 decoder layers), F32 weights: 2 pairs of ~616
// prompt rows (576 image tokens) and ~200-token responses, LoRA r=16 on every linear, trainable
// projector, dropout 0.05. Time: medians of interleaved rounds on one trainer, with the spread and
// the load average. Memory: the step's activation arena (saved + scratch, exact) and the peak RSS
// of one step in a fresh process per mode. The two modes' gradients are compared (bitwise equal).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { resolveWeights } from '../lib/engine/weight_names.ts';
import { loadModelConfig } from '../lib/model/config.ts';
import { openCheckpoint } from '../lib/model/safetensors.ts';
import { native } from '../lib/native/index.ts';
import type { LlavaTrainerNative, NativePreferencePair } from '../lib/native/contract.ts';
import { makeRng } from '../test/helpers/rng.ts';
import { type BenchRow, median } from './harness.ts';
import { IMAGE_FLOATS, benchPairs, loadAverage, runChild, spread, writeSmallModel } from './small_model.ts';
import { adamWOptions, dpoStepOptions } from '../test/helpers/dpo_options.ts';

export const title = 'DPO micro-step: gradient checkpointing vs every activation kept (CPU, small random model)';

// One thread, as bench/dpo_step.bench.ts: a descheduled OpenMP worker on the shared 2-core machine
// stalls every barrier of a 2-thread step.
const THREADS = 1;
const ROUNDS = 5;
const MiB = 2 ** 20;

async function step(trainer: LlavaTrainerNative, pixels: Float32Array, pairs: NativePreferencePair[], gradCheckpointing: boolean) {
  await trainer.zeroGrad();
  const t0 = performance.now();
  await trainer.dpoStep(pixels, pairs.length, pairs, dpoStepOptions({ key: { step: 0, micro: 0 }, gradCheckpointing }));
  return { ms: performance.now() - t0, bytes: trainer.memory().lastStepActivationBytes };
}

function sameBits(a: Float32Array[], b: Float32Array[]): boolean {
  return a.every((x, t) => x.every((v, i) => Object.is(v, b[t][i])));
}

export async function run(): Promise<BenchRow[]> {
  const dir = mkdtempSync(path.join(tmpdir(), 'stic-bench-ckpt-'));
  try {
    await writeSmallModel(dir, 'F32', 3);
    native().setThreads(THREADS);
    const config = loadModelConfig(dir);
    const sources = resolveWeights(native().llavaTensorSpecs(config), [await openCheckpoint(dir)], config);
    const model = await native().loadLlava(config, sources);
    const trainer = await native().createTrainer(model, {
      lora: { r: 16, alpha: 32, dropout: 0.05, targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'], seed: 1 },
      trainProjector: true,
    });
    const pairs = benchPairs(config.imageTokenId, 2);
    const pixels = makeRng(9).normalArray(2 * IMAGE_FLOATS);
    // One update, so LoRA B is nonzero and every gradient path carries signal.
    await step(trainer, pixels, pairs, false);
    await trainer.optimizerStep(adamWOptions({ lora: { lr: 1e-3, weightDecay: 0 }, projector: { lr: 1e-5, weightDecay: 0 }, maxGradNorm: 0 }));
    const full: number[] = [];
    const ckpt: number[] = [];
    const bytes = { full: 0, ckpt: 0 };
    const loadBefore = loadAverage();
    for (let r = 0; r < ROUNDS; r++) {
      const a = await step(trainer, pixels, pairs, false);
      const b = await step(trainer, pixels, pairs, true);
      full.push(a.ms);
      ckpt.push(b.ms);
      bytes.full = a.bytes;
      bytes.ckpt = b.bytes;
    }
    const loads = `load average ${loadBefore} before, ${loadAverage()} after`;
    await step(trainer, pixels, pairs, false);
    const gFull = await trainer.getTensors('grad');
    await step(trainer, pixels, pairs, true);
    const same = sameBits(await trainer.getTensors('grad'), gFull);
    const peak = (gradCheckpointing: boolean) => runChild({ model: dir, dtype: 'stored', task: 'dpo', gradCheckpointing, threads: THREADS });
    const rss = { full: peak(false), ckpt: peak(true) };
    return [
      { name: 'time per step, 2 pairs', unit: 'ms', baselineName: 'every activation kept', baseline: median(full), ours: median(ckpt), higherIsBetter: false,
        note: `medians of ${ROUNDS} interleaved rounds, spread kept ${spread(full)}, checkpointed ${spread(ckpt)}; ${THREADS} thread; ${loads}; gradients ${same ? 'bitwise equal' : 'DIFFER'}` },
      { name: 'activation arena of the step', unit: 'MiB', baselineName: 'every activation kept', baseline: bytes.full / MiB, ours: bytes.ckpt / MiB, higherIsBetter: false,
        note: 'saved + scratch, what the trainer allocated (memory().lastStepActivationBytes)' },
      { name: 'peak RSS of one step', unit: 'MiB', baselineName: 'every activation kept', baseline: rss.full.peakRssBytes / MiB, ours: rss.ckpt.peakRssBytes / MiB, higherIsBetter: false,
        note: 'each in a fresh process: load, trainer, one step; /proc/self/status VmHWM (includes Node itself)' },
    ];
  } finally {
    native().setThreads(0);
    rmSync(dir, { recursive: true, force: true });
  }
}
