// Every user-facing failure of the engine, with its exact message: checkpoint problems (missing
// tensor, shape mismatch) at the TS layer and, bypassing it, at the native layer; bad requests
// (image-token count, ids, pixels, options) before any native work is queued.
import { expect } from 'chai';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { type LlavaModel, loadModel, resolveWeights } from '../../lib/engine/index.ts';
import { loadModelConfig } from '../../lib/model/config.ts';
import { openCheckpoint, readTensors, writeSafetensors } from '../../lib/model/safetensors.ts';
import { native } from '../../lib/native/index.ts';
import { type Fixture, loadFixture } from './fixture_util.ts';

async function failure(p: Promise<unknown> | (() => unknown)): Promise<Error & { code?: string }> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    return e as Error & { code?: string };
  }
  throw new Error('expected a failure but the call succeeded');
}

/** A copy of the fixture model whose checkpoint has `edit` applied to its tensor list. */
async function editedModel(fx: Fixture, edit: (names: string[]) => { drop?: string; reshape?: [string, number[]] }): Promise<string> {
  const dir = mkdtempSync(path.join(tmpdir(), 'stic-engine-'));
  copyFileSync(path.join(fx.dir, 'config.json'), path.join(dir, 'config.json'));
  const ck = await openCheckpoint(path.join(fx.dir, 'model.safetensors'));
  const names = [...ck.tensors.keys()];
  const change = edit(names);
  const kept = names.filter((n) => n !== change.drop);
  const data = await readTensors(kept.map((n) => ck.tensors.get(n)!));
  await writeSafetensors(
    path.join(dir, 'model.safetensors'),
    kept.map((n, i) => ({
      name: n,
      dtype: ck.tensors.get(n)!.dtype,
      shape: change.reshape?.[0] === n ? change.reshape[1] : ck.tensors.get(n)!.shape,
      data: data[i],
    })),
  );
  return dir;
}

describe('engine errors', () => {
  let fx: Fixture;
  let model: LlavaModel;
  const dirs: string[] = [];
  before(async () => {
    fx = await loadFixture('llava-tiny-llama');
    model = await loadModel(fx.dir);
  });
  after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  describe('checkpoints', () => {
    it('names a missing weight, the names looked for and the file searched', async () => {
      const dir = await editedModel(fx, () => ({ drop: 'vision_tower.encoder.layers.1.mlp.fc1.bias' }));
      dirs.push(dir);
      const err = await failure(loadModel(dir));
      expect(err.name).to.equal('WeightError');
      expect(err.message).to.equal(
        'missing weight vision_tower.encoder.layers.1.mlp.fc1.bias: looked for "vision_tower.encoder.layers.1.mlp.fc1.bias" or ' +
          `"vision_tower.vision_model.encoder.layers.1.mlp.fc1.bias" in ${path.join(dir, 'model.safetensors')}`,
      );
    });

    it('names both shapes of a mismatched weight', async () => {
      const dir = await editedModel(fx, () => ({ reshape: ['language_model.model.layers.1.mlp.up_proj.weight', [64, 136]] }));
      dirs.push(dir);
      const err = await failure(loadModel(dir));
      expect(err.message).to.equal(
        'weight language_model.model.layers.1.mlp.up_proj.weight ("language_model.model.layers.1.mlp.up_proj.weight" in ' +
          `${path.join(dir, 'model.safetensors')}): expected shape [136, 64] but the checkpoint has [64, 136]`,
      );
    });

    it('native load refuses a missing source and a wrong shape on its own', async () => {
      const cfg = loadModelConfig(fx.dir);
      const ck = await openCheckpoint(path.join(fx.dir, 'model.safetensors'));
      const sources = resolveWeights(native().llavaTensorSpecs(cfg), [ck], cfg);
      const missing = await failure(native().loadLlava(cfg, sources.filter((s) => s.name !== 'language_model.model.norm.weight')));
      expect(missing.message).to.equal('missing weight language_model.model.norm.weight: no tensor source was given for it');
      expect(missing.code).to.equal('STIC_NOT_FOUND');
      const bad = sources.map((s) => (s.name === 'multi_modal_projector.linear_1.weight' ? { ...s, shape: [32, 64] } : s));
      const shape = await failure(native().loadLlava(cfg, bad));
      expect(shape.message).to.equal(
        `weight multi_modal_projector.linear_1.weight in ${path.join(fx.dir, 'model.safetensors')}: expected shape [64, 32] but the checkpoint has [32, 64]`,
      );
      expect(shape.code).to.equal('STIC_INVALID_ARGUMENT');
    });
  });

  describe('requests', () => {
    it('refuses an image-token count that does not match the images', async () => {
      const ids = fx.items[0].prompt.filter((_, i) => i !== 5); // one of the 16 image tokens removed
      const err = await failure(model.generate([{ ids: fx.items[0].prompt, image: fx.images[0] }, { ids, image: fx.images[0] }]));
      expect(err.message).to.equal('requests[1]: expected 16 image tokens (id 319) for 1 image(s) x 16 but found 15');
      const noImage = await failure(model.logprobs([{ promptIds: fx.items[0].prompt, responseIds: [5, 6] }]));
      expect(noImage.message).to.equal('items[0]: expected 0 image tokens (id 319) for 0 image(s) x 16 but found 16');
    });

    it('native generation refuses the same mismatch on its own', async () => {
      const cfg = loadModelConfig(fx.dir);
      const ck = await openCheckpoint(path.join(fx.dir, 'model.safetensors'));
      const m = await native().loadLlava(cfg, resolveWeights(native().llavaTensorSpecs(cfg), [ck], cfg));
      const ids = [...fx.items[0].prompt, 319];
      const item = { ids, images: [0], maxNewTokens: 4, temperature: 0, topK: 0, topP: 1, seed: 0 };
      const err = await failure(() => m.startGeneration(fx.images[0], 1, [item], [2]));
      expect(err.message).to.equal('items[0]: expected 16 image tokens (id 319) for 1 image(s) x 16 but found 17');
      const range = await failure(() => m.startGeneration(fx.images[0], 1, [{ ...item, ids: fx.items[0].prompt, images: [1] }], [2]));
      expect(range.message).to.equal('items[0]: image index 1 is out of range for a batch of 1 image(s)');
      const scored = await failure(m.logprobs(fx.images[0], 1, [{ ids: fx.items[0].prompt, images: [0], responseStart: 24 }]));
      expect(scored.message).to.equal(
        'items[0]: expected responseStart in [1, 24) (at least one prompt token and one response token) but found 24',
      );
    });

    it('a generation takes one step at a time: a second step or a stop() before the first settles is refused, and it goes on after', async () => {
      const cfg = loadModelConfig(fx.dir);
      const ck = await openCheckpoint(path.join(fx.dir, 'model.safetensors'));
      const m = await native().loadLlava(cfg, resolveWeights(native().llavaTensorSpecs(cfg), [ck], cfg));
      const item = { ids: fx.items[0].prompt, images: [0], maxNewTokens: 6, temperature: 0, topK: 0, topP: 1, seed: 0 };
      const gen = m.startGeneration(fx.images[0], 1, [item], []);
      const first = gen.step(3);
      const second = gen.step(1); // refused through its own Promise, not thrown
      expect(() => gen.stop(0)).to.throw('LlavaGeneration.stop: a call on this generation is running; wait for it');
      expect((await failure(second)).message).to.equal('LlavaGeneration.step: another call on this generation is still running; await it before starting the next');
      expect((await first).tokens[0]).to.have.length(3);
      expect((await gen.step(3)).tokens[0]).to.have.length(3); // released once the first settled
    });

    it('refuses ids outside the vocabulary, wrong pixels and empty responses', async () => {
      const img = fx.images[0];
      const bad = await failure(model.generate([{ ids: [1, 2, 320], image: null }]));
      expect(bad.message).to.equal('Expected a token id in [0, 320) or the image token 319 for requests[0].ids[2] but received 320');
      const pixels = await failure(model.generate([{ ids: fx.items[0].prompt, image: img.subarray(1) }]));
      expect(pixels.message).to.equal(
        'Expected a Float32Array of 3 x 56 x 56 = 9408 normalised pixel values for requests[0].image but received a Float32Array of 9407 values',
      );
      const empty = await failure(model.logprobs([{ promptIds: fx.items[0].prompt, responseIds: [], image: img }]));
      expect(empty.message).to.equal('Expected a non-empty array of token ids for items[0].responseIds but received an array of 0 values');
      const notIds = await failure(model.fullLogits([{ ids: 'hello' as unknown as number[] }]));
      expect(notIds.message).to.equal('Expected an array of token ids for sequences[0].ids but received a string "hello"');
    });

    it('refuses bad sampling options, naming the option or the request field', async () => {
      const r = { ids: [1, 5, 6], image: null };
      const cases: [Promise<unknown>, string][] = [
        [model.generate([r], { temperature: -1 }), 'Expected a number in [0, Infinity) for options.temperature but received -1'],
        [model.generate([r], { topP: 0 }), 'Expected a number in (0, 1] for options.topP but received 0'],
        [model.generate([{ ...r, topK: 2.5 }]), 'Expected an integer >= 0 for requests[0].topK but received 2.5'],
        [model.generate([{ ...r, maxNewTokens: 0 }]), 'Expected an integer >= 1 for requests[0].maxNewTokens but received 0'],
        [model.generate([r], { seed: -3 }), 'Expected an integer >= 0 for options.seed but received -3'],
        [model.generate([r], { stop: ['ok', ''] }), 'Expected a non-empty string for options.stop[1] but received a string ""'],
        [model.generate([r], { batchSize: 0 }), 'Expected an integer >= 1 for options.batchSize but received 0'],
        [model.generate([r], { eosTokenIds: [400] }), 'Expected an integer in [0, 319] for options.eosTokenIds[0] but received 400'],
      ];
      for (const [p, message] of cases) expect((await failure(p)).message).to.equal(message);
    });
  });
});
