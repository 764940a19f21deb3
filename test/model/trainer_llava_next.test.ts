// LLaVA-NeXT training against the reference fixture: with its PEFT adapter (r=4, alpha=8) loaded and
// the projector trainable (image_newline and the tower frozen), the DPO (label) loss, the four
// summed log-probs of each pair and every LoRA and projector gradient. The two pairs' images have 5
// and 3 crops (51 and 25 image tokens) and go through the tower in one batch; each pair's prompt is
// shared by its two responses. Gradients: relError (max|a-b| / max|b| per tensor) <= GRAD_TOL.
import { expect } from 'chai';
import path from 'node:path';

import { nativeLayout } from '../../lib/data/model_image.ts';
import { native } from '../../lib/native/index.ts';
import type { LlavaTrainerNative, NativePreferencePair } from '../../lib/native/contract.ts';
import { relError } from '../engine/fixture_util.ts';
import { ADAPTER_FILE, loadNativeModel, readAll } from './trainer_util.ts';
import { NEXT_DIR, type NextFixture, loadNextFixture } from '../engine/next_fixture.ts';
import { dpoStepOptions } from '../helpers/dpo_options.ts';

// fp32 engine against a float64 reference. Measured (2 cores, AVX2): 28 of the 32 tensors within
// 1e-6, the worst (layer 1 gate_proj lora_B, two full sequences) 1.7e-6; the reference itself moves by
// 1e-7 between CPU kernels. STIC_REPORT_ERRORS=1 prints each tensor's error.
const GRAD_TOL = 2e-6;
const LOGP_TOL = 1e-4;

describe('trainer vs the LLaVA-NeXT reference (anyres, LoRA + trainable projector)', function () {
  this.timeout(120_000);
  let fx: NextFixture;
  let trainer: LlavaTrainerNative;

  before(async () => {
    fx = await loadNextFixture();
    const model = await loadNativeModel(NEXT_DIR);
    trainer = await native().createTrainer(model, {
      lora: { r: 4, alpha: 8, dropout: 0, targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'], seed: 1 },
      trainProjector: true,
    });
    const adapter = await readAll(ADAPTER_FILE(NEXT_DIR));
    await trainer.setTensors('param', [...adapter].map(([n, data]) => ({ name: n, data })));
  });

  function inputs(sharedImages: boolean): { pixels: Float32Array; layouts: ReturnType<typeof nativeLayout>[]; pairs: NativePreferencePair[] } {
    const images = fx.json.items.map((it) => fx.image(it.images[0]));
    if (sharedImages) images.reverse(); // the pairs name their images by index, in any order
    const pixels = new Float32Array(images.reduce((n, im) => n + im.pixels.length, 0));
    let o = 0;
    for (const im of images) pixels.set(im.pixels, (o += im.pixels.length) - im.pixels.length);
    const pairs = [0, 1].map((i) => {
      const prompt = fx.ids(`prompt_pair_${i}`);
      return {
        images: [sharedImages ? 1 - i : i],
        promptIds: prompt,
        chosenIds: fx.ids(`ids_chosen_${i}`).slice(prompt.length),
        rejectedIds: fx.ids(`ids_rejected_${i}`).slice(prompt.length),
      };
    });
    return { pixels, layouts: images.map(nativeLayout), pairs };
  }

  for (const [label, shared, reversed] of [['shared prefix', true, false], ['two full sequences, images in the other order', false, true]] as const) {
    it(`DPO (label): loss, log-probs and every gradient (${label})`, async () => {
      await trainer.zeroGrad();
      const { pixels, layouts, pairs } = inputs(reversed);
      const res = await trainer.dpoStep(pixels, layouts, pairs, dpoStepOptions({ key: { step: 0, micro: 0 }, sharedPrefix: shared }));
      const exp = fx.json.dpo.label;
      expect(Math.abs(res.loss - exp.loss) / exp.loss).to.be.below(1e-5);
      exp['per_pair[loss,pc,pr,rc,rr]'].forEach(([, pc, pr, rc, rr], i) => {
        expect(res.policyChosen[i]).to.be.closeTo(pc, LOGP_TOL);
        expect(res.policyRejected[i]).to.be.closeTo(pr, LOGP_TOL);
        expect(res.refChosen[i]).to.be.closeTo(rc, LOGP_TOL);
        expect(res.refRejected[i]).to.be.closeTo(rr, LOGP_TOL);
      });
      const ref = await readAll(path.join(NEXT_DIR, 'dpo_grads_label.safetensors'));
      const names = [...ref.keys()];
      expect(names.length).to.equal(trainer.tensorInfo().length);
      const got = await trainer.getTensors('grad', names);
      let worst = 0;
      names.forEach((n, i) => {
        const e = relError(got[i], ref.get(n) as Float32Array);
        worst = Math.max(worst, e);
        if (process.env.STIC_REPORT_ERRORS) console.log(`      ${e.toExponential(2)} ${n.replace("base_model.model.model.", "")}`);
        expect(e, n).to.be.at.most(GRAD_TOL);
      });
      if (process.env.STIC_REPORT_ERRORS) console.log(`    worst gradient relError ${worst.toExponential(2)}`);
      expect(worst).to.be.above(0); // a real comparison: fp32 never reproduces float64 exactly
    });
  }
});
