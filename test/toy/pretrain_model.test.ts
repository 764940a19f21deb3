// The toy model's description and initialisation: its config parses into the engine config the
// pretrainer and lib/engine use (36 image tokens, the toy tokenizer's ids), and initialWeights
// draws each tensor from the distribution the header of lib/toy/pretrain_model.ts states.
import { expect } from 'chai';

import { native } from '../../lib/native/index.ts';
import { initialWeights, toyConfigJson, toyEngineConfig, toyPreprocessorJson } from '../../lib/toy/pretrain_model.ts';
import { buildToyModelTokenizer } from '../../lib/toy/toy_tokenizer.ts';

const tok = buildToyModelTokenizer();
const config = toyEngineConfig(toyConfigJson(tok), toyPreprocessorJson());

describe('toy model description and initialisation', () => {
  it('is a llava-hf LLaVA with 84 px images in 36 patches, the toy vocabulary and its special ids', () => {
    expect(config.architecture).to.equal('LlavaForConditionalGeneration');
    expect(config.imageTokenCount).to.equal(36);
    expect(config.imageTokenId).to.equal(tok.imageTokenId);
    expect(config.decoder.vocabSize).to.equal(640);
    expect(config.decoder.eosTokenIds).to.deep.equal([tok.eosTokenId]);
    expect(config.vision.featureLayer).to.equal(-2);
    expect(config.vision.preprocess).to.deep.include({ resizeShortestEdge: 84, cropSize: 84, padToSquare: false });
    const params = native().llavaTensorSpecs(config).reduce((n, t) => n + t.shape.reduce((a, b) => a * b, 1), 0);
    expect(params).to.equal(1_170_496);
  });

  it('draws every tensor as stated: LeCun normal linears, residual outputs / sqrt(2L), 0.02 embeddings, unit gains, zero biases', () => {
    const specs = native().llavaTensorSpecs(config);
    const weights = initialWeights(specs, config, 3);
    const again = initialWeights(specs, config, 3);
    const other = initialWeights(specs, config, 4);
    weights.forEach(({ name, data }, i) => {
      expect(Buffer.from(again[i].data.buffer).equals(Buffer.from(data.buffer)), `${name} reproducible`).to.equal(true);
      const shape = specs[i].shape;
      if (/(norm|layrnorm|layer_norm\d)\.weight$/.test(name)) return expect(data.every((v) => v === 1), name).to.equal(true);
      if (name.endsWith('.bias')) return expect(data.every((v) => v === 0), name).to.equal(true);
      expect(Buffer.from(other[i].data.buffer).equals(Buffer.from(data.buffer)), `${name} depends on the seed`).to.equal(false);
      const layers = name.startsWith('vision_tower.') ? 3 : 4;
      let want = /(embed_tokens|patch_embedding|position_embedding)\.weight$|class_embedding$/.test(name) ? 0.02 : 1 / Math.sqrt(shape.slice(1).reduce((a, b) => a * b, 1));
      if (/(out_proj|fc2|o_proj|down_proj)\.weight$/.test(name)) want /= Math.sqrt(2 * layers);
      const n = data.length;
      const mean = data.reduce((a, b) => a + b, 0) / n;
      const std = Math.sqrt(data.reduce((a, b) => a + (b - mean) ** 2, 0) / n);
      // The sample std of n normals is within ~4/sqrt(2n) relative of the true one (4 sigma); n >= 64 here.
      expect(Math.abs(std / want - 1), `${name} std ${std} vs ${want}`).to.be.below(4 / Math.sqrt(2 * n));
      expect(Math.abs(mean), `${name} mean`).to.be.below((5 * want) / Math.sqrt(n));
    });
  });
});
