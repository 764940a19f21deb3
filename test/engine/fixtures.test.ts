// The CPU engine against Hugging Face transformers (test/fixtures/hf): all three tiny models, with
// the transformers 5 tensor names (model.safetensors) and the earlier hub names
// (legacy-names.safetensors). Tolerances: relError (max|a-b| / max|b| per tensor) <= 1e-5 for
// hidden states, features and logits; |sum log-prob - reference| <= 1e-4; greedy tokens exact.
import { expect } from 'chai';
import path from 'node:path';

import { type LlavaModel, loadModel } from '../../lib/engine/index.ts';
import { FIXTURE_MODELS, type Fixture, loadFixture, relError } from './fixture_util.ts';

const REL_TOL = 1e-5;
const LOGP_TOL = 1e-4;

for (const name of FIXTURE_MODELS) {
  for (const naming of ['model.safetensors', 'legacy-names.safetensors']) {
    describe(`engine vs transformers: ${name} (${naming})`, () => {
      let fx: Fixture;
      let model: LlavaModel;
      before(async () => {
        fx = await loadFixture(name);
        model = await loadModel(fx.dir, { weights: path.join(fx.dir, naming) });
      });

      it('reproduces every CLIP hidden state', async () => {
        const hidden = await model.visionHiddenStates(fx.images);
        expect(hidden.length).to.equal(model.config.vision.numLayers + 1);
        hidden.forEach((h, k) => expect(relError(h, fx.expectedF32(`vision_hidden_${k}`)), `hidden state ${k}`).to.be.below(REL_TOL));
      });

      it('reproduces the projected image features', async () => {
        const features = await model.imageFeatures(fx.images);
        expect(relError(features, fx.expectedF32('image_features'))).to.be.below(REL_TOL);
      });

      it('reproduces the full logits of every sequence, batched with its own image', async () => {
        const seqs = fx.items.flatMap((it, i) => [
          { ids: it.chosen, image: fx.images[i], key: `logits_chosen_${i}` },
          { ids: it.rejected, image: fx.images[i], key: `logits_rejected_${i}` },
        ]);
        const logits = await model.fullLogits(seqs);
        seqs.forEach((s, j) => expect(relError(logits[j], fx.expectedF32(s.key)), s.key).to.be.below(REL_TOL));
      });

      it('reproduces per-token and summed log-probs of the responses', async () => {
        const items = fx.items.flatMap((it, i) =>
          (['chosen', 'rejected'] as const).map((kind) => ({
            promptIds: it.prompt,
            responseIds: it[kind].slice(it.prompt.length),
            image: fx.images[i],
            key: `${kind}_${i}`,
          })),
        );
        const out = await model.logprobs(items, { batchSize: 3 }); // a batch boundary inside the call
        items.forEach((it, j) => {
          const ref = fx.expectedF32(`token_logps_${it.key}`);
          expect(out[j].tokenLogps.length, it.key).to.equal(ref.length);
          ref.forEach((r, t) => expect(Math.abs(out[j].tokenLogps[t] - r), `${it.key} token ${t}`).to.be.below(LOGP_TOL));
          expect(Math.abs(out[j].sum - fx.expectedF32(`sum_logp_${it.key}`)[0]), `sum ${it.key}`).to.be.below(LOGP_TOL);
        });
      });

      it('generates the reference greedy tokens, alone and batched together', async () => {
        const requests = fx.items.map((it, i) => ({ ids: it.prompt, image: fx.images[i] }));
        const batched = await model.generate(requests, { maxNewTokens: 8 });
        const alone = [await model.generate([requests[0]], { maxNewTokens: 8 }), await model.generate([requests[1]], { maxNewTokens: 8 })];
        for (const i of [0, 1]) {
          const ref = fx.expectedIds(`greedy_${i}`);
          expect(batched[i].ids, `batched item ${i}`).to.deep.equal(ref);
          expect(alone[i][0].ids, `item ${i} alone`).to.deep.equal(ref);
          expect(batched[i].finishReason).to.equal('length');
          expect(batched[i].text).to.equal(null); // the fixtures have no tokenizer
        }
      });
    });
  }
}
