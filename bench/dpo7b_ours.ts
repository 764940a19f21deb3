// Child process of bench/dpo7b.bench.ts (its own process, so its peak RSS is the step's alone): one
// LoRA DPO step on the 7B checkpoint (weights as stored), one pair with a shared 600-token prompt
// (576 image tokens) and two 100-token responses, LoRA r=16 on the 7 decoder linears + the trainable
// projector, reference log-probs given (as after the pre-pass), optionally with gradient
// checkpointing; prints JSON with the trainer's memory plan for this step.
// Usage: node --import tsx bench/dpo7b_ours.ts MODEL_DIR THREADS CHECKPOINTING(0|1)
import { resolveWeights } from '../lib/engine/weight_names.ts';
import { loadModelConfig } from '../lib/model/config.ts';
import { openCheckpoint } from '../lib/model/safetensors.ts';
import { native } from '../lib/native/index.ts';
import { largestStep, pairExtent } from '../lib/train/memory_plan.ts';
import { llavaPrompt, randomPixels } from './llava_inputs.ts';
import { peakRss } from './peak_rss.ts';
import { dpoStepOptions } from '../test/helpers/dpo_options.ts';

const [dir, threadsArg, ckptArg] = process.argv.slice(2);
const gradCheckpointing = ckptArg === '1';
native().setThreads(Number(threadsArg));
const config = loadModelConfig(dir);
const sources = resolveWeights(native().llavaTensorSpecs(config), [await openCheckpoint(dir)], config);
const model = await native().loadLlava(config, sources, { dtype: 'stored' });
const trainer = await native().createTrainer(model, {
  lora: { r: 16, alpha: 32, dropout: 0, targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'], seed: 1 },
  trainProjector: true,
});
const text = (n: number, from: number) => Array.from({ length: n }, (_, i) => 100 + ((from + i * 53) % 31000));
const pair = {
  images: [0],
  promptIds: llavaPrompt(config.imageTokenId, config.imageTokenCount, 600),
  chosenIds: text(100, 1),
  rejectedIds: text(100, 2),
  refChosen: -900,
  refRejected: -950,
};
const extent = pairExtent({ promptIds: Int32Array.from(pair.promptIds), chosenIds: Int32Array.from(pair.chosenIds), rejectedIds: Int32Array.from(pair.rejectedIds), image: 'the bench image' });
const shape = largestStep([extent], 1, native().trainPassRowBudget, config.imageTokenCount);
const plan = trainer.memoryPlan(shape);
const size = config.vision.imageSize;
const t0 = performance.now();
const r = await trainer.dpoStep(randomPixels(3 * size * size, 7), 1, [pair], dpoStepOptions({ key: { step: 0, micro: 0 }, gradCheckpointing }));
const ms = performance.now() - t0;
const mem = trainer.memory();
process.stdout.write(`${JSON.stringify({
  ms,
  loss: r.loss,
  rows: shape.rows,
  sequenceTokens: pair.promptIds.length + pair.chosenIds.length,
  maxRssBytes: peakRss(),
  activationBytes: mem.lastStepActivationBytes,
  plan,
  weightBytes: model.memory().weightBytes,
  mappedWeightBytes: model.memory().mappedWeightBytes,
})}\n`);
