// The trainer's user-facing errors, each with its exact message: what was expected, what was
// found, and where (the argument path, the pair and token, the tensor name).
import { expect } from 'chai';

import { native } from '../../lib/native/index.ts';
import type { LlavaTrainerNative, NativePreferencePair, NativeSftItem } from '../../lib/native/contract.ts';
import { makeRng } from '../helpers/rng.ts';
import { ALL_TARGETS, TINY_TI, type TinyModel, makeTinyModel, randomPair, removeTinyModel } from './trainer_util.ts';
import { rejectionOf as rejection } from '../helpers/rejection.ts';
import { adamWOptions, dpoStepOptions, pairLogprobsOptions, sftStepOptions } from '../helpers/dpo_options.ts';

describe('trainer: errors', function () {
  this.timeout(60_000);
  let m: TinyModel;
  let trainer: LlavaTrainerNative;
  let pixels: Float32Array;
  let pair: NativePreferencePair;
  const key = { step: 0, micro: 0 };
  before(async () => {
    m = await makeTinyModel();
    trainer = await native().createTrainer(m.model, { lora: { r: 2, alpha: 4, dropout: 0, targets: [...ALL_TARGETS], seed: 1 }, trainProjector: true });
    const rng = makeRng(4);
    pixels = rng.normalArray(m.pixelsPerImage);
    pair = randomPair(rng, m, 0, 2, 3, 3);
  });
  after(() => removeTinyModel(m));

  it('checks the trainer spec', async () => {
    const spec = (lora: object, trainProjector: unknown = true) =>
      ({ lora: { r: 2, alpha: 4, dropout: 0, targets: ['q_proj'], seed: 1, ...lora }, trainProjector }) as never;
    expect(() => native().createTrainer({} as never, spec({}))).to.throw(TypeError, 'Expected a LlavaModel (from loadLlava) for model but received an object');
    expect(() => native().createTrainer(m.model, spec({ targets: ['q_proj', 'qkv'] }))).to.throw(
      TypeError,
      'Expected one of q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj for spec.lora.targets[1] but received a string "qkv"',
    );
    expect(() => native().createTrainer(m.model, spec({ targets: ['v_proj', 'v_proj'] }))).to.throw(
      TypeError,
      'Expected a module not listed before for spec.lora.targets[1] but received a string "v_proj"',
    );
    expect(() => native().createTrainer(m.model, spec({ targets: [] }))).to.throw(TypeError, 'Expected a non-empty array of module names');
    expect(() => native().createTrainer(m.model, spec({ dropout: 1 }))).to.throw(TypeError, 'Expected a probability in [0, 1) for spec.lora.dropout but received 1');
    expect(() => native().createTrainer(m.model, spec({ r: 0 }))).to.throw(TypeError, 'Expected a positive integer for spec.lora.r but received 0');
    expect(() => native().createTrainer(m.model, spec({}, 'yes'))).to.throw(TypeError, 'Expected a boolean for spec.trainProjector but received a string "yes"');
  });

  it('names the pair and token of a bad preference pair', async () => {
    const bad = (p: Partial<NativePreferencePair>) => rejection(trainer.dpoStep(pixels, 1, [pair, { ...pair, ...p }], dpoStepOptions({ key })));
    expect((await bad({ chosenIds: [5, 6, m.imageTokenId] })).message).to.equal(
      `pairs[1].chosenIds[2]: expected a text token but found the image token ${m.imageTokenId} (images belong in the prompt)`,
    );
    expect((await bad({ rejectedIds: [] })).message).to.equal('pairs[1].rejectedIds: expected at least one response token but found none');
    expect((await bad({ rejectedIds: [4, 99] })).message).to.equal(`pairs[1].rejectedIds[1]: token id 99 is outside the vocabulary [0, ${m.vocab})`);
    const short = [1, ...Array(TINY_TI - 1).fill(m.imageTokenId), 7];
    expect((await bad({ promptIds: short })).message).to.equal(
      `pairs[1].promptIds: expected ${TINY_TI} image tokens (id ${m.imageTokenId}) for 1 image(s) x ${TINY_TI} but found ${TINY_TI - 1}`,
    );
    expect((await bad({ images: [1] })).message).to.equal('pairs[1].promptIds: image index 1 is out of range for a batch of 1 image(s)');
    expect((await rejection(trainer.dpoStep(pixels, 1, [], dpoStepOptions({ key })))).message).to.equal('pairs: expected at least one preference pair but found none');
    expect(() => trainer.dpoStep(pixels, 1, [{ ...pair, refChosen: -3 }], dpoStepOptions({ key }))).to.throw(
      TypeError,
      'pairs[0]: expected refChosen and refRejected together (or neither) but received only refChosen',
    );
    expect(() => trainer.dpoStep(pixels, 1, [pair], dpoStepOptions({ key, rejectedMode: 'top2' as never }))).to.throw(
      TypeError,
      `Expected 'label' or 'top-alt' for options.rejectedMode but received a string "top2"`,
    );
    expect(() => trainer.dpoStep(pixels, 1, [pair], {} as never)).to.throw(TypeError, 'Expected an object for options.key but received undefined');
    // The loss hyperparameters have no native default (the option tables hold them): each is required.
    for (const [name, expected] of [
      ['loss', "Expected 'sigmoid', 'hinge' or 'ipo' for options.loss but received undefined"],
      ['beta', 'options.beta'],
      ['sftWeight', 'options.sftWeight'],
      ['sftNorm', "Expected 'sum' or 'mean' for options.sftNorm but received undefined"],
      ['rejectedMode', "Expected 'label' or 'top-alt' for options.rejectedMode but received undefined"],
      ['sharedPrefix', 'Expected a boolean for options.sharedPrefix but received undefined'],
      ['gradCheckpointing', 'Expected a boolean for options.gradCheckpointing but received undefined'],
      ['refProjector', "Expected 'original' or 'trained' for options.refProjector but received undefined"],
    ] as const) {
      const o: Record<string, unknown> = { ...dpoStepOptions({ key }) };
      delete o[name];
      expect(() => trainer.dpoStep(pixels, 1, [pair], o as never), name).to.throw(TypeError, expected);
    }
    expect(() => trainer.dpoStep(pixels.subarray(1), 1, [pair], dpoStepOptions({ key }))).to.throw(RangeError, 'pixels: expected 1 x 3 x 28 x 28 = 2352 values but found 2351');
  });

  it('requires every hyperparameter of an SFT step, a pair scoring and an optimizer step (the TypeScript tables hold the defaults)', () => {
    const sft = { ...sftStepOptions({ key }) } as Record<string, unknown>;
    delete sft.gradCheckpointing;
    expect(() => trainer.sftStep(pixels, 1, [{ images: [], ids: [1, 8, 9], mask: [0, 1, 1] }], sft as never)).to.throw(
      TypeError,
      'Expected a boolean for options.gradCheckpointing but received undefined',
    );
    expect(() => trainer.pairLogprobs(pixels, 1, [pair], undefined as never)).to.throw(TypeError, 'Expected an object for options but received undefined');
    for (const [name, expected] of [
      ['model', "Expected 'reference' or 'policy' for options.model but received undefined"],
      ['rejectedMode', "Expected 'label' or 'top-alt' for options.rejectedMode but received undefined"],
      ['refProjector', "Expected 'original' or 'trained' for options.refProjector but received undefined"],
    ] as const) {
      const o: Record<string, unknown> = { ...pairLogprobsOptions('reference') };
      delete o[name];
      expect(() => trainer.pairLogprobs(pixels, 1, [pair], o as never), name).to.throw(TypeError, expected);
    }
    for (const name of ['beta1', 'beta2', 'eps', 'maxGradNorm'] as const) {
      const o: Record<string, unknown> = { ...adamWOptions({ lora: { lr: 1e-3, weightDecay: 0 }, projector: { lr: 1e-3, weightDecay: 0 }, maxGradNorm: 1 }) };
      delete o[name];
      expect(() => trainer.optimizerStep(o as never), name).to.throw(TypeError, `for options.${name} but received undefined`);
    }
  });

  it('names the item of a bad SFT mask', async () => {
    const ids = [1, 8, 9, 10];
    const sft = (mask: number[]) => rejection(trainer.sftStep(pixels, 1, [{ images: [], ids, mask }], sftStepOptions({ key })));
    expect((await sft([0, 1, 1])).message).to.equal('items[0].mask: expected 4 values (one per token) but found 3');
    expect((await sft([1, 0, 0, 1])).message).to.equal(
      'items[0].mask[0]: the first token has no context to be predicted from, so it cannot be a target',
    );
    expect((await sft([0, 0, 0, 0])).message).to.equal('items[0].mask: expected at least one target token but found none');
  });

  it("refuses a bad SFT item in the pretrainer's words (one set of item checks for both)", async () => {
    const sft = (items: NativeSftItem[]) => rejection(trainer.sftStep(pixels, 1, items, sftStepOptions({ key })));
    const image = Array(TINY_TI).fill(m.imageTokenId);
    expect((await sft([{ images: [], ids: [1, 8, 99], mask: [0, 0, 1] }])).message).to.equal(`items[0].ids[2]: token id 99 is outside the vocabulary [0, ${m.vocab})`);
    expect((await sft([{ images: [0], ids: [1, ...image, 3], mask: [0, 1, 0, 0, 0, 1] }])).message).to.equal(
      'items[0].mask[1]: token 1 is an image token, which cannot be a target',
    );
    expect((await sft([{ images: [1], ids: [1, ...image, 3], mask: [0, 0, 0, 0, 0, 1] }])).message).to.equal(
      'items[0].images[0]: image index 1 is out of range for a batch of 1 image(s)',
    );
    expect((await sft([{ images: [], ids: [1], mask: [0] }])).message).to.equal('items[0].ids: expected at least 2 token ids (a context and a target) but found 1');
    expect((await sft([])).message).to.equal('items: expected at least one SFT item but found none');
  });

  it('names the tensor of a bad get/set and merge, and the missing optimizer group', async () => {
    const name = 'base_model.model.model.language_model.layers.0.self_attn.q_proj.lora_A.weight';
    expect(() => trainer.setTensors('param', [{ name: 'lora.q', data: new Float32Array(4) }])).to.throw(
      `setTensors: tensors[0].name: no trainable tensor is named "lora.q" (expected a name from tensorInfo(), e.g. ${name})`,
    );
    expect(() => trainer.setTensors('param', [{ name, data: new Float32Array(5) }])).to.throw(
      RangeError,
      `setTensors: tensors[0].data (${name}): expected 64 values (shape [2, 32]) but found 5`,
    );
    expect(() => trainer.getTensors('moments' as never)).to.throw(TypeError, `Expected 'param', 'grad', 'exp_avg' or 'exp_avg_sq' for kind but received a string "moments"`);
    expect((await rejection(trainer.mergedWeights(['language_model.model.layers.0.mlp.up_proj.bias']))).message).to.equal(
      'mergedWeights: no merged tensor is named "language_model.model.layers.0.mlp.up_proj.bias" (expected a LoRA-targeted linear such as ' +
        'language_model.model.layers.0.self_attn.q_proj.weight, or a trainable projector tensor)',
    );
    expect(() => trainer.optimizerStep(adamWOptions({ lora: { lr: 1e-3, weightDecay: 0 }, maxGradNorm: 0 }))).to.throw(TypeError, 'Expected an object for options.projector but received undefined');
  });

  it('refuses a second call while one runs on the same trainer', async () => {
    // Enough pairs that the step is still running when the next statements execute.
    const running = trainer.dpoStep(pixels, 1, Array(200).fill(pair), dpoStepOptions({ key }));
    expect(() => trainer.setStep(3)).to.throw('LlavaTrainer.setStep: a call on this trainer is running; wait for it');
    const second = trainer.getTensors('grad');
    expect((await rejection(second)).message).to.equal(
      'LlavaTrainer.getTensors: another call on this trainer is still running; await it before starting the next',
    );
    await running;
    expect((await trainer.getTensors('grad')).length).to.equal(trainer.tensorInfo().length);
  });
});
