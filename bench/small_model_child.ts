// One workload on the small benchmark model in a process of its own, so that its peak RSS
// (the high-water mark, which only grows) is its alone: load the model (as stored, or widened to
// F32), then either generate (a 602-token prompt with an image, 32 new tokens) or take one DPO
// micro-step (2 pairs, LoRA r=16 on every linear, trainable projector), or take one full-parameter
// pretraining step (the pretrainer loaded with the checkpoint; 2 text-only items of 64 tokens, then
// clipping and AdamW over every weight). Prints one JSON line
// {peakRssBytes, weightBytes, activationBytes, ms} (a generation's: its activations and KV cache). Run by bench/small_model.ts runChild().

import { resolveWeights } from '../lib/engine/weight_names.ts';
import { loadModelConfig } from '../lib/model/config.ts';
import { openCheckpoint } from '../lib/model/safetensors.ts';
import { native } from '../lib/native/index.ts';
import { llavaPrompt } from './llava_inputs.ts';
import { peakRss } from './peak_rss.ts';
import { IMAGE_FLOATS, type ChildJob, type ChildResult, benchPairs } from './small_model.ts';
import { makeRng } from '../test/helpers/rng.ts';
import { dpoStepOptions } from '../test/helpers/dpo_options.ts';

const job = JSON.parse(process.argv[2] ?? '') as ChildJob;
native().setThreads(job.threads);
const config = loadModelConfig(job.model);
const sources = resolveWeights(native().llavaTensorSpecs(config), [await openCheckpoint(job.model)], config);
const model = await native().loadLlava(config, sources, { dtype: job.dtype });
let activationBytes = 0;
let t0 = 0;
if (job.task === 'generate') {
  const ids = llavaPrompt(config.imageTokenId, config.imageTokenCount);
  t0 = performance.now();
  const gen = model.startGeneration(makeRng(7).normalArray(IMAGE_FLOATS), 1, [{ ids, images: [0], maxNewTokens: 32, temperature: 0, topK: 0, topP: 1, seed: 0 }], []);
  await gen.step(32);
  const g = gen.memory();
  activationBytes = g.activationBytes + g.kvCacheBytes; // with the KV cache
} else if (job.task === 'pretrain') {
  const p = await native().createPretrainer(config);
  await p.readTensors('param', sources);
  const rng = makeRng(11);
  const item = () => ({ images: [], ids: Array.from({ length: 64 }, () => rng.int(0, config.decoder.vocabSize)), mask: [0, ...Array(63).fill(1)] });
  t0 = performance.now();
  await p.step(new Float32Array(0), 0, [item(), item()]);
  await p.optimizerStep({ lr: 1e-3, weightDecay: 0.1, beta1: 0.9, beta2: 0.95, eps: 1e-8, maxGradNorm: 1, frozen: [] });
  activationBytes = p.memory().lastStepActivationBytes;
} else {
  const trainer = await native().createTrainer(model, {
    lora: { r: 16, alpha: 32, dropout: 0.05, targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'], seed: 1 },
    trainProjector: true,
  });
  const pairs = benchPairs(config.imageTokenId, 2);
  const pixels = makeRng(9).normalArray(2 * IMAGE_FLOATS);
  t0 = performance.now();
  await trainer.dpoStep(pixels, 2, pairs, dpoStepOptions({ key: { step: 0, micro: 0 }, gradCheckpointing: job.gradCheckpointing ?? false }));
  activationBytes = trainer.memory().lastStepActivationBytes;
}
const ms = performance.now() - t0;
const result: ChildResult = { peakRssBytes: peakRss(), weightBytes: model.memory().weightBytes, activationBytes, ms };
process.stdout.write(`${JSON.stringify(result)}\n`);
