// The whole-model backward (LoRA in every decoder linear, attention over a shared prefix, the
// spliced image rows, the projector) against central finite differences of the loss the step
// reports, on a tiny random GQA model with random LoRA weights (B nonzero, so A carries gradient).
// For every trainable tensor: its largest-gradient coordinate and two random ones.
//
// Tolerance. The model runs in fp32, so a loss evaluation carries rounding noise of ~1e-6 (measured:
// central differences at h = 1e-3 scatter by ~1e-3 around a converged value). A central
// difference divides it by 2h; Richardson extrapolation of h = 1.6e-2 and 8e-3
// (D = (4 D(h/2) - D(h)) / 3) cancels the O(h^2) truncation term, leaving ~1e-4 of noise and an
// O(h^4) remainder that LoRA weights of scale 0.1 keep below it. Measured worst |fd - grad|:
// 5e-5 (DPO), 3e-5 (SFT), 2.2e-4 (IPO, whose slope is larger). Tolerance 5e-4 + 2e-3 |grad|,
// while the largest gradient of every tensor is >= 2e-2 (asserted): a wrong factor, sign or
// missing path fails.
import { expect } from 'chai';

import { native } from '../../lib/native/index.ts';
import type { LlavaTrainerNative } from '../../lib/native/contract.ts';
import { makeRng } from '../helpers/rng.ts';
import { ALL_TARGETS, TINY_TI, type TinyModel, makeTinyModel, randomIds, randomPair, randomizeParams, removeTinyModel } from './trainer_util.ts';
import { dpoStepOptions, sftStepOptions } from '../helpers/dpo_options.ts';

const ABS_TOL = 5e-4;
const REL_TOL = 2e-3;

async function checkAgainstFiniteDifferences(trainer: LlavaTrainerNative, loss: () => Promise<number>, seed: number) {
  const rng = makeRng(seed);
  const info = trainer.tensorInfo();
  await trainer.zeroGrad();
  await loss();
  const grads = await trainer.getTensors('grad');
  const params = await trainer.getTensors('param');
  let worst = 0;
  let checked = 0;
  for (let ti = 0; ti < info.length; ti++) {
    const g = grads[ti];
    let top = 0;
    for (let i = 0; i < g.length; i++) if (Math.abs(g[i]) > Math.abs(g[top])) top = i;
    // Large enough that ABS_TOL is a few percent of it at most: the check has power on every tensor.
    expect(Math.abs(g[top]), `${info[ti].name}: largest gradient`).to.be.above(2e-2);
    for (const k of [top, rng.int(0, g.length), rng.int(0, g.length)]) {
      const at = async (v: number) => {
        const p = params[ti].slice();
        p[k] = v;
        await trainer.setTensors('param', [{ name: info[ti].name, data: p }]);
        return loss();
      };
      const x = params[ti][k];
      const central = async (h: number) => ((await at(x + h)) - (await at(x - h))) / (2 * h);
      const h = 1.6e-2;
      const d1 = await central(h);
      const d2 = await central(h / 2);
      const fd = (4 * d2 - d1) / 3;
      await trainer.setTensors('param', [{ name: info[ti].name, data: params[ti] }]);
      const err = Math.abs(fd - g[k]);
      worst = Math.max(worst, err);
      checked++;
      expect(err, `${info[ti].name}[${k}]: backward ${g[k]} vs finite difference ${fd}`).to.be.at.most(ABS_TOL + REL_TOL * Math.abs(g[k]));
    }
  }
  return { worst, checked };
}

describe('trainer: whole-model backward vs finite differences', function () {
  this.timeout(120_000);
  let m: TinyModel;
  const rng = makeRng(3);
  before(async () => {
    m = await makeTinyModel();
  });
  after(() => removeTinyModel(m));

  it('DPO step with LoRA dropout 0.2, shared prefix, trainable projector', async () => {
    const trainer = await native().createTrainer(m.model, { lora: { r: 3, alpha: 6, dropout: 0.2, targets: [...ALL_TARGETS], seed: 5 }, trainProjector: true });
    await randomizeParams(trainer, rng, 0.1);
    const pixels = rng.normalArray(2 * m.pixelsPerImage);
    const pairs = [randomPair(rng, m, 0, 3, 5, 4), randomPair(rng, m, 1, 2, 1, 6)];
    // Same key every evaluation: the dropout masks are fixed, so the loss is a smooth function.
    const loss = async () => (await trainer.dpoStep(pixels, 2, pairs, dpoStepOptions({ key: { step: 3, micro: 1 }, beta: 0.5, sftWeight: 0.05 }))).loss;
    const { checked } = await checkAgainstFiniteDifferences(trainer, loss, 17);
    expect(checked).to.equal(3 * trainer.tensorInfo().length);
  });

  it('SFT step on a text-only item and an image item, LoRA on a subset of modules, separate sequences', async () => {
    const trainer = await native().createTrainer(m.model, { lora: { r: 2, alpha: 3, dropout: 0, targets: ['k_proj', 'o_proj', 'up_proj', 'down_proj'], seed: 9 }, trainProjector: true });
    await randomizeParams(trainer, rng, 0.1);
    const pixels = rng.normalArray(m.pixelsPerImage);
    const withImage = [1, 5, ...Array(TINY_TI).fill(m.imageTokenId), ...randomIds(rng, 9, m.vocab)];
    const textOnly = [1, ...randomIds(rng, 11, m.vocab)];
    const items = [
      { images: [0], ids: withImage, mask: withImage.map((_, t) => (t >= 8 ? 1 : 0)) },
      { images: [], ids: textOnly, mask: textOnly.map((_, t) => (t % 3 === 1 ? 1 : 0)) },
    ];
    const loss = async () => (await trainer.sftStep(pixels, 1, items, sftStepOptions({ key: { step: 0, micro: 0 } }))).loss;
    await checkAgainstFiniteDifferences(trainer, loss, 23);
  });

  it('DPO with separate sequences, the IPO loss and a mean-normalised regulariser, frozen projector', async () => {
    const trainer = await native().createTrainer(m.model, { lora: { r: 4, alpha: 4, dropout: 0, targets: ['q_proj', 'v_proj', 'gate_proj'], seed: 4 }, trainProjector: false });
    // Small LoRA weights and beta 1 keep IPO's margin h near 0 and so its slope 2 (h - 1/(2 beta)),
    // which scales the rounding noise, of order 1 like the sigmoid loss's.
    await randomizeParams(trainer, rng, 0.05);
    const pixels = rng.normalArray(2 * m.pixelsPerImage);
    const pairs = [randomPair(rng, m, 1, 4, 3, 5), randomPair(rng, m, 0, 1, 6, 2)];
    const loss = async () =>
      (await trainer.dpoStep(pixels, 2, pairs, dpoStepOptions({ key: { step: 0, micro: 0 }, loss: 'ipo', beta: 1, sftWeight: 0.1, sftNorm: 'mean', sharedPrefix: false }))).loss;
    await checkAgainstFiniteDifferences(trainer, loss, 29);
  });
});
