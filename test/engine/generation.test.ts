// Batched generation with a KV cache against a cache-free reference (argmax / the reference
// sampler over fullLogits of the whole sequence at every step), batch-composition independence,
// seeds, EOS, max tokens and stop strings.
import { expect } from 'chai';

import { type GenerateRequest, type LlavaModel, loadModel } from '../../lib/engine/index.ts';
import { type Fixture, loadFixture } from './fixture_util.ts';
import { sampleRef } from '../cpu/sampler_ref.ts';

/** Requests of different prompt lengths: two images, one shared, one text-only prompt. */
function mixedRequests(fx: Fixture): GenerateRequest[] {
  const [a, b] = fx.items;
  return [
    { ids: a.prompt, image: fx.images[0], maxNewTokens: 12 },
    { ids: b.prompt.slice(0, -2), image: fx.images[1], maxNewTokens: 20 },
    { ids: [1, 5, 6, 7, 8, 9, 10], image: null, maxNewTokens: 7 },
    { ids: [...a.prompt, 40, 41, 42], image: fx.images[0], maxNewTokens: 15 },
  ];
}

/** Generation without a cache: the whole sequence through fullLogits at every step. */
async function referenceGenerate(
  model: LlavaModel,
  req: GenerateRequest,
  pick: (row: Float32Array, step: number) => number,
  eos: number[],
): Promise<number[]> {
  const V = model.config.decoder.vocabSize;
  const ids = Array.from(req.ids);
  const out: number[] = [];
  for (let step = 0; step < (req.maxNewTokens ?? 0); step++) {
    const [logits] = await model.fullLogits([{ ids, image: req.image }]);
    const tok = pick(logits.subarray(logits.length - V), step);
    if (eos.includes(tok)) break;
    out.push(tok);
    ids.push(tok);
  }
  return out;
}

const argmax = (row: Float32Array) => row.reduce((b, x, i) => (x > row[b] ? i : b), 0);

for (const name of ['llava-tiny-llama', 'llava-tiny-mistral-gqa'] as const) {
  describe(`generation: ${name}`, () => {
    let fx: Fixture;
    let model: LlavaModel;
    before(async () => {
      fx = await loadFixture(name);
      model = await loadModel(fx.dir);
    });

    it('greedy: batched == one at a time == the cache-free reference, whatever the batch size', async () => {
      const reqs = mixedRequests(fx);
      const eos = model.config.decoder.eosTokenIds;
      const reference = await Promise.all(reqs.map((r) => referenceGenerate(model, r, argmax, eos)));
      const whole = await model.generate(reqs);
      const split = await model.generate(reqs, { batchSize: 3 });
      const alone = await Promise.all(reqs.map(async (r) => (await model.generate([r]))[0]));
      reqs.forEach((r, i) => {
        expect(whole[i].ids, `request ${i} batched`).to.deep.equal(reference[i]);
        expect(split[i].ids, `request ${i} batch size 3`).to.deep.equal(reference[i]);
        expect(alone[i].ids, `request ${i} alone`).to.deep.equal(reference[i]);
        const expectedFinish = reference[i].length === r.maxNewTokens ? 'length' : 'eos';
        expect(whole[i].finishReason, `request ${i}`).to.equal(expectedFinish);
      });
      expect(reference.some((r) => r.length >= 12)).to.equal(true); // long enough to exercise the cache
    });

    it('sampling: the same tokens per seed in any batch, equal to the reference sampler', async () => {
      const reqs = mixedRequests(fx).map((r, i) => ({ ...r, seed: 1000 + 17 * i }));
      const opts = { temperature: 1.2, topP: 0.9, topK: 50 };
      const all = await model.generate(reqs, opts);
      const reordered = await model.generate([reqs[3], reqs[1]], opts);
      const single = await model.generate([reqs[2]], opts);
      expect(reordered[0].ids).to.deep.equal(all[3].ids);
      expect(reordered[1].ids).to.deep.equal(all[1].ids);
      expect(single[0].ids).to.deep.equal(all[2].ids);
      const eos = model.config.decoder.eosTokenIds;
      const ref = await referenceGenerate(model, reqs[1], (row, step) => sampleRef(row, { ...opts, seed: reqs[1].seed }, step), eos);
      expect(all[1].ids).to.deep.equal(ref);
      const otherSeed = await model.generate([{ ...reqs[1], seed: 7 }], opts);
      expect(otherSeed[0].ids).to.not.deep.equal(all[1].ids);
    });

    it('gives request i of a call the seed options.seed + i unless it has its own', async () => {
      const [r0, r1] = mixedRequests(fx);
      const opts = { temperature: 1, seed: 40 };
      const implicit = await model.generate([r0, r1], opts);
      const explicit = await model.generate([{ ...r0, seed: 40 }, { ...r1, seed: 41 }], { temperature: 1 });
      expect(implicit.map((r) => r.ids)).to.deep.equal(explicit.map((r) => r.ids));
    });
  });
}

describe('generation: stopping', () => {
  let fx: Fixture;
  let greedy0: number[];
  before(async () => {
    fx = await loadFixture('llava-tiny-llama');
    greedy0 = fx.expectedIds('greedy_0'); // [159, 229, 78, 144, ...]
  });
  const request = () => ({ ids: fx.items[0].prompt, image: fx.images[0], maxNewTokens: 8 });

  it('stops at an EOS id without returning it', async () => {
    const model = await loadModel(fx.dir);
    const [r] = await model.generate([request()], { eosTokenIds: [greedy0[2]] });
    expect(r.ids).to.deep.equal(greedy0.slice(0, 2));
    expect(r.finishReason).to.equal('eos');
  });

  it('stops at max new tokens', async () => {
    const model = await loadModel(fx.dir);
    const [r] = await model.generate([{ ...request(), maxNewTokens: 3 }]);
    expect(r.ids).to.deep.equal(greedy0.slice(0, 3));
    expect(r.finishReason).to.equal('length');
  });

  it('stops at a stop string that spans a token and a chunk boundary, leaving the other items running', async () => {
    // A stand-in tokenizer: token id n decodes to "t<n> ".
    const model = await loadModel(fx.dir, { tokenizer: { decode: (ids) => ids.map((i) => `t${i} `).join('') } });
    const stop = `t${greedy0[2]} t${String(greedy0[3]).slice(0, 1)}`; // completed by token 3
    const other = { ids: fx.items[1].prompt, image: fx.images[1], maxNewTokens: 8 };
    const [stopped, running] = await model.generate([{ ...request(), stop: [stop, 'never'] }, other], { stopChunk: 3 });
    expect(stopped.finishReason).to.equal('stop');
    expect(stopped.ids).to.deep.equal(greedy0.slice(0, 4));
    expect(stopped.text).to.equal(`t${greedy0[0]} t${greedy0[1]} `);
    expect(running.finishReason).to.equal('length');
    expect(running.ids).to.deep.equal(fx.expectedIds('greedy_1'));
    expect(running.text).to.equal(fx.expectedIds('greedy_1').map((i) => `t${i} `).join(''));
  });

  it('refuses stop strings when the model has no tokenizer', async () => {
    const model = await loadModel(fx.dir);
    let err: Error | undefined;
    await model.generate([{ ...request(), stop: ['x'] }]).catch((e) => (err = e));
    expect(err?.message).to.equal(
      `requests[0].stop: stop strings are matched on decoded text, but the model at ${fx.dir} has no tokenizer (no tokenizer.json)`,
    );
  });
});
