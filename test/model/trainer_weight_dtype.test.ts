// Training on a base model held in BF16/F16 (issue 18): the frozen matrices stay in their stored
// dtype and the backward GEMMs read them as stored. With the fixture's adapter loaded, the DPO and
// SFT losses and every LoRA and projector gradient equal those of an F32 checkpoint holding the
// same rounded values (relative error <= 1e-5 per tensor).
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { native } from '../../lib/native/index.ts';
import type { LlavaTrainerNative } from '../../lib/native/contract.ts';
import { type Fixture, loadFixture, relError, roundedCopy } from '../engine/fixture_util.ts';
import { ADAPTER_FILE, loadNativeModel, pairsOf, pixelsOf, readAll, sftItemsOf } from './trainer_util.ts';
import { dpoStepOptions, sftStepOptions } from '../helpers/dpo_options.ts';

const TOL = 1e-5;

for (const half of ['BF16', 'F16'] as const) {
  describe(`trainer on ${half} base weights held as stored (llava-tiny-llama)`, function () {
    this.timeout(120_000);
    let root: string;
    let fx: Fixture;
    let stored: LlavaTrainerNative;
    let rounded: LlavaTrainerNative;

    async function trainerOn(dir: string): Promise<LlavaTrainerNative> {
      const model = await loadNativeModel(dir);
      const trainer = await native().createTrainer(model, {
        lora: { r: 4, alpha: 8, dropout: 0, targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'], seed: 1 },
        trainProjector: true,
      });
      const adapter = await readAll(ADAPTER_FILE(fx.dir));
      await trainer.setTensors('param', [...adapter].map(([n, data]) => ({ name: n, data })));
      return trainer;
    }

    before(async () => {
      root = mkdtempSync(path.join(tmpdir(), 'stic-dtype-train-'));
      fx = await loadFixture('llava-tiny-llama');
      await roundedCopy(fx.dir, path.join(root, 'stored'), half, true);
      await roundedCopy(fx.dir, path.join(root, 'rounded-f32'), half, false);
      stored = await trainerOn(path.join(root, 'stored'));
      rounded = await trainerOn(path.join(root, 'rounded-f32'));
    });
    after(() => rmSync(root, { recursive: true, force: true }));

    async function expectSameGrads() {
      const names = stored.tensorInfo().map((t) => t.name);
      const [a, b] = [await stored.getTensors('grad', names), await rounded.getTensors('grad', names)];
      names.forEach((n, i) => expect(relError(a[i], b[i]), n).to.be.at.most(TOL));
    }

    it('DPO: loss and every gradient equal the rounded F32 model\'s', async () => {
      const losses = [];
      for (const t of [stored, rounded]) {
        await t.zeroGrad();
        losses.push((await t.dpoStep(pixelsOf(fx), 2, pairsOf(fx), dpoStepOptions({ key: { step: 0, micro: 0 } }))).loss);
      }
      expect(Math.abs(losses[0] - losses[1]) / Math.abs(losses[1])).to.be.below(TOL);
      await expectSameGrads();
    });

    it('SFT: loss and every gradient equal the rounded F32 model\'s', async () => {
      const losses = [];
      for (const t of [stored, rounded]) {
        await t.zeroGrad();
        losses.push((await t.sftStep(pixelsOf(fx), 2, sftItemsOf(fx), sftStepOptions({ key: { step: 0, micro: 0 } }))).loss);
      }
      expect(Math.abs(losses[0] - losses[1]) / Math.abs(losses[1])).to.be.below(TOL);
      await expectSameGrads();
    });
  });
}
