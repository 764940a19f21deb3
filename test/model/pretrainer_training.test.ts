// Pretraining steps on a tiny random model: the loss falls on a fixed batch; the optimizer is
// torch's AdamW with weight decay on matrices only and global-norm clipping; micro-batches
// accumulate to the full batch's gradient; runs are bit-for-bit repeatable; bad inputs are refused
// with messages that name the item, the field and the position.
// Legend: N images, T tokens of an item.
import { expect } from 'chai';

import { native } from '../../lib/native/index.ts';
import type { PretrainItem, PretrainerNative } from '../../lib/native/index.ts';
import { makeRng } from '../helpers/rng.ts';
import { createTiny, randomItem, randomPixels, randomizeParams, tinyConfig } from './pretrainer_util.ts';
import { pretrainOptimizerOptions } from '../helpers/dpo_options.ts';

const config = tinyConfig();

async function setup(seed: number, std = 0.3): Promise<{ p: PretrainerNative; pixels: Float32Array; items: PretrainItem[] }> {
  const rng = makeRng(seed);
  const p = await createTiny(config);
  await randomizeParams(p, rng, std);
  const pixels = randomPixels(config, 3, rng);
  const items = [randomItem(config, rng, 16, [0]), randomItem(config, rng, 12, [1]), randomItem(config, rng, 10, [2]), randomItem(config, rng, 8, [])];
  return { p, pixels, items };
}

function norm(xs: Float32Array[]): number {
  let s = 0;
  for (const x of xs) for (const v of x) s += v * v;
  return Math.sqrt(s);
}

describe('pretrainer: training steps (cpu)', function () {
  this.timeout(60000);
  before(() => native().setThreads(1));
  after(() => native().setThreads(0));

  it('drives the loss of a fixed batch down (every part training)', async () => {
    const { p, pixels, items } = await setup(1, 0.05);
    const first = (await p.loss(pixels, 3, items)).loss;
    let last = first;
    for (let s = 0; s < 60; s++) {
      last = (await p.step(pixels, 3, items)).loss;
      await p.optimizerStep(pretrainOptimizerOptions({ lr: 1e-2, weightDecay: 0.01, maxGradNorm: 1 }));
    }
    last = (await p.loss(pixels, 3, items)).loss;
    // log(40) = 3.7 at the start; a memorised batch ends near 0.
    expect(first).to.be.within(3, 4.5);
    expect(last).to.be.below(0.2 * first);
    expect(p.getStep()).to.equal(60);
  });

  it('optimizerStep leaves frozen tensors as they are and outside the clipped norm', async () => {
    const { p, pixels, items } = await setup(2);
    await p.step(pixels, 3, items);
    const info = p.tensorInfo();
    const frozen = info.filter((t) => /patch_embedding|layers\.1\.mlp\.down_proj/.test(t.name)).map((t) => t.name);
    expect(frozen).to.have.length(2);
    const before = await p.getTensors('param');
    const grads = await p.getTensors('grad');
    const isFrozen = info.map((t) => frozen.includes(t.name));
    expect(norm(grads.filter((_, i) => isFrozen[i]))).to.be.above(0); // they have gradients, which are dropped
    const r = await p.optimizerStep(pretrainOptimizerOptions({ lr: 1e-3, weightDecay: 0.1, maxGradNorm: 1e-3, frozen }));
    const live = norm(grads.filter((_, i) => !isFrozen[i]));
    expect(Math.abs(r.gradNorm - live) / live).to.be.below(1e-5);
    const after = await p.getTensors('param');
    const m = await p.getTensors('exp_avg');
    info.forEach((t, i) => {
      if (isFrozen[i]) {
        expect(Buffer.from(after[i].buffer).equals(Buffer.from(before[i].buffer)), t.name).to.equal(true);
        expect(m[i].every((x) => x === 0), `${t.name} exp_avg`).to.equal(true);
      } else if (grads[i].some((g) => g !== 0)) {
        // (the tower's last layer is never read at feature layer -2: no gradient, no update)
        expect(after[i].some((x, k) => x !== before[i][k]), t.name).to.equal(true);
      }
    });
    await p.step(pixels, 3, items);
    const bad = await p.optimizerStep(pretrainOptimizerOptions({ lr: 1e-3, weightDecay: 0, maxGradNorm: 0, frozen: ['vision_tower.no_such.weight'] })).then(() => null, (e: Error) => e);
    expect(bad?.message).to.contain("frozen: expected the name of a tensor of the model but found 'vision_tower.no_such.weight'");
  });

  it('optimizerStep is AdamW with decay on matrices only, after clipping to maxGradNorm', async () => {
    const { p, pixels, items } = await setup(2);
    await p.step(pixels, 3, items);
    const info = p.tensorInfo();
    const before = await p.getTensors('param');
    const grads = await p.getTensors('grad');
    const gnorm = norm(grads);
    const maxNorm = gnorm / 4; // clipping active
    const lr = 1e-3, wd = 0.1, b1 = 0.9, b2 = 0.999, eps = 1e-8;
    const r = await p.optimizerStep(pretrainOptimizerOptions({ lr, weightDecay: wd, maxGradNorm: maxNorm }));
    expect(r.skipped).to.equal(false);
    expect(r.step).to.equal(1);
    expect(Math.abs(r.gradNorm - gnorm) / gnorm).to.be.below(1e-5);
    const after = await p.getTensors('param');
    const m = await p.getTensors('exp_avg');
    const v = await p.getTensors('exp_avg_sq');
    const coef = maxNorm / (gnorm + 1e-6);
    info.forEach((t, i) => {
      expect(t.group, t.name).to.equal(t.shape.length >= 2 ? 'decay' : 'no_decay');
      const decay = t.group === 'decay' ? wd : 0;
      for (let k = 0; k < before[i].length; k += 7) {
        const g = grads[i][k] * coef;
        const mk = (1 - b1) * g;
        const vk = (1 - b2) * g * g;
        // torch.optim.AdamW, step 1: p (1 - lr wd) - lr / (1 - b1) * m / (sqrt(v) / sqrt(1 - b2) + eps)
        const want = before[i][k] * (1 - lr * decay) - (lr / (1 - b1)) * (mk / (Math.sqrt(vk) / Math.sqrt(1 - b2) + eps));
        expect(Math.abs(m[i][k] - mk), `${t.name} exp_avg[${k}]`).to.be.at.most(1e-6 * Math.abs(mk) + 1e-12);
        expect(Math.abs(v[i][k] - vk), `${t.name} exp_avg_sq[${k}]`).to.be.at.most(1e-5 * vk + 1e-18);
        expect(Math.abs(after[i][k] - want), `${t.name}[${k}]`).to.be.at.most(1e-6 * Math.abs(want) + 1e-9);
      }
    });
    expect(norm(await p.getTensors('grad'))).to.equal(0); // zeroed after the update
  });

  it('micro-batches with meanOver = the batch target count accumulate the whole batch gradient', async () => {
    const a = await setup(3);
    const b = await setup(3);
    const total = a.items.reduce((n, it) => n + (it.mask as number[]).filter((x) => x).length, 0);
    const whole = await a.p.step(a.pixels, 3, a.items);
    const part1 = await b.p.step(b.pixels, 3, b.items.slice(0, 2), { meanOver: total });
    const part2 = await b.p.step(b.pixels, 3, b.items.slice(2), { meanOver: total });
    expect(Math.abs(part1.loss + part2.loss - whole.loss)).to.be.below(1e-6);
    const ga = await a.p.getTensors('grad');
    const gb = await b.p.getTensors('grad');
    a.p.tensorInfo().forEach((t, i) => {
      let diff = 0;
      let scale = 0;
      for (let k = 0; k < ga[i].length; k++) {
        diff = Math.max(diff, Math.abs(ga[i][k] - gb[i][k]));
        scale = Math.max(scale, Math.abs(ga[i][k]));
      }
      // + 1e-7: key biases have a gradient of exactly 0 in exact arithmetic (softmax shift invariance), ~1e-8 of rounding here.
      expect(diff, t.name).to.be.at.most(1e-5 * scale + 1e-7);
    });
  });

  it('gradScale scales the gradients and not the loss', async () => {
    const a = await setup(4);
    const b = await setup(4);
    const la = await a.p.step(a.pixels, 3, a.items);
    const lb = await b.p.step(b.pixels, 3, b.items, { gradScale: 0.25 });
    expect(lb.loss).to.equal(la.loss);
    const ga = await a.p.getTensors('grad', ['language_model.lm_head.weight', 'vision_tower.embeddings.patch_embedding.weight']);
    const gb = await b.p.getTensors('grad', ['language_model.lm_head.weight', 'vision_tower.embeddings.patch_embedding.weight']);
    ga.forEach((g, i) => g.forEach((x, k) => expect(Math.abs(gb[i][k] - 0.25 * x)).to.be.at.most(1e-6 * Math.abs(x) + 1e-12)));
  });

  it('two runs from the same state are bit-identical (losses, weights, moments)', async () => {
    const runs = [await setup(5), await setup(5)];
    const losses: number[][] = [[], []];
    for (const [r, run] of runs.entries()) {
      for (let s = 0; s < 3; s++) {
        losses[r].push((await run.p.step(run.pixels, 3, run.items)).loss);
        await run.p.optimizerStep(pretrainOptimizerOptions({ lr: 3e-3, weightDecay: 0.01, maxGradNorm: 1 }));
      }
    }
    expect(losses[1]).to.deep.equal(losses[0]);
    for (const kind of ['param', 'exp_avg', 'exp_avg_sq'] as const) {
      const [x, y] = await Promise.all(runs.map((r) => r.p.getTensors(kind)));
      x.forEach((t, i) => expect(Buffer.from(y[i].buffer).equals(Buffer.from(t.buffer)), `${kind} ${i}`).to.equal(true));
    }
  });

  it('a non-finite gradient skips the update and still clears the gradients', async () => {
    const { p, pixels, items } = await setup(6);
    await p.step(pixels, 3, items);
    const g = await p.getTensors('grad', ['language_model.model.norm.weight']);
    g[0][0] = Number.NaN;
    await p.setTensors('grad', [{ name: 'language_model.model.norm.weight', data: g[0] }]);
    const before = await p.getTensors('param');
    const r = await p.optimizerStep(pretrainOptimizerOptions({ lr: 1e-3, weightDecay: 0, maxGradNorm: 0 }));
    expect(r.skipped).to.equal(true);
    expect(r.step).to.equal(0);
    expect(await p.getTensors('param')).to.deep.equal(before);
    expect(norm(await p.getTensors('grad'))).to.equal(0);
  });

  describe('refusals', () => {
    let p: PretrainerNative;
    let pixels: Float32Array;
    let items: PretrainItem[];
    before(async () => ({ p, pixels, items } = await setup(7)));
    const Ti = config.imageTokenCount;

    const cases: [string, () => PretrainItem[], string][] = [
      ['a token outside the vocabulary', () => [{ images: [], ids: [1, 2, 99], mask: [0, 0, 1] }], 'items[0].ids[2]: token id 99 is outside the vocabulary [0, 40)'],
      ['a mask of the wrong length', () => [items[0], { images: [], ids: [1, 2, 3], mask: [0, 1] }], 'items[1].mask: expected 3 values (one per token) but found 2'],
      ['a target at position 0', () => [{ images: [], ids: [1, 2], mask: [1, 1] }], 'items[0].mask[0]: the first token has no context to be predicted from, so it cannot be a target'],
      ['an image token as target', () => [{ images: [0], ids: [1, ...Array(Ti).fill(config.imageTokenId), 3], mask: [0, 1, 0, 0, 0, 1] }],
        'items[0].mask[1]: token 1 is an image token, which cannot be a target'],
      ['too few image tokens', () => [{ images: [0, 1], ids: [1, ...Array(Ti).fill(config.imageTokenId), 3], mask: [0, 0, 0, 0, 0, 1] }],
        `items[0]: expected ${2 * Ti} image tokens (id ${config.imageTokenId}) for 2 image(s) x ${Ti} but found ${Ti}`],
      ['an image index past the batch', () => [{ images: [3], ids: [1, ...Array(Ti).fill(config.imageTokenId), 3], mask: [0, 0, 0, 0, 0, 1] }],
        'items[0].images[0]: image index 3 is out of range for a batch of 3 image(s)'],
      ['a single token', () => [{ images: [], ids: [1], mask: [0] }], 'items[0].ids: expected at least 2 token ids (a context and a target) but found 1'],
      ['no item', () => [], 'items: expected at least one SFT item but found none'],
    ];
    for (const [what, make, message] of cases) {
      it(`refuses ${what}`, async () => {
        const err = await p.step(pixels, 3, make()).then(() => null, (e: Error & { code?: string }) => e);
        expect(err?.message).to.equal(message);
        expect(err?.code).to.equal('STIC_INVALID_ARGUMENT');
      });
    }

    it('accepts an item without a target (it adds nothing), which the LoRA trainer refuses', async () => {
      const alone = await p.loss(pixels, 3, [items[0]]);
      const withTargetless = await p.loss(pixels, 3, [items[0], { images: [], ids: [1, 2, 3], mask: [0, 0, 0] }]);
      expect(withTargetless.tokens).to.equal(alone.tokens);
      expect(withTargetless.loss).to.be.closeTo(alone.loss, 1e-6 * Math.abs(alone.loss));
    });

    it('refuses pixels of the wrong size, unknown tensor names and kinds, and a second concurrent call', async () => {
      expect(() => p.step(new Float32Array(5), 1, items)).to.throw(RangeError, 'pixels: expected 1 x 3 x 28 x 28 = 2352 values but found 5');
      expect(() => p.getTensors('param', ['lm_head.weight'])).to.throw(
        'getTensors: names[0]: the model has no tensor named "lm_head.weight" (expected a name from tensorInfo(), e.g. vision_tower.embeddings.patch_embedding.weight)',
      );
      expect(() => p.getTensors('momentum' as never)).to.throw(TypeError, "Expected 'param', 'grad', 'exp_avg' or 'exp_avg_sq' for kind but received a string \"momentum\"");
      const norm = p.tensorInfo().find((t) => t.name === 'language_model.model.norm.weight');
      expect(() => p.setTensors('param', [{ name: norm!.name, data: new Float32Array(3) }])).to.throw(
        RangeError, `setTensors: tensors[0].data (${norm!.name}): expected ${norm!.shape[0]} values (shape [${norm!.shape[0]}]) but found 3`,
      );
      const running = p.step(pixels, 3, items);
      const second = await p.zeroGrad().then(() => null, (e: Error) => e); // refused through its Promise (call_guard.h)
      expect(second?.message).to.equal('Pretrainer.zeroGrad: another call on this pretrainer is still running; await it before starting the next');
      await running;
      await p.zeroGrad();
    });

    it('requires every optimizer hyperparameter (TOY_PRETRAIN_DEFAULTS holds the defaults)', () => {
      for (const name of ['weightDecay', 'beta1', 'beta2', 'eps', 'maxGradNorm', 'frozen'] as const) {
        const o: Record<string, unknown> = { ...pretrainOptimizerOptions({ lr: 1e-3, weightDecay: 0, maxGradNorm: 1 }) };
        delete o[name];
        expect(() => p.optimizerStep(o as never), name).to.throw(TypeError, `for options.${name} but received undefined`);
      }
    });

    it('refuses a checkpoint tensor of another shape, naming the tensor and the file', async () => {
      const entry = { name: 'language_model.model.norm.weight', file: '/nowhere/model.safetensors', offset: 8, nbytes: 12, dtype: 'F32' as const, shape: [3] };
      const err = await p.readTensors('param', [entry]).then(() => null, (e: Error) => e);
      expect(err?.message).to.equal('tensor language_model.model.norm.weight in /nowhere/model.safetensors: expected shape [16] but the file has [3]');
    });
  });
});
