// The CPU engine on LLaVA-NeXT against the reference fixture (test/fixtures/hf/llava-next-tiny-mistral):
// CLIP hidden states of all crops of an image, the packed image features of all five images (base
// crop first, unpadded grid, image_newline after every row), logits of one prompt and of a
// right-padded batch of two (each row's real tokens), response log-probs and greedy tokens.
// Tolerances as the transformers fixtures (fp32 engine vs float64 reference): relError <= 1e-5,
// log-probs within 1e-4, greedy tokens exact.
import { expect } from 'chai';

import { type LlavaModel, loadModel } from '../../lib/engine/index.ts';
import { relError } from './fixture_util.ts';
import { NEXT_DIR, type NextFixture, loadNextFixture } from './next_fixture.ts';

const REL_TOL = 1e-5;
const LOGP_TOL = 1e-4;

describe('engine vs the LLaVA-NeXT reference (anyres)', function () {
  this.timeout(120_000);
  let fx: NextFixture;
  let model: LlavaModel;
  before(async () => {
    fx = await loadNextFixture();
    model = await loadModel(NEXT_DIR);
  });

  it('runs every crop of an image through the tower: all CLIP hidden states of image 0', async () => {
    const hidden = await model.visionHiddenStates([fx.image(0)]);
    expect(hidden.length).to.equal(4);
    hidden.forEach((h, l) => expect(relError(h, fx.f32(`vision_hidden_${l}_img0`)), `layer ${l}`).to.be.below(REL_TOL));
  });

  it('packs the features of all five images (one tower batch), each as transformers does', async () => {
    const images = [0, 1, 2, 3, 4].map((k) => fx.image(k));
    const all = await model.imageFeatures(images);
    let offset = 0;
    images.forEach((img, k) => {
      const ref = fx.f32(`image_features_${k}`);
      expect(img.tokens * 64, `image ${k}`).to.equal(ref.length);
      expect(relError(all.subarray(offset, offset + ref.length), ref), `image_features_${k}`).to.be.below(REL_TOL);
      offset += ref.length;
    });
    expect(offset).to.equal(all.length);
  });

  it('logits of one prompt, and of the padded batch of two (each with its own image)', async () => {
    const [single] = await model.fullLogits([{ ids: fx.ids('prompt_single'), image: fx.image(0) }]);
    expect(relError(single, fx.f32('logits_single'))).to.be.below(REL_TOL);
    const batch = fx.ids('ids_batch');
    const mask = fx.ids('attention_mask_batch');
    const imageOf = fx.ids('image_index_batch');
    const seqs = [0, 1].map((b) => {
      const T = mask.slice(56 * b, 56 * (b + 1)).reduce((n, m) => n + m, 0);
      return { ids: batch.slice(56 * b, 56 * b + T), image: fx.image(imageOf[b]) };
    });
    const logits = await model.fullLogits(seqs);
    logits.forEach((l, b) => expect(relError(l, fx.f32(`logits_batch_${b}`)), `batch row ${b}`).to.be.below(REL_TOL));
  });

  it('response log-probs of both pairs (images 3 and 4: 51 and 25 image tokens)', async () => {
    const items = [0, 1].flatMap((i) =>
      (['chosen', 'rejected'] as const).map((kind) => {
        const prompt = fx.ids(`prompt_pair_${i}`);
        return { promptIds: prompt, responseIds: fx.ids(`ids_${kind}_${i}`).slice(prompt.length), image: fx.image(fx.json.items[i].images[0]), key: `${kind}_${i}` };
      }),
    );
    const out = await model.logprobs(items, { batchSize: 3 });
    items.forEach((it, j) => {
      const ref = fx.f32(`token_logps_${it.key}`);
      expect(out[j].tokenLogps.length).to.equal(ref.length);
      ref.forEach((r, t) => expect(Math.abs(out[j].tokenLogps[t] - r), `${it.key} token ${t}`).to.be.below(LOGP_TOL));
      expect(Math.abs(out[j].sum - fx.f32(`sum_logp_${it.key}`)[0]), it.key).to.be.below(LOGP_TOL);
    });
  });

  it('greedy tokens: the single prompt and each batch prompt alone', async () => {
    const batch = fx.ids('ids_batch');
    const mask = fx.ids('attention_mask_batch');
    const imageOf = fx.ids('image_index_batch');
    const requests = [{ ids: fx.ids('prompt_single'), image: fx.image(0) }];
    for (const b of [0, 1]) {
      const T = mask.slice(56 * b, 56 * (b + 1)).reduce((n, m) => n + m, 0);
      requests.push({ ids: batch.slice(56 * b, 56 * b + T), image: fx.image(imageOf[b]) });
    }
    const out = await model.generate(requests, { maxNewTokens: 8, temperature: 0, eosTokenIds: [] });
    expect(out[0].ids).to.deep.equal(fx.ids('greedy_single'));
    expect(out[1].ids).to.deep.equal(fx.ids('greedy_batch_0'));
    expect(out[2].ids).to.deep.equal(fx.ids('greedy_batch_1'));
  });

  it('refuses an image whose token count does not match the prompt, naming both', async () => {
    const prompt = fx.ids('prompt_single'); // 37 image tokens (image 0)
    let err: Error | null = null;
    try {
      await model.fullLogits([{ ids: prompt, image: fx.image(3) }]);
    } catch (e) {
      err = e as Error;
    }
    expect(err?.message).to.equal('sequences[0]: expected 51 image tokens (id 420) for 1 image(s) x 51 but found 37');
  });
});
