// Model-level training against Hugging Face transformers + PEFT (test/fixtures/hf, README there):
// for all three tiny models, with the fixture's float64 adapter (r=4, alpha=8, dropout 0) loaded
// and the projector trainable, the DPO loss (label and top-alt rejected log-probs) and SFT loss
// values, every LoRA and projector gradient (relative error <= 1e-4 per tensor: max|a-b| / max|b|),
// and the parameters after one AdamW step. The reference is the adapter disabled with the same
// projector, which at step 0 is the original one (our default).
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';

import { native } from '../../lib/native/index.ts';
import type { LlavaModelNative, LlavaTrainerNative } from '../../lib/native/contract.ts';
import { FIXTURE_MODELS, type Fixture, loadFixture, relError } from '../engine/fixture_util.ts';
import { ADAPTER_FILE, loadNativeModel, pairsOf, pixelsOf, readAll, sftItemsOf } from './trainer_util.ts';
import { dpoStepOptions, sftStepOptions } from '../helpers/dpo_options.ts';

const GRAD_TOL = 1e-4;
const LOSS_TOL = 1e-5; // relative, on losses of order 1 computed from fp32 log-probs of order 50
const LOGP_TOL = 1e-4; // absolute, as the engine's log-prob fixtures

interface DpoExpected {
  loss: number;
  'per_pair[loss,pc,pr,rc,rr]': number[][];
}

for (const name of FIXTURE_MODELS) {
  describe(`trainer vs transformers + PEFT: ${name}`, function () {
    this.timeout(60_000);
    let fx: Fixture;
    let model: LlavaModelNative;
    let trainer: LlavaTrainerNative;
    let expected: { dpo: { label: DpoExpected; topalt: DpoExpected; sft_mean_ce: number; lora: { r: number; alpha: number } } };
    const pixels = () => pixelsOf(fx);

    before(async () => {
      fx = await loadFixture(name);
      expected = JSON.parse(readFileSync(path.join(fx.dir, 'expected.json'), 'utf8'));
      model = await loadNativeModel(fx.dir);
      trainer = await native().createTrainer(model, {
        lora: { r: 4, alpha: 8, dropout: 0, targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'], seed: 1 },
        trainProjector: true,
      });
      const adapter = await readAll(ADAPTER_FILE(fx.dir));
      await trainer.setTensors('param', [...adapter].map(([n, data]) => ({ name: n, data })));
    });

    async function expectGrads(file: string) {
      const ref = await readAll(path.join(fx.dir, file));
      const names = [...ref.keys()];
      expect(names.length).to.equal(trainer.tensorInfo().length);
      const got = await trainer.getTensors('grad', names);
      names.forEach((n, i) => expect(relError(got[i], ref.get(n) as Float32Array), n).to.be.at.most(GRAD_TOL));
    }

    function expectDpo(res: Awaited<ReturnType<LlavaTrainerNative['dpoStep']>>, exp: DpoExpected) {
      expect(Math.abs(res.loss - exp.loss) / exp.loss).to.be.below(LOSS_TOL);
      exp['per_pair[loss,pc,pr,rc,rr]'].forEach(([, pc, pr, rc, rr], i) => {
        expect(res.policyChosen[i]).to.be.closeTo(pc, LOGP_TOL);
        expect(res.policyRejected[i]).to.be.closeTo(pr, LOGP_TOL);
        expect(res.refChosen[i]).to.be.closeTo(rc, LOGP_TOL);
        expect(res.refRejected[i]).to.be.closeTo(rr, LOGP_TOL);
      });
    }

    it('DPO (label): loss, log-probs and every gradient', async () => {
      await trainer.zeroGrad();
      const res = await trainer.dpoStep(pixels(), 2, pairsOf(fx), dpoStepOptions({ key: { step: 0, micro: 0 } }));
      expectDpo(res, expected.dpo.label);
      await expectGrads('dpo_grads_label.safetensors');
    });

    it('DPO (top-alt rejected log-probs): loss, log-probs and every gradient', async () => {
      await trainer.zeroGrad();
      const res = await trainer.dpoStep(pixels(), 2, pairsOf(fx), dpoStepOptions({ key: { step: 0, micro: 0 }, rejectedMode: 'top-alt' }));
      expectDpo(res, expected.dpo.topalt);
      await expectGrads('dpo_grads_topalt.safetensors');
    });

    it('SFT (mean token cross-entropy over both chosen responses): loss and every gradient', async () => {
      await trainer.zeroGrad();
      const res = await trainer.sftStep(pixels(), 2, sftItemsOf(fx), sftStepOptions({ key: { step: 0, micro: 0 } }));
      expect(Math.abs(res.loss - expected.dpo.sft_mean_ce) / expected.dpo.sft_mean_ce).to.be.below(LOSS_TOL);
      expect(res.tokens).to.equal(fx.items.reduce((n, it) => n + it.chosen.length - it.prompt.length, 0));
      await expectGrads('sft_grads.safetensors');
    });

    // AdamW's first update is lr * g / (|g| + eps) per element: for |g| near eps = 1e-8 it turns a
    // gradient difference far below the 1e-4 gradient tolerance (fp32 summation, ~1e-8 absolute)
    // into an update difference of up to lr. So: (a) our update is exactly torch's formula applied
    // to our gradients (float64 transcription, 1e-6), and (b) the parameters match the fixture to
    // 1e-4 on every element whose fixture gradient is not within 100 eps of zero; those few (counted)
    // differ by at most lr.
    it('one AdamW step on the DPO (label) gradients gives the parameters torch gives', async () => {
      const lr = 1e-3, wd = 0.01, eps = 1e-8;
      await trainer.zeroGrad();
      await trainer.dpoStep(pixels(), 2, pairsOf(fx), dpoStepOptions({ key: { step: 0, micro: 0 } }));
      const ref = await readAll(path.join(fx.dir, 'after_adamw_step.safetensors'));
      const refGrads = await readAll(path.join(fx.dir, 'dpo_grads_label.safetensors'));
      const names = [...ref.keys()];
      const before = await trainer.getTensors('param', names);
      const grads = await trainer.getTensors('grad', names);
      const step = await trainer.optimizerStep({ lora: { lr, weightDecay: wd }, projector: { lr, weightDecay: wd }, beta1: 0.9, beta2: 0.999, eps, maxGradNorm: 0 });
      expect(step.step).to.equal(1);
      expect(step.skipped).to.equal(false);
      const after = await trainer.getTensors('param', names);
      let illConditioned = 0;
      let total = 0;
      names.forEach((n, i) => {
        const p = ref.get(n) as Float32Array;
        const gRef = refGrads.get(n) as Float32Array;
        const scale = p.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
        const torchOnOurs = before[i].map((p0, k) => p0 * (1 - lr * wd) - (lr * grads[i][k]) / (Math.abs(grads[i][k]) + eps));
        expect(relError(after[i], torchOnOurs), `${n}: AdamW on our gradients`).to.be.at.most(1e-6);
        for (let k = 0; k < p.length; k++) {
          total++;
          const bound = Math.abs(gRef[k]) < 100 * eps ? (illConditioned++, lr) : GRAD_TOL * scale;
          if (Math.abs(after[i][k] - p[k]) > bound) expect.fail(`${n}[${k}]: ${after[i][k]} vs ${p[k]} (gradient ${gRef[k]})`);
        }
      });
      expect(illConditioned, 'elements with |gradient| < 100 eps').to.be.below(total / 100);
      const zeroed = await trainer.getTensors('grad');
      expect(zeroed.every((g) => g.every((x) => x === 0)), 'gradients zeroed after the step').to.equal(true);
    });
  });
}
