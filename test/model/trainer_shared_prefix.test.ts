// The shared-prefix pair step (image + prompt once, chosen and rejected as two branches over its
// keys) against two full sequences per pair: same loss, log-probs and gradients (relative error
// <= 1e-5 per tensor), in both rejected log-prob modes, on pairs with a one-token response (a
// branch with no rows of its own), two pairs on one image and a prompt with two images. Also:
// packing into several passes changes nothing, given reference log-probs are used as given, and
// pairLogprobs agrees with the step.
import { expect } from 'chai';

import { native } from '../../lib/native/index.ts';
import type { LlavaTrainerNative, NativeDpoStepOptions, NativePreferencePair } from '../../lib/native/contract.ts';
import { relError } from '../engine/fixture_util.ts';
import { makeRng } from '../helpers/rng.ts';
import { ALL_TARGETS, TINY_TI, type TinyModel, makeTinyModel, randomIds, randomPair, randomizeParams, removeTinyModel } from './trainer_util.ts';
import { dpoStepOptions, pairLogprobsOptions } from '../helpers/dpo_options.ts';

const REL_TOL = 1e-5;

describe('trainer: shared-prefix pair step', function () {
  this.timeout(60_000);
  let m: TinyModel;
  let trainer: LlavaTrainerNative;
  let pixels: Float32Array;
  let pairs: NativePreferencePair[];
  const rng = makeRng(11);

  before(async () => {
    m = await makeTinyModel();
    trainer = await native().createTrainer(m.model, { lora: { r: 3, alpha: 6, dropout: 0, targets: [...ALL_TARGETS], seed: 2 }, trainProjector: true });
    await randomizeParams(trainer, rng, 0.3);
    pixels = rng.normalArray(3 * m.pixelsPerImage);
    const twoImages: NativePreferencePair = {
      images: [2, 0],
      promptIds: [1, ...Array(TINY_TI).fill(m.imageTokenId), 7, ...Array(TINY_TI).fill(m.imageTokenId), ...randomIds(rng, 3, m.vocab)],
      chosenIds: randomIds(rng, 4, m.vocab),
      rejectedIds: randomIds(rng, 2, m.vocab),
    };
    pairs = [randomPair(rng, m, 0, 3, 5, 4), randomPair(rng, m, 1, 2, 1, 6), randomPair(rng, m, 0, 5, 3, 1), twoImages];
  });
  after(() => removeTinyModel(m));

  async function step(opts: Partial<NativeDpoStepOptions>, ps = pairs) {
    await trainer.zeroGrad();
    const res = await trainer.dpoStep(pixels, 3, ps, dpoStepOptions({ key: { step: 0, micro: 0 }, beta: 0.5, sftWeight: 0.05, ...opts }));
    return { res, grads: await trainer.getTensors('grad') };
  }

  function expectSame(a: Awaited<ReturnType<typeof step>>, b: Awaited<ReturnType<typeof step>>, tol: number) {
    expect(Math.abs(a.res.loss - b.res.loss) / Math.abs(b.res.loss), 'loss').to.be.at.most(tol);
    for (const key of ['policyChosen', 'policyRejected', 'refChosen', 'refRejected'] as const) {
      a.res[key].forEach((x, i) => expect(Math.abs(x - b.res[key][i]) / Math.abs(b.res[key][i]), `${key}[${i}]`).to.be.at.most(tol));
    }
    const names = trainer.tensorInfo().map((t) => t.name);
    a.grads.forEach((g, i) => expect(relError(g, b.grads[i]), names[i]).to.be.at.most(tol));
  }

  for (const mode of ['label', 'top-alt'] as const) {
    it(`gives the loss and gradients of two separate sequences (${mode})`, async () => {
      const shared = await step({ rejectedMode: mode, sharedPrefix: true });
      const separate = await step({ rejectedMode: mode, sharedPrefix: false });
      expect(shared.grads.some((g) => g.some((x) => x !== 0)), 'gradients are not all zero').to.equal(true);
      expectSame(shared, separate, REL_TOL);
    });
  }

  it('gives the same result when the pairs need several packed passes', async () => {
    // 7 pairs of ~360 rows each exceed one pass's 2048-row budget: the step runs several groups.
    const big = Array.from({ length: 7 }, (_, i) => randomPair(rng, m, i % 3, 200, 80 + i, 70));
    const all = await step({}, big);
    await trainer.zeroGrad();
    let loss = 0;
    for (const p of big) loss += (await trainer.dpoStep(pixels, 3, [p], dpoStepOptions({ key: { step: 0, micro: 0 }, beta: 0.5, sftWeight: 0.05, gradScale: 1 / big.length }))).loss;
    const oneByOne = await trainer.getTensors('grad');
    expect(Math.abs(all.res.loss - loss / big.length)).to.be.below(1e-6);
    const names = trainer.tensorInfo().map((t) => t.name);
    all.grads.forEach((g, i) => expect(relError(g, oneByOne[i]), names[i]).to.be.at.most(REL_TOL));
  });

  it('uses given reference log-probs as given, and computes the same ones itself', async () => {
    const computed = await step({});
    const given = pairs.map((p, i) => ({ ...p, refChosen: computed.res.refChosen[i], refRejected: computed.res.refRejected[i] }));
    const withRefs = await step({}, given);
    expect(withRefs.res.loss).to.equal(computed.res.loss);
    withRefs.grads.forEach((g, i) => expect(g).to.deep.equal(computed.grads[i]));
    const shifted = await step({}, given.map((p) => ({ ...p, refChosen: p.refChosen - 1 })));
    expect(shifted.res.refChosen[0]).to.be.closeTo(computed.res.refChosen[0] - 1, 1e-5);
    expect(shifted.res.loss).to.not.be.closeTo(computed.res.loss, 1e-3);
  });

  it('pairLogprobs gives the step its reference and policy log-probs', async () => {
    const { res } = await step({ rejectedMode: 'top-alt' });
    const ref = await trainer.pairLogprobs(pixels, 3, pairs, pairLogprobsOptions('reference', { rejectedMode: 'top-alt' }));
    const pol = await trainer.pairLogprobs(pixels, 3, pairs, pairLogprobsOptions('policy', { rejectedMode: 'top-alt' }));
    pairs.forEach((_, i) => {
      expect(ref.chosen[i]).to.be.closeTo(res.refChosen[i], 1e-5);
      expect(ref.rejected[i]).to.be.closeTo(res.refRejected[i], 1e-5);
      expect(pol.chosen[i]).to.be.closeTo(res.policyChosen[i], 1e-5);
      expect(pol.rejected[i]).to.be.closeTo(res.policyRejected[i], 1e-5);
    });
  });
});
