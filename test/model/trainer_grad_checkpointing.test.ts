// Gradient checkpointing in the native trainer: a step that keeps only each decoder layer's input
// and recomputes the layer in the backward gives the SAME loss, log-probs and gradients as the step
// that keeps every activation: bitwise (every op is deterministic for a fixed thread count and the
// LoRA dropout masks are redrawn from the same counter key). Checked on a 3-layer tiny model (the
// middle layer is recomputed between two others), with LoRA dropout 0.2, a trainable projector, the
// shared-prefix and the separate layouts, several packed passes, and SFT. Also: the activation bytes
// memoryPlan() reports are the bytes the step allocates (memory().lastStepActivationBytes), and the
// checkpointed plan keeps exactly one (T, D) fp32 buffer per layer.
import { expect } from 'chai';

import { native } from '../../lib/native/index.ts';
import type { LlavaTrainerNative, NativePreferencePair, NativeSftItem } from '../../lib/native/contract.ts';
import { makeRng } from '../helpers/rng.ts';
import { ALL_TARGETS, TINY_SPEC, TINY_TI, type TinyModel, makeTinyModel, randomIds, randomPair, randomizeParams, removeTinyModel } from './trainer_util.ts';
import { dpoStepOptions } from '../helpers/dpo_options.ts';

const LAYERS = 3;
const ALIGN = 256;
const alignUp = (n: number) => Math.ceil(n / ALIGN) * ALIGN;

/** The largest |a - b| over every element of every tensor (0 when bitwise equal, NaN never). */
function maxDiff(a: Float32Array[], b: Float32Array[]): number {
  let worst = 0;
  a.forEach((x, t) => x.forEach((v, i) => (worst = Math.max(worst, Object.is(v, b[t][i]) ? 0 : Math.abs(v - b[t][i]) || Infinity))));
  return worst;
}

describe('trainer: gradient checkpointing', function () {
  this.timeout(120_000);
  let m: TinyModel;
  let trainer: LlavaTrainerNative;
  let pixels: Float32Array;
  let pairs: NativePreferencePair[];
  const rng = makeRng(23);

  before(async () => {
    m = await makeTinyModel({ ...TINY_SPEC, decoder: { ...TINY_SPEC.decoder, numLayers: LAYERS } }, 5);
    trainer = await native().createTrainer(m.model, { lora: { r: 3, alpha: 6, dropout: 0.2, targets: [...ALL_TARGETS], seed: 4 }, trainProjector: true });
    await randomizeParams(trainer, rng, 0.3);
    pixels = rng.normalArray(3 * m.pixelsPerImage);
    const twoImages: NativePreferencePair = {
      images: [2, 0],
      promptIds: [1, ...Array(TINY_TI).fill(m.imageTokenId), 7, ...Array(TINY_TI).fill(m.imageTokenId), ...randomIds(rng, 3, m.vocab)],
      chosenIds: randomIds(rng, 4, m.vocab),
      rejectedIds: randomIds(rng, 2, m.vocab),
    };
    pairs = [randomPair(rng, m, 0, 3, 5, 4), randomPair(rng, m, 1, 2, 1, 6), twoImages];
  });
  after(() => removeTinyModel(m));

  async function dpo(gradCheckpointing: boolean, sharedPrefix: boolean, ps = pairs) {
    await trainer.zeroGrad();
    const res = await trainer.dpoStep(pixels, 3, ps, dpoStepOptions({ key: { step: 3, micro: 1 }, beta: 0.5, sftWeight: 0.05, sharedPrefix, gradCheckpointing }));
    return { res, grads: await trainer.getTensors('grad'), bytes: trainer.memory().lastStepActivationBytes };
  }

  function expectIdentical(a: Awaited<ReturnType<typeof dpo>>, b: Awaited<ReturnType<typeof dpo>>) {
    expect(a.grads.some((g) => g.some((x) => x !== 0)), 'gradients are not all zero').to.equal(true);
    expect(a.res.loss, 'loss').to.equal(b.res.loss);
    expect(a.res.policyChosen, 'policyChosen').to.deep.equal(b.res.policyChosen);
    expect(a.res.policyRejected, 'policyRejected').to.deep.equal(b.res.policyRejected);
    expect(maxDiff(a.grads, b.grads), 'largest gradient difference').to.equal(0);
  }

  for (const sharedPrefix of [true, false]) {
    it(`DPO with LoRA dropout 0.2 and a trainable projector, ${sharedPrefix ? 'shared prefix' : 'separate sequences'}: bitwise the same loss and gradients`, async () => {
      const full = await dpo(false, sharedPrefix);
      const ckpt = await dpo(true, sharedPrefix);
      expectIdentical(ckpt, full);
      expect(ckpt.bytes, 'checkpointed activation bytes').to.be.below(full.bytes);
    });
  }

  it('DPO over several packed passes (each pass recomputed from its own saved inputs): bitwise the same', async () => {
    const big = Array.from({ length: 7 }, (_, i) => randomPair(rng, m, i % 3, 200, 80 + i, 70));
    expectIdentical(await dpo(true, true, big), await dpo(false, true, big));
  });

  it('a checkpointed step does not change what the next full step computes (no state leaks between the modes)', async () => {
    const before = await dpo(false, true);
    await dpo(true, true);
    expectIdentical(await dpo(false, true), before);
  });

  it('SFT with LoRA dropout: bitwise the same loss and gradients', async () => {
    const items: NativeSftItem[] = [0, 1].map((image) => {
      const ids = [1, ...Array(TINY_TI).fill(m.imageTokenId), ...randomIds(rng, 12, m.vocab)];
      return { images: [image], ids, mask: ids.map((_, t) => (t > TINY_TI + 3 ? 1 : 0)) };
    });
    const sft = async (gradCheckpointing: boolean) => {
      await trainer.zeroGrad();
      const r = await trainer.sftStep(pixels, 3, items, { key: { step: 1, micro: 0 }, gradCheckpointing });
      return { loss: r.loss, grads: await trainer.getTensors('grad') };
    };
    const full = await sft(false);
    const ckpt = await sft(true);
    expect(ckpt.loss).to.equal(full.loss);
    expect(maxDiff(ckpt.grads, full.grads)).to.equal(0);
  });

  it('memoryPlan gives the bytes a step allocates, and checkpointing keeps one (T, D) fp32 input per layer', async () => {
    // One pair on one image, shared prefix: T = P + (C - 1) + (R - 1) rows, the longest segment
    // P + max(C, R) - 1 keys, C + R scored tokens, Ti feature rows of each of the call's 3 images;
    // the reference (computed in the step) reads the frozen projector's own features.
    const pair = randomPair(rng, m, 1, 6, 5, 3);
    const P = pair.promptIds.length;
    const C = pair.chosenIds.length;
    const R = pair.rejectedIds.length;
    const shape = { featureRows: 3 * TINY_TI, rows: P + C + R - 2, keys: P + Math.max(C, R) - 1, entries: C + R, refFeatures: true };
    const plan = trainer.memoryPlan(shape);
    const D = TINY_SPEC.decoder.hiddenSize;
    expect(plan.checkpointed.savedBytes).to.equal(LAYERS * alignUp(shape.rows * D * 4));
    expect(plan.full.savedBytes).to.be.above(3 * plan.checkpointed.savedBytes);
    expect(plan.checkpointed.scratchBytes).to.be.above(plan.full.scratchBytes); // the recomputed layer's set
    for (const [gradCheckpointing, want] of [[false, plan.full], [true, plan.checkpointed]] as const) {
      await trainer.zeroGrad();
      await trainer.dpoStep(pixels, 3, [pair], dpoStepOptions({ key: { step: 0, micro: 0 }, gradCheckpointing }));
      expect(trainer.memory().lastStepActivationBytes, `gradCheckpointing ${gradCheckpointing}`).to.equal(want.savedBytes + want.scratchBytes);
    }
  });

  it('memoryPlan rejects a malformed shape, naming the field', () => {
    expect(() => trainer.memoryPlan({ featureRows: 4, rows: -1, keys: 3, entries: 2 })).to.throw(/shape\.rows/);
    expect(() => trainer.memoryPlan({ featureRows: 4, rows: 3, keys: 3 } as never)).to.throw(/entries/);
  });
});
