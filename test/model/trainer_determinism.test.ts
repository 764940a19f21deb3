// Determinism of the trainer: the LoRA init is a pure function of the seed (PEFT's distributions),
// and a step's gradients are bit-identical across runs, trainers and thread counts for the same
// seed and dropout key, while another key draws other dropout masks.
import { expect } from 'chai';

import { native } from '../../lib/native/index.ts';
import type { LlavaTrainerNative, NativeTrainerSpec } from '../../lib/native/contract.ts';
import { makeRng } from '../helpers/rng.ts';
import { ALL_TARGETS, type TinyModel, makeTinyModel, randomPair, removeTinyModel } from './trainer_util.ts';
import { adamWOptions, dpoStepOptions, sftStepOptions } from '../helpers/dpo_options.ts';

describe('trainer: determinism', function () {
  this.timeout(60_000);
  let m: TinyModel;
  const spec = (seed: number, dropout = 0.1): NativeTrainerSpec => ({ lora: { r: 4, alpha: 8, dropout, targets: [...ALL_TARGETS], seed }, trainProjector: true });
  before(async () => {
    m = await makeTinyModel();
  });
  after(() => {
    native().setThreads(0);
    removeTinyModel(m);
  });

  it('initialises LoRA like PEFT from the seed: A ~ U(-1/sqrt(in), 1/sqrt(in)), B = 0', async () => {
    const a = await native().createTrainer(m.model, spec(42));
    const b = await native().createTrainer(m.model, spec(42));
    const c = await native().createTrainer(m.model, spec(43));
    const [pa, pb, pc] = await Promise.all([a.getTensors('param'), b.getTensors('param'), c.getTensors('param')]);
    const info = a.tensorInfo();
    info.forEach((t, i) => {
      expect(pa[i], `${t.name}: same seed`).to.deep.equal(pb[i]);
      if (t.group === 'projector') return;
      if (t.name.includes('lora_B')) {
        expect(pa[i].every((x) => x === 0), `${t.name} is zero`).to.equal(true);
        return;
      }
      const bound = 1 / Math.sqrt(t.shape[1]);
      let mean = 0;
      let sq = 0;
      for (const x of pa[i]) {
        expect(Math.abs(x)).to.be.at.most(bound);
        mean += x / pa[i].length;
        sq += (x * x) / pa[i].length;
      }
      // Uniform on [-b, b]: mean 0 (sd b / sqrt(3n)), mean square b^2 / 3 (sd ~ 0.3 b^2 / sqrt(n)).
      const n = pa[i].length;
      expect(Math.abs(mean), `${t.name} mean`).to.be.below((5 * bound) / Math.sqrt(3 * n));
      expect(Math.abs(sq - (bound * bound) / 3), `${t.name} mean square`).to.be.below((1.5 * bound * bound) / Math.sqrt(n));
      expect(pa[i], `${t.name}: another seed`).to.not.deep.equal(pc[i]);
    });
  });

  async function gradsOf(trainer: LlavaTrainerNative, micro: number, threads: number) {
    const rng = makeRng(8);
    const pixels = rng.normalArray(2 * m.pixelsPerImage);
    const pairs = [randomPair(rng, m, 0, 3, 6, 4), randomPair(rng, m, 1, 5, 2, 7), randomPair(rng, m, 0, 2, 3, 3)];
    native().setThreads(threads);
    await trainer.zeroGrad();
    // One step first so B is nonzero and every gradient path is live.
    await trainer.dpoStep(pixels, 2, pairs, dpoStepOptions({ key: { step: 0, micro: 0 } }));
    await trainer.optimizerStep(adamWOptions({ lora: { lr: 1e-2, weightDecay: 0 }, projector: { lr: 1e-3, weightDecay: 0 }, maxGradNorm: 0 }));
    const res = await trainer.dpoStep(pixels, 2, pairs, dpoStepOptions({ key: { step: 1, micro }, rejectedMode: 'top-alt' }));
    const sft = await trainer.sftStep(pixels, 2, [{ images: [1], ids: [...pairs[1].promptIds, ...pairs[1].chosenIds], mask: [...Array(pairs[1].promptIds.length).fill(0), 1, 1] }], sftStepOptions({ key: { step: 1, micro: micro + 1 } }));
    return { loss: res.loss + sft.loss, grads: await trainer.getTensors('grad') };
  }

  it('gives bit-identical gradients across trainers and thread counts (1, 2, 3) for the same seed and key', async () => {
    const runs: Awaited<ReturnType<typeof gradsOf>>[] = [];
    for (const threads of [1, 2, 3]) runs.push(await gradsOf(await native().createTrainer(m.model, spec(7)), 0, threads));
    expect(runs[0].grads.some((g) => g.some((x) => x !== 0))).to.equal(true);
    for (const r of runs.slice(1)) {
      expect(r.loss).to.equal(runs[0].loss);
      r.grads.forEach((g, i) => expect(g).to.deep.equal(runs[0].grads[i]));
    }
  });

  it('draws other dropout masks for another micro-step key, and none with dropout 0', async () => {
    const key0 = await gradsOf(await native().createTrainer(m.model, spec(7)), 0, 2);
    const key1 = await gradsOf(await native().createTrainer(m.model, spec(7)), 1, 2);
    expect(key1.loss).to.not.equal(key0.loss);
    const noDrop0 = await gradsOf(await native().createTrainer(m.model, spec(7, 0)), 0, 2);
    const noDrop1 = await gradsOf(await native().createTrainer(m.model, spec(7, 0)), 1, 2);
    expect(noDrop1.loss).to.equal(noDrop0.loss);
  });
});
