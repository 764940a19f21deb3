// An honest learning test: a few dozen DPO steps on a fixed set of pairs, with the reference
// log-probs precomputed once (as a training run does), raise the reward accuracy and margin that
// the policy's own log-probs give afterwards. Before training (LoRA B = 0, projector = original)
// the policy is the reference: every reward is 0.
import { expect } from 'chai';

import { native } from '../../lib/native/index.ts';
import { makeRng } from '../helpers/rng.ts';
import { ALL_TARGETS, type TinyModel, makeTinyModel, randomPair, removeTinyModel } from './trainer_util.ts';
import { adamWOptions, dpoStepOptions, pairLogprobsOptions } from '../helpers/dpo_options.ts';

describe('trainer: learning', function () {
  this.timeout(120_000);
  let m: TinyModel;
  before(async () => {
    m = await makeTinyModel();
  });
  after(() => removeTinyModel(m));

  it('raises reward accuracy and margin over 30 DPO steps (LoRA dropout 0.05, trainable projector)', async () => {
    const beta = 0.1;
    const trainer = await native().createTrainer(m.model, { lora: { r: 4, alpha: 8, dropout: 0.05, targets: [...ALL_TARGETS], seed: 3 }, trainProjector: true });
    const rng = makeRng(31);
    const pixels = rng.normalArray(3 * m.pixelsPerImage);
    const base = Array.from({ length: 8 }, (_, i) => randomPair(rng, m, i % 3, 3, 4 + (i % 3), 3 + (i % 4)));
    const ref = await trainer.pairLogprobs(pixels, 3, base, pairLogprobsOptions('reference'));
    const pairs = base.map((p, i) => ({ ...p, refChosen: ref.chosen[i], refRejected: ref.rejected[i] }));
    const rewards = async () => {
      const pol = await trainer.pairLogprobs(pixels, 3, pairs, pairLogprobsOptions('policy'));
      const margins = pairs.map((p, i) => beta * (pol.chosen[i] - p.refChosen) - beta * (pol.rejected[i] - p.refRejected));
      return { accuracy: margins.filter((x) => x > 0).length / margins.length, margin: margins.reduce((a, b) => a + b, 0) / margins.length };
    };
    const before = await rewards();
    expect(before).to.deep.equal({ accuracy: 0, margin: 0 });
    const losses: number[] = [];
    for (let step = 0; step < 30; step++) {
      // Two micro-batches of 4 pairs per step (gradient accumulation).
      for (let micro = 0; micro < 2; micro++) {
        const res = await trainer.dpoStep(pixels, 3, pairs.slice(4 * micro, 4 * micro + 4), dpoStepOptions({ key: { step, micro }, beta, gradScale: 0.5 }));
        losses.push(res.loss);
      }
      await trainer.optimizerStep(adamWOptions({ lora: { lr: 2e-2, weightDecay: 0 }, projector: { lr: 2e-3, weightDecay: 0 }, maxGradNorm: 1 }));
    }
    const after = await rewards();
    expect(after.accuracy).to.be.at.least(0.875);
    expect(after.margin).to.be.above(0.5);
    const first = (losses[0] + losses[1]) / 2;
    const last = (losses[losses.length - 2] + losses[losses.length - 1]) / 2;
    expect(last).to.be.below(first * 0.6);
  });
});
