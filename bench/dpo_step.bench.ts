// One DPO micro-step (forward with saved activations, fused head, loss, backward into LoRA and the
// projector) per preference pair on the small random model of bench/model.bench.ts (decoder
// hidden 512, 8 layers, vocab 32000; 576 image tokens), pairs of ~40 prompt + 576 image tokens and
// ~200-token responses, LoRA r=16 on every decoder linear, trainable projector, reference
// log-probs given (computed once, as a training run does). The baseline is the same step with each
// response run as its own full sequence (image + prompt twice per pair); ours runs the image +
// prompt once and the two responses as branches over its keys. Same trainer, same threads,
// interleaved rounds, best of each (the machine is shared). Gradients of the two paths are compared.
// Legend: P prompt rows (image included), C/R response tokens.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { writeRandomLlava } from '../lib/engine/random_model.ts';
import { native } from '../lib/native/index.ts';
import type { LlavaTrainerNative, NativePreferencePair } from '../lib/native/contract.ts';
import { loadNativeModel } from '../test/model/trainer_util.ts';
import { makeRng } from '../test/helpers/rng.ts';
import type { BenchRow } from './harness.ts';
import { SMALL_SPEC, benchPairs } from './small_model.ts';
import { adamWOptions, dpoStepOptions } from '../test/helpers/dpo_options.ts';

export const title = 'DPO step per pair: shared-prefix branches vs two full sequences (CPU, small random model)';

const SPEC = SMALL_SPEC;
// One thread: on the shared 2-core machine a descheduled OpenMP worker stalls every barrier of a
// 2-thread step (single timings then vary by 4x); one thread is only slowed in proportion.
const THREADS = 1;
const PAIRS = 2;
const ROUNDS = 3;

interface Run {
  ms: number;
  grads: Float32Array[];
  loss: number;
}

async function once(trainer: LlavaTrainerNative, pixels: Float32Array, ps: NativePreferencePair[], sharedPrefix: boolean, best?: Run): Promise<Run> {
  await trainer.zeroGrad();
  const t0 = performance.now();
  const res = await trainer.dpoStep(pixels, ps.length, ps, dpoStepOptions({ key: { step: 0, micro: 0 }, sharedPrefix }));
  const ms = performance.now() - t0;
  const run = { ms: Math.min(ms, best?.ms ?? Infinity), grads: best?.grads ?? [], loss: res.loss };
  if (!best) run.grads = await trainer.getTensors('grad');
  return run;
}

function maxRelError(a: Float32Array[], b: Float32Array[]): number {
  let worst = 0;
  a.forEach((x, i) => {
    let diff = 0;
    let scale = 0;
    for (let k = 0; k < x.length; k++) {
      diff = Math.max(diff, Math.abs(x[k] - b[i][k]));
      scale = Math.max(scale, Math.abs(b[i][k]));
    }
    if (scale > 0) worst = Math.max(worst, diff / scale);
  });
  return worst;
}

export async function run(): Promise<BenchRow[]> {
  const dir = mkdtempSync(path.join(tmpdir(), 'stic-bench-dpo-'));
  try {
    native().setThreads(THREADS);
    await writeRandomLlava(dir, SPEC, 3);
    const model = await loadNativeModel(dir);
    const trainer = await native().createTrainer(model, {
      lora: { r: 16, alpha: 32, dropout: 0, targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'], seed: 1 },
      trainProjector: true,
    });
    // Make B nonzero (one update) so every LoRA gradient path carries signal.
    const ps = benchPairs(SPEC.decoder.vocabSize - 1, PAIRS);
    const pixels = makeRng(9).normalArray(PAIRS * 3 * 336 * 336);
    await trainer.dpoStep(pixels, PAIRS, ps.slice(0, 1), dpoStepOptions({ key: { step: 0, micro: 0 } }));
    await trainer.optimizerStep(adamWOptions({ lora: { lr: 1e-3, weightDecay: 0 }, projector: { lr: 1e-5, weightDecay: 0 }, maxGradNorm: 0 }));
    let separate: Run | undefined;
    let shared: Run | undefined;
    for (let r = 0; r < ROUNDS; r++) {
      separate = await once(trainer, pixels, ps, false, separate);
      shared = await once(trainer, pixels, ps, true, shared);
    }
    if (!separate || !shared) throw new Error('no round ran');
    // Activation memory of one pair per step (a step with several pairs packs as many as fit in a
    // 2048-row pass, so its arena size depends on how the pairs happen to pack).
    const onePair = async (sharedPrefix: boolean) => {
      await trainer.dpoStep(pixels, PAIRS, ps.slice(0, 1), dpoStepOptions({ key: { step: 0, micro: 0 }, sharedPrefix }));
      return trainer.memory().lastStepActivationBytes;
    };
    const memSeparate = await onePair(false);
    const memShared = await onePair(true);
    const MiB = 1024 * 1024;
    const rows = ps.map((p) => p.promptIds.length);
    const note = `${PAIRS} pairs, P=${rows[0]} prompt rows, C/R ~200 tokens, LoRA r=16 on all 7 linears + projector, ${THREADS} thread; ` +
      `max rel grad diff shared vs separate ${maxRelError(shared.grads, separate.grads).toExponential(1)}, loss ${shared.loss.toFixed(6)} vs ${separate.loss.toFixed(6)}`;
    return [
      { name: 'time per pair', unit: 'ms', baselineName: 'two full sequences', baseline: separate.ms / PAIRS, ours: shared.ms / PAIRS, higherIsBetter: false, note },
      { name: 'activations, one pair per step', unit: 'MiB', baselineName: 'two full sequences', baseline: memSeparate / MiB, ours: memShared / MiB, higherIsBetter: false },
    ];
  } finally {
    native().setThreads(0);
    rmSync(dir, { recursive: true, force: true });
  }
}
