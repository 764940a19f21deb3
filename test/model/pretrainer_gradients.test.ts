// Whole-model gradients of the pretrainer against central finite differences of its own loss, on
// tiny random models: a few random coordinates of every tensor (vision embeddings, norms, attention
// and MLP of every used CLIP layer, projector, token embeddings, every decoder linear and norm,
// lm_head), fp32 throughout.
// Tolerance: the loss is a float64 sum of fp32 log-probs, so it carries a rounding noise of ~1e-7
// (measured: the analytic gradient of a key bias, exactly 0 by softmax shift invariance, reads as
// up to 2e-5 at h = 5e-3). Richardson's extrapolation of two central differences, (4 D(h/2) - D(h)) / 3,
// cancels the O(h^2) truncation (which reached 7% on norm gains with large third derivatives at
// h = 1e-2) and leaves O(h^4) plus noise ~1.3e-7/(h/2) ~ 3e-5: hence |g - fd| <= 2e-2 |fd| + 6e-5.
// Legend: N images, T tokens of an item.
import { expect } from 'chai';

import { native } from '../../lib/native/index.ts';

import type { EngineConfig } from '../../lib/model/engine_config.ts';
import type { PretrainItem, PretrainerNative } from '../../lib/native/index.ts';
import { makeRng } from '../helpers/rng.ts';
import { createTiny, randomItem, randomPixels, randomizeParams, tinyConfig } from './pretrainer_util.ts';

const H = 1e-2;
const REL = 2e-2;
const ABS = 6e-5;
const COORDS = 3;

async function lossWith(p: PretrainerNative, name: string, data: Float32Array, i: number, value: number, pixels: Float32Array, n: number, items: PretrainItem[]): Promise<number> {
  const orig = data[i];
  data[i] = value;
  await p.setTensors('param', [{ name, data }]);
  const { loss } = await p.loss(pixels, n, items);
  data[i] = orig;
  await p.setTensors('param', [{ name, data }]);
  return loss;
}

/** Richardson-extrapolated central difference of the loss in coordinate i of tensor `name`. */
async function finiteDifference(p: PretrainerNative, name: string, data: Float32Array, i: number, pixels: Float32Array, n: number, items: PretrainItem[]): Promise<number> {
  const x = data[i];
  const central = async (h: number) =>
    ((await lossWith(p, name, data, i, x + h, pixels, n, items)) - (await lossWith(p, name, data, i, x - h, pixels, n, items))) / (2 * h);
  const d1 = await central(H);
  const d2 = await central(H / 2);
  return (4 * d2 - d1) / 3;
}

interface Case {
  title: string;
  config: EngineConfig;
  /** Tensors that no path reaches: their gradient must be exactly zero. */
  unused: RegExp | null;
}

const cases: Case[] = [
  {
    title: 'GQA decoder, untied lm_head, feature layer -2 without CLS (3 CLIP layers, the last unused)',
    config: tinyConfig(),
    unused: /^vision_tower\.encoder\.layers\.2\./,
  },
  {
    title: 'tied embeddings, attention and MLP biases, feature layer -1 with CLS, tanh-GELU projector',
    config: tinyConfig((j) => {
      j.tie_word_embeddings = true;
      j.text_config.tie_word_embeddings = true;
      j.text_config.attention_bias = true;
      j.text_config.mlp_bias = true;
      j.text_config.num_key_value_heads = 4;
      j.vision_feature_layer = -1;
      j.vision_feature_select_strategy = 'full';
      j.projector_hidden_act = 'gelu_pytorch_tanh';
    }),
    unused: null,
  },
];

describe('pretrainer: whole-model gradients vs finite differences (cpu, fp32)', function () {
  this.timeout(120000);
  // Hundreds of tiny forward passes: one thread, so a busy shared machine cannot stall OpenMP barriers.
  before(() => native().setThreads(1));
  after(() => native().setThreads(0));
  for (const [k, c] of cases.entries()) {
    it(c.title, async () => {
      const rng = makeRng(100 + k);
      const p = await createTiny(c.config);
      await randomizeParams(p, rng);
      const pixels = randomPixels(c.config, 2, rng);
      // Three packed sequences of different lengths: two images (one per item) and a text-only item.
      const items = [randomItem(c.config, rng, 14, [0]), randomItem(c.config, rng, 11, [1]), randomItem(c.config, rng, 9, [])];
      const { tokens } = await p.step(pixels, 2, items);
      expect(tokens).to.equal(items.reduce((s, it) => s + (it.mask as number[]).filter((m) => m).length, 0));
      const info = p.tensorInfo();
      const grads = await p.getTensors('grad');
      const params = await p.getTensors('param');
      let checked = 0;
      for (const [ti, t] of info.entries()) {
        const g = grads[ti];
        if (c.unused?.test(t.name)) {
          expect(g.every((v) => v === 0), `${t.name}: a layer past the selected hidden state gets no gradient`).to.equal(true);
          continue;
        }
        expect(g.some((v) => v !== 0), `${t.name}: some gradient`).to.equal(true);
        for (let j = 0; j < COORDS; j++) {
          // Sampled among the nonzero entries: a token-embedding row of an id absent from the batch is exactly 0 on both sides.
          let i = rng.int(0, g.length);
          for (let tries = 0; g[i] === 0 && tries < 50; tries++) i = rng.int(0, g.length);
          const fd = await finiteDifference(p, t.name, params[ti], i, pixels, 2, items);
          expect(Math.abs(g[i] - fd), `${t.name}[${i}]: analytic ${g[i]} vs finite difference ${fd}`).to.be.at.most(REL * Math.abs(fd) + ABS);
          checked++;
        }
      }
      expect(checked).to.be.greaterThan(100);
    });
  }
});
