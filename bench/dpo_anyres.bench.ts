// One DPO micro-step per preference pair with a LLaVA-NeXT-shaped prefix: a small random
// LlavaNext model (CLIP 336 px / 14 of width 256, decoder hidden 512, 8 layers, vocab 32000) and one
// 672x672 image, which anyres turns into 5 crops and 576 + 48 x (48 + 1) = 2928 image tokens (the
// v1.6 count at 7B for a square 672 grid), a ~40-token prompt and ~200-token responses; LoRA r=16 on
// every decoder linear, trainable projector, reference log-probs given. Baseline: each response
// run as its own full sequence (the ~2970-row image + prompt twice); ours: the prefix once and the
// two responses as branches over its keys. Same trainer and thread, interleaved rounds; the median
// of each with its min-max spread and the load average before and after (the machine is shared);
// the two paths' gradients are compared.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { anyresGeometry } from '../lib/data/anyres.ts';
import { type RandomLlavaSpec, writeRandomLlava } from '../lib/engine/random_model.ts';
import { native } from '../lib/native/index.ts';
import type { LlavaTrainerNative, NativeImageLayout, NativePreferencePair } from '../lib/native/contract.ts';
import { loadNativeModel } from '../test/model/trainer_util.ts';
import { makeRng } from '../test/helpers/rng.ts';
import { type BenchRow, median } from './harness.ts';
import { adamWOptions, dpoStepOptions } from '../test/helpers/dpo_options.ts';

export const title = 'DPO step per pair, LLaVA-NeXT prefix (one 672x672 anyres image, 2928 image tokens): shared prefix vs two full sequences (CPU)';

const PINPOINTS: [number, number][] = [[336, 672], [672, 336], [672, 672], [1008, 336], [336, 1008]];
const SPEC: RandomLlavaSpec = {
  vision: { imageSize: 336, patchSize: 14, hiddenSize: 256, intermediateSize: 1024, numLayers: 4, numHeads: 4 },
  decoder: { family: 'mistral', hiddenSize: 512, intermediateSize: 1376, numLayers: 8, numHeads: 8, numKvHeads: 8, vocabSize: 32000 },
  anyres: { gridPinpoints: PINPOINTS },
};
const THREADS = 1; // see bench/dpo_step.bench.ts: one thread is steadier on the shared machine
const ROUNDS = 5;

function pair(imageTokenId: number, imageTokens: number): NativePreferencePair {
  const rng = makeRng(5);
  const text = (n: number) => Array.from({ length: n }, () => rng.int(3, 31000));
  return {
    images: [0],
    promptIds: [1, ...text(12), ...Array(imageTokens).fill(imageTokenId), ...text(28)],
    chosenIds: text(190),
    rejectedIds: text(210),
    refChosen: -1500,
    refRejected: -1600,
  };
}

async function once(trainer: LlavaTrainerNative, pixels: Float32Array, layout: NativeImageLayout, p: NativePreferencePair, sharedPrefix: boolean) {
  await trainer.zeroGrad();
  const t0 = performance.now();
  const res = await trainer.dpoStep(pixels, [layout], [p], dpoStepOptions({ key: { step: 0, micro: 0 }, sharedPrefix }));
  const ms = performance.now() - t0;
  return { ms, loss: res.loss, bytes: trainer.memory().lastStepActivationBytes, grads: await trainer.getTensors('grad') };
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

/** The 1-minute load average (/proc/loadavg), or n/a where there is none. */
function loadAverage(): string {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
  } catch {
    return 'n/a';
  }
}

export async function run(): Promise<BenchRow[]> {
  const dir = mkdtempSync(path.join(tmpdir(), 'stic-bench-next-'));
  try {
    native().setThreads(THREADS);
    await writeRandomLlava(dir, SPEC, 3);
    const model = await loadNativeModel(dir);
    const trainer = await native().createTrainer(model, {
      lora: { r: 16, alpha: 32, dropout: 0, targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'], seed: 1 },
      trainProjector: true,
    });
    const geo = anyresGeometry(672, 672, PINPOINTS, 336, 14);
    const p = pair(SPEC.decoder.vocabSize - 1, geo.tokens);
    const pixels = makeRng(9).normalArray(geo.layout.crops * 3 * 336 * 336);
    // Make B nonzero (one update) so every LoRA gradient path carries signal.
    await trainer.dpoStep(pixels, [geo.layout], [p], dpoStepOptions({ key: { step: 0, micro: 0 } }));
    await trainer.optimizerStep(adamWOptions({ lora: { lr: 1e-3, weightDecay: 0 }, projector: { lr: 1e-5, weightDecay: 0 }, maxGradNorm: 0 }));
    const loadBefore = loadAverage();
    const times = { separate: [] as number[], shared: [] as number[] };
    let separate = await once(trainer, pixels, geo.layout, p, false);
    let shared = await once(trainer, pixels, geo.layout, p, true);
    for (let r = 0; r < ROUNDS; r++) {
      if (r > 0) {
        separate = await once(trainer, pixels, geo.layout, p, false);
        shared = await once(trainer, pixels, geo.layout, p, true);
      }
      times.separate.push(separate.ms);
      times.shared.push(shared.ms);
    }
    const spread = (xs: number[]) => `${(Math.min(...xs) / 1000).toFixed(1)}-${(Math.max(...xs) / 1000).toFixed(1)} s`;
    const MiB = 1024 * 1024;
    const note = `${geo.layout.crops} crops, ${geo.tokens} image tokens, P=${p.promptIds.length} prefix rows, C/R ${p.chosenIds.length}/${p.rejectedIds.length}, ` +
      `LoRA r=16 on all 7 linears + projector, ${THREADS} thread, median of ${ROUNDS} interleaved rounds (spread: two full sequences ${spread(times.separate)}, shared ${spread(times.shared)}; ` +
      `load average ${loadBefore} before, ${loadAverage()} after); max rel grad diff shared vs separate ${maxRelError(shared.grads, separate.grads).toExponential(1)}, ` +
      `loss ${shared.loss.toFixed(6)} vs ${separate.loss.toFixed(6)}`;
    return [
      { name: 'time per pair', unit: 'ms', baselineName: 'two full sequences', baseline: median(times.separate), ours: median(times.shared), higherIsBetter: false, note },
      { name: 'step activations', unit: 'MiB', baselineName: 'two full sequences', baseline: separate.bytes / MiB, ours: shared.bytes / MiB, higherIsBetter: false },
    ];
  } finally {
    native().setThreads(0);
    rmSync(dir, { recursive: true, force: true });
  }
}
