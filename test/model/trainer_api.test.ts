// The trainer's state API: tensor names and aliases, get/set of every kind (float64 accepted), the
// optimizer step against a float64 transcription of torch AdamW (parameter groups, moments, step
// count, global-norm clipping, a non-finite gradient skipped), merged weights against W + (alpha/r)
// B A computed here from the checkpoint, and the reference's frozen original projector.
import { expect } from 'chai';
import path from 'node:path';

import { native } from '../../lib/native/index.ts';
import type { LlavaTrainerNative } from '../../lib/native/contract.ts';
import { relError } from '../engine/fixture_util.ts';
import { makeRng } from '../helpers/rng.ts';
import { ALL_TARGETS, TINY_SPEC, type TinyModel, makeTinyModel, randomPair, randomizeParams, readAll, removeTinyModel } from './trainer_util.ts';
import { adamWOptions, dpoStepOptions, pairLogprobsOptions } from '../helpers/dpo_options.ts';

describe('trainer: state, optimizer and merged weights', function () {
  this.timeout(60_000);
  let m: TinyModel;
  let trainer: LlavaTrainerNative;
  const rng = makeRng(21);
  const L = TINY_SPEC.decoder.numLayers;
  before(async () => {
    m = await makeTinyModel();
    trainer = await native().createTrainer(m.model, { lora: { r: 3, alpha: 5, dropout: 0.05, targets: [...ALL_TARGETS], seed: 1 }, trainProjector: true });
  });
  after(() => removeTinyModel(m));

  it('names every LoRA tensor as PEFT saves it and the projector by its checkpoint name', () => {
    const info = trainer.tensorInfo();
    expect(info.length).to.equal(L * 7 * 2 + 4);
    const { hiddenSize: D, intermediateSize: F, numKvHeads, numHeads } = TINY_SPEC.decoder;
    const kv = (D / numHeads) * numKvHeads;
    expect(info[0]).to.deep.equal({ name: 'base_model.model.model.language_model.layers.0.self_attn.q_proj.lora_A.weight', shape: [3, D], group: 'lora' });
    expect(info[3]).to.deep.equal({ name: 'base_model.model.model.language_model.layers.0.self_attn.k_proj.lora_B.weight', shape: [kv, 3], group: 'lora' });
    expect(info[13]).to.deep.equal({ name: 'base_model.model.model.language_model.layers.0.mlp.down_proj.lora_B.weight', shape: [D, 3], group: 'lora' });
    expect(info[12].shape).to.deep.equal([3, F]);
    expect(info.slice(-4).map((t) => t.name)).to.deep.equal([
      'multi_modal_projector.linear_1.weight', 'multi_modal_projector.linear_1.bias', 'multi_modal_projector.linear_2.weight', 'multi_modal_projector.linear_2.bias',
    ]);
    expect(info.slice(-4).every((t) => t.group === 'projector')).to.equal(true);
  });

  it('sets and gets every kind, by name or by PEFT in-memory alias, float64 rounded to float32', async () => {
    const a = Float64Array.from({ length: 3 * TINY_SPEC.decoder.hiddenSize }, () => rng.normal() / 3);
    await trainer.setTensors('exp_avg', [{ name: 'base_model.model.model.language_model.layers.1.self_attn.v_proj.lora_A.default.weight', data: a }]);
    const bias = Float32Array.from({ length: TINY_SPEC.decoder.hiddenSize }, () => rng.normal());
    await trainer.setTensors('exp_avg_sq', [{ name: 'base_model.model.model.multi_modal_projector.linear_2.bias', data: bias }]);
    const [gotA, gotBias] = await trainer.getTensors('exp_avg', [
      'base_model.model.model.language_model.layers.1.self_attn.v_proj.lora_A.weight',
    ]).then(async ([x]) => [x, (await trainer.getTensors('exp_avg_sq', ['multi_modal_projector.linear_2.bias']))[0]]);
    expect(gotA).to.deep.equal(Float32Array.from(a));
    expect(gotBias).to.deep.equal(bias);
    expect(trainer.getStep()).to.equal(0);
    trainer.setStep(12);
    expect(trainer.getStep()).to.equal(12);
    trainer.setStep(0);
  });

  // torch.optim.AdamW, float64: decoupled decay, bias-corrected moments, per-group lr and decay.
  function adamw(p: Float32Array, g: Float64Array, m0: Float32Array, v0: Float32Array, lr: number, wd: number, step: number) {
    const b1 = 0.9, b2 = 0.99, eps = 1e-6;
    const out = { p: new Float64Array(p.length), m: new Float64Array(p.length), v: new Float64Array(p.length) };
    for (let i = 0; i < p.length; i++) {
      const m = b1 * m0[i] + (1 - b1) * g[i];
      const v = b2 * v0[i] + (1 - b2) * g[i] * g[i];
      const denom = Math.sqrt(v) / Math.sqrt(1 - b2 ** step) + eps;
      out.p[i] = p[i] * (1 - lr * wd) - (lr / (1 - b1 ** step)) * (m / denom);
      out.m[i] = m;
      out.v[i] = v;
    }
    return out;
  }

  it('applies AdamW with per-group lr and decay, the stored moments and step, after global-norm clipping', async () => {
    const info = trainer.tensorInfo();
    await randomizeParams(trainer, rng, 0.2);
    const rand = (n: number, s: number, abs = false) => Float32Array.from({ length: n }, () => (abs ? Math.abs(rng.normal()) : rng.normal()) * s);
    const n = (i: number) => info[i].shape.reduce((a, b) => a * b, 1);
    const grads = info.map((_, i) => rand(n(i), 0.1));
    const m0 = info.map((_, i) => rand(n(i), 0.05));
    const v0 = info.map((_, i) => rand(n(i), 0.01, true));
    for (const [kind, data] of [['grad', grads], ['exp_avg', m0], ['exp_avg_sq', v0]] as const) {
      await trainer.setTensors(kind, info.map((t, i) => ({ name: t.name, data: data[i] })));
    }
    trainer.setStep(4);
    const params = await trainer.getTensors('param');
    let sq = 0;
    for (const g of grads) for (const x of g) sq += x * x;
    const norm = Math.sqrt(sq);
    const maxGradNorm = norm / 3;
    const res = await trainer.optimizerStep({ lora: { lr: 2e-2, weightDecay: 0.1 }, projector: { lr: 5e-3, weightDecay: 0 }, beta1: 0.9, beta2: 0.99, eps: 1e-6, maxGradNorm });
    expect(res.step).to.equal(5);
    expect(res.skipped).to.equal(false);
    expect(Math.abs(res.gradNorm - norm) / norm).to.be.below(1e-6);
    const coef = maxGradNorm / (norm + 1e-6);
    const after = await trainer.getTensors('param');
    const mAfter = await trainer.getTensors('exp_avg');
    const vAfter = await trainer.getTensors('exp_avg_sq');
    info.forEach((t, i) => {
      const [lr, wd] = t.group === 'lora' ? [2e-2, 0.1] : [5e-3, 0];
      const ref = adamw(params[i], Float64Array.from(grads[i], (x) => x * coef), m0[i], v0[i], lr, wd, 5);
      expect(relError(after[i], Float32Array.from(ref.p)), `${t.name} param`).to.be.below(1e-6);
      expect(relError(mAfter[i], Float32Array.from(ref.m)), `${t.name} exp_avg`).to.be.below(1e-6);
      expect(relError(vAfter[i], Float32Array.from(ref.v)), `${t.name} exp_avg_sq`).to.be.below(1e-6);
    });
    const zero = await trainer.getTensors('grad');
    expect(zero.every((g) => g.every((x) => x === 0))).to.equal(true);
  });

  it('skips the update (and the step count) on a non-finite gradient, and still zeroes the gradients', async () => {
    const info = trainer.tensorInfo();
    const g = new Float32Array(info[5].shape[0] * info[5].shape[1]).fill(0.5);
    g[3] = Number.NaN;
    await trainer.setTensors('grad', [{ name: info[5].name, data: g }]);
    const before = await trainer.getTensors('param');
    const step = trainer.getStep();
    const res = await trainer.optimizerStep(adamWOptions({ lora: { lr: 1e-2, weightDecay: 0 }, projector: { lr: 1e-2, weightDecay: 0 }, maxGradNorm: 1 }));
    expect(res.skipped).to.equal(true);
    expect(res.gradNorm).to.be.NaN;
    expect(res.step).to.equal(step);
    expect(await trainer.getTensors('param')).to.deep.equal(before);
    expect((await trainer.getTensors('grad', [info[5].name]))[0].every((x) => x === 0)).to.equal(true);
  });

  it('merges W + (alpha/r) B A into every targeted linear and exports the trained projector', async () => {
    await randomizeParams(trainer, rng, 0.2);
    const base = await readAll(path.join(m.dir, 'model.safetensors'));
    const params = new Map(trainer.tensorInfo().map((t, i) => [t.name, i]));
    const values = await trainer.getTensors('param');
    const merged = await trainer.mergedWeights();
    expect(merged.length).to.equal(L * 7 + 4);
    for (const t of merged) {
      if (t.name.startsWith('multi_modal_projector.')) {
        expect(t.data).to.deep.equal(values[params.get(t.name)!]);
        continue;
      }
      const w = base.get(t.name) as Float32Array;
      expect(w, t.name).to.not.equal(undefined);
      const peft = t.name.replace('language_model.model.layers.', 'base_model.model.model.language_model.layers.').replace(/\.weight$/, '');
      const A = values[params.get(`${peft}.lora_A.weight`)!];
      const B = values[params.get(`${peft}.lora_B.weight`)!];
      const [N, K] = t.shape;
      const ref = new Float32Array(N * K);
      for (let o = 0; o < N; o++) {
        for (let k = 0; k < K; k++) {
          let s = 0;
          for (let j = 0; j < 3; j++) s += B[o * 3 + j] * A[j * K + k];
          ref[o * K + k] = w[o * K + k] + (5 / 3) * s;
        }
      }
      expect(relError(t.data, ref), t.name).to.be.below(1e-6);
      expect(relError(t.data, w), `${t.name} changed`).to.be.above(1e-3);
    }
    const some = await trainer.mergedWeights(['language_model.model.layers.1.mlp.up_proj.weight']);
    expect(some.map((t) => t.name)).to.deep.equal(['language_model.model.layers.1.mlp.up_proj.weight']);
  });

  it('scores the reference with the original projector (or the trained one when asked)', async () => {
    const pixels = rng.normalArray(m.pixelsPerImage);
    const pairs = [randomPair(rng, m, 0, 3, 4, 4)];
    const fresh = await native().createTrainer(m.model, { lora: { r: 3, alpha: 5, dropout: 0, targets: ['q_proj'], seed: 1 }, trainProjector: true });
    const ref0 = await fresh.pairLogprobs(pixels, 1, pairs, pairLogprobsOptions('reference'));
    const info = fresh.tensorInfo();
    const proj = await fresh.getTensors('param', ['multi_modal_projector.linear_2.bias']);
    await fresh.setTensors('param', [{ name: 'multi_modal_projector.linear_2.bias', data: proj[0].map((x) => x + 0.5) }]);
    expect(info.length).to.equal(L * 2 + 4);
    const ref1 = await fresh.pairLogprobs(pixels, 1, pairs, pairLogprobsOptions('reference'));
    const trained = await fresh.pairLogprobs(pixels, 1, pairs, pairLogprobsOptions('reference', { refProjector: 'trained' }));
    const policy = await fresh.pairLogprobs(pixels, 1, pairs, pairLogprobsOptions('policy'));
    expect(ref1).to.deep.equal(ref0);
    expect(trained.chosen[0]).to.not.be.closeTo(ref0.chosen[0], 1e-3);
    // LoRA B is zero after init, so the policy is the reference with the trained projector.
    expect(policy).to.deep.equal(trained);
    const step = await fresh.dpoStep(pixels, 1, pairs, dpoStepOptions({ key: { step: 0, micro: 0 }, refProjector: 'trained' }));
    expect(step.refChosen[0]).to.be.closeTo(trained.chosen[0], 1e-5);
    const mem = fresh.memory();
    expect(mem.parameterBytes).to.be.at.least(info.reduce((s, t) => s + 4 * t.shape.reduce((a, b) => a * b, 1), 0));
    expect(mem.optimizerBytes).to.equal(2 * mem.parameterBytes);
    expect(mem.lastStepActivationBytes).to.be.above(0);
  });
});
