// Model configs: the transformers-made fixtures, hub-style configs that omit defaults, the original
// LLaVA layout with a separate CLIP checkpoint, and the refusal of what the engine cannot run.
import { expect } from 'chai';
import { cpSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { assertRunnable, detectArchitecture, loadModelConfig, parseModelConfig } from '../../lib/model/config.ts';
import { imageTokenCount } from '../../lib/model/config_vision.ts';
import { readJsonFile } from '../../lib/model/config_json.ts';

const testDir = path.dirname(fileURLToPath(import.meta.url));
const hf = path.resolve(testDir, '..', 'fixtures', 'hf');
const configs = path.resolve(testDir, '..', 'fixtures', 'configs');

function readJson(file: string): Record<string, unknown> {
  return readJsonFile(file, 'a test fixture') as Record<string, unknown>;
}

describe('model config: transformers fixtures', () => {
  const cases = [
    { dir: 'llava-tiny-llama', family: 'llama', layers: 2, heads: 4, kv: 4, vocab: 320, theta: 1e4, layer: -2, select: 'default', size: 56, count: 16, token: 319 },
    { dir: 'llava-tiny-mistral-gqa', family: 'mistral', layers: 3, heads: 4, kv: 2, vocab: 352, theta: 1e6, layer: -2, select: 'default', size: 56, count: 16, token: 351 },
    { dir: 'llava-tiny-llama-fullfeat-lastlayer', family: 'llama', layers: 2, heads: 4, kv: 4, vocab: 300, theta: 1e4, layer: -1, select: 'full', size: 42, count: 10, token: 299 },
  ] as const;
  for (const c of cases) {
    it(`reads ${c.dir}`, () => {
      const cfg = loadModelConfig(path.join(hf, c.dir));
      const expected = readJson(path.join(hf, c.dir, 'expected.json'));
      expect(cfg.architecture).to.equal('LlavaForConditionalGeneration');
      expect(cfg.decoder).to.include({
        family: c.family,
        hiddenSize: 64,
        intermediateSize: 136,
        numLayers: c.layers,
        numHeads: c.heads,
        numKvHeads: c.kv,
        headDim: 16,
        vocabSize: c.vocab,
        ropeTheta: c.theta,
        rmsNormEps: 1e-5,
        tieWordEmbeddings: false,
        bosTokenId: 1,
        padTokenId: 0,
      });
      expect(cfg.decoder.eosTokenIds).to.deep.equal([2]);
      expect(cfg.vision).to.include({
        imageSize: c.size,
        patchSize: 14,
        hiddenSize: 32,
        intermediateSize: 64,
        numLayers: 3,
        numHeads: 4,
        act: 'quick_gelu',
        layerNormEps: 1e-5,
        featureLayer: c.layer,
        selectStrategy: c.select,
      });
      expect(cfg.projector).to.deep.equal({ type: 'mlp2x_gelu', act: 'gelu', bias: true });
      expect(cfg.imageTokenId).to.equal(c.token).and.to.equal(expected.image_token_id);
      expect(cfg.imageTokenCount).to.equal(c.count).and.to.equal(expected.n_image_tokens);
      expect(cfg.weights).to.deep.equal({ naming: 'llava-hf', visionTowerPath: null });
      expect(cfg.anyres).to.equal(null);
      expect(() => assertRunnable(cfg)).not.to.throw();
    });
  }

  it('uses OpenAI CLIP mean/std when there is no preprocessor_config.json', () => {
    const cfg = loadModelConfig(path.join(hf, 'llava-tiny-llama'));
    expect(cfg.vision.imageMean).to.deep.equal([0.48145466, 0.4578275, 0.40821073]);
    expect(cfg.vision.imageStd).to.deep.equal([0.26862954, 0.26130258, 0.27577711]);
    expect(cfg.vision.preprocess).to.deep.equal({ resizeShortestEdge: 56, cropSize: 56, padToSquare: false, resample: 'bicubic' });
  });
});

describe('model config: hub-style llava-hf configs', () => {
  it('applies LlamaConfig and CLIPVisionConfig defaults to a llava-1.5 config that omits them', () => {
    const cfg = loadModelConfig(path.join(configs, 'llava-1.5-hub-style'));
    expect(cfg.decoder).to.include({
      family: 'llama',
      hiddenSize: 4096,
      intermediateSize: 11008,
      numLayers: 32,
      numHeads: 32,
      numKvHeads: 32,
      headDim: 128,
      vocabSize: 32064,
      ropeTheta: 10000,
      rmsNormEps: 1e-5,
      maxPositionEmbeddings: 4096,
      bosTokenId: 1,
      // Only the top level has pad_token_id in this config.
      padTokenId: 32001,
      tieWordEmbeddings: false,
      slidingWindow: null,
    });
    expect(cfg.vision).to.include({ imageSize: 336, patchSize: 14, hiddenSize: 1024, numLayers: 24, numHeads: 16, act: 'quick_gelu', layerNormEps: 1e-5, numChannels: 3 });
    expect(cfg.imageTokenId).to.equal(32000);
    expect(cfg.imageTokenCount).to.equal(576);
    expect(cfg.vision.preprocess).to.deep.equal({ resizeShortestEdge: 336, cropSize: 336, padToSquare: true, resample: 'bicubic' });
  });

  it('reads a LLaVA-NeXT Mistral config (top-level rope_theta, null sliding window) and runs it', () => {
    const cfg = loadModelConfig(path.join(configs, 'llava-1.6-mistral-hub-style'));
    expect(cfg.architecture).to.equal('LlavaNextForConditionalGeneration');
    expect(cfg.decoder).to.include({ family: 'mistral', hiddenSize: 4096, intermediateSize: 14336, numHeads: 32, numKvHeads: 8, headDim: 128, ropeTheta: 1e6, rmsNormEps: 1e-5, maxPositionEmbeddings: 32768, slidingWindow: null });
    expect(cfg.anyres?.gridPinpoints).to.deep.equal([[336, 672], [672, 336], [672, 672], [1008, 336], [336, 1008]]);
    expect(cfg.imageTokenCount).to.equal(576);
    expect(() => assertRunnable(cfg)).not.to.throw();
  });

  it('refuses LLaVA-NeXT with vision_feature_select_strategy "full" (its crops must form square grids)', () => {
    const json = { ...readJson(path.join(configs, 'llava-1.6-mistral-hub-style', 'config.json')), vision_feature_select_strategy: 'full' };
    expect(() => parseModelConfig(json, 'next.json')).to.throw(
      'next.json: expected "default" for LlavaNextForConditionalGeneration (anyres needs the CLS row dropped) for vision_feature_select_strategy but found "full"',
    );
  });

  it('builds the default text and vision configs when both sections are absent', () => {
    const cfg = parseModelConfig({ architectures: ['LlavaForConditionalGeneration'] }, 'mem.json');
    expect(cfg.decoder).to.include({ family: 'llama', hiddenSize: 4096, numLayers: 32, numKvHeads: 32, vocabSize: 32000, ropeTheta: 10000, rmsNormEps: 1e-6, maxPositionEmbeddings: 2048 });
    expect(cfg.vision).to.include({ imageSize: 336, patchSize: 14, hiddenSize: 1024, intermediateSize: 4096, numLayers: 24, numHeads: 16, act: 'quick_gelu' });
    expect(cfg.imageTokenCount).to.equal(576);
  });

  it('applies CLIPVisionConfig and MistralConfig defaults to empty sections', () => {
    const cfg = parseModelConfig(
      { model_type: 'llava', image_token_index: 5, text_config: { model_type: 'mistral' }, vision_config: {}, vision_feature_select_strategy: 'full' },
      'mem.json',
    );
    expect(cfg.architecture).to.equal('LlavaForConditionalGeneration');
    expect(cfg.vision).to.include({ hiddenSize: 768, intermediateSize: 3072, numLayers: 12, numHeads: 12, patchSize: 32, imageSize: 224, act: 'quick_gelu', layerNormEps: 1e-5 });
    expect(cfg.imageTokenCount).to.equal(50);
    expect(cfg.decoder).to.include({ intermediateSize: 14336, numKvHeads: 8, maxPositionEmbeddings: 131072, slidingWindow: 4096, rmsNormEps: 1e-6 });
  });

  it('accepts eos_token_id lists, adds generation_config stop ids, and reads image_token_id', () => {
    const cfg = parseModelConfig(
      { architectures: ['LlavaForConditionalGeneration'], image_token_id: 7, text_config: { eos_token_id: [2, 9], rope_theta: 5e5 } },
      'mem.json',
      { generation: { json: { eos_token_id: [9, 11] }, source: 'gen.json' } },
    );
    expect(cfg.decoder.eosTokenIds).to.deep.equal([2, 9, 11]);
    expect(cfg.decoder.ropeTheta).to.equal(5e5);
    expect(cfg.imageTokenId).to.equal(7);
  });

  it('reads mean, std and sizes from preprocessor_config.json', () => {
    const cfg = parseModelConfig({ architectures: ['LlavaForConditionalGeneration'], vision_config: { image_size: 224, patch_size: 14 } }, 'mem.json', {
      preprocessor: { json: { image_mean: [0.5, 0.5, 0.5], image_std: [0.25, 0.5, 0.75], size: { shortest_edge: 256 }, crop_size: { height: 224, width: 224 }, resample: 2 }, source: 'pre.json' },
    });
    expect(cfg.vision.imageMean).to.deep.equal([0.5, 0.5, 0.5]);
    expect(cfg.vision.imageStd).to.deep.equal([0.25, 0.5, 0.75]);
    expect(cfg.vision.preprocess).to.deep.equal({ resizeShortestEdge: 256, cropSize: 224, padToSquare: false, resample: 'bilinear' });
    expect(cfg.imageTokenCount).to.equal(256);
  });
});

describe('model config: original LLaVA layout', () => {
  const modelDir = path.join(configs, 'llava-original-llama');
  const clipDir = path.join(configs, 'clip-vit-large-336');

  function checkOriginal(cfg: ReturnType<typeof loadModelConfig>, towerDir: string): void {
    expect(cfg.architecture).to.equal('LlavaLlamaForCausalLM');
    expect(cfg.decoder).to.include({ family: 'llama', hiddenSize: 4096, intermediateSize: 11008, numLayers: 32, numHeads: 32, numKvHeads: 32, headDim: 128, vocabSize: 32000, ropeTheta: 10000, rmsNormEps: 1e-5, padTokenId: 0 });
    expect(cfg.vision).to.include({ imageSize: 336, patchSize: 14, hiddenSize: 1024, numLayers: 24, numHeads: 16, featureLayer: -2, selectStrategy: 'default', act: 'quick_gelu' });
    expect(cfg.vision.preprocess).to.deep.equal({ resizeShortestEdge: 336, cropSize: 336, padToSquare: true, resample: 'bicubic' });
    expect(cfg.projector).to.deep.equal({ type: 'mlp2x_gelu', act: 'gelu', bias: true });
    // One past the embedding table: the original code's -200 placeholder made a real id.
    expect(cfg.imageTokenId).to.equal(32000);
    expect(cfg.imageTokenCount).to.equal(576);
    expect(cfg.weights).to.deep.equal({ naming: 'llava-original', visionTowerPath: towerDir });
    expect(() => assertRunnable(cfg)).not.to.throw();
  }

  it('reads the decoder from config.json and the tower from an explicit CLIP directory', () => {
    checkOriginal(loadModelConfig(modelDir, { visionTowerPath: clipDir }), clipDir);
  });

  it('finds the tower in the Hugging Face hub cache by its repo id', () => {
    const hub = mkdtempSync(path.join(os.tmpdir(), 'stic-hub-'));
    const repo = path.join(hub, 'models--openai--clip-vit-large-patch14-336');
    const snapshot = path.join(repo, 'snapshots', 'abc123');
    cpSync(clipDir, snapshot, { recursive: true });
    mkdirSync(path.join(repo, 'refs'), { recursive: true });
    writeFileSync(path.join(repo, 'refs', 'main'), 'abc123\n');
    checkOriginal(loadModelConfig(modelDir, { env: { HF_HUB_CACHE: hub } }), snapshot);
  });

  it('finds the tower next to the model directory by the last part of its name', () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'stic-side-'));
    cpSync(modelDir, path.join(root, 'llava'), { recursive: true });
    cpSync(clipDir, path.join(root, 'clip-vit-large-patch14-336'), { recursive: true });
    checkOriginal(loadModelConfig(path.join(root, 'llava'), { env: { HF_HUB_CACHE: path.join(root, 'no-hub') } }), path.join(root, 'clip-vit-large-patch14-336'));
  });

  it('accepts a CLIPVisionModel checkpoint and cls_patch selection', () => {
    const json = { ...readJson(path.join(modelDir, 'config.json')), mm_vision_select_feature: 'cls_patch', mm_vision_select_layer: -1, mm_projector_type: 'linear' };
    const tower = { model_type: 'clip_vision_model', hidden_size: 1024, image_size: 224, patch_size: 14, num_hidden_layers: 24, num_attention_heads: 16 };
    const cfg = parseModelConfig(json, 'model.json', { visionTower: { dir: '/clip', config: { json: tower, source: 'clip.json' } } });
    expect(cfg.vision).to.include({ selectStrategy: 'full', featureLayer: -1, imageSize: 224 });
    expect(cfg.imageTokenCount).to.equal(257);
    expect(cfg.projector.type).to.equal('linear');
    expect(cfg.vision.preprocess?.padToSquare).to.equal(true);
  });

  it('parses LlavaMistralForCausalLM with anyres and refuses to run it (the original LLaVA-NeXT layout)', () => {
    const json = {
      ...readJson(path.join(modelDir, 'config.json')),
      architectures: ['LlavaMistralForCausalLM'],
      image_aspect_ratio: 'anyres',
      image_grid_pinpoints: [[336, 672], [672, 336]],
      num_key_value_heads: 8,
      rope_theta: 1e6,
    };
    const cfg = parseModelConfig(json, 'model.json', { visionTower: { dir: clipDir, config: { json: readJson(path.join(clipDir, 'config.json')), source: 'clip.json' } } });
    expect(cfg.decoder).to.include({ family: 'mistral', numKvHeads: 8, ropeTheta: 1e6 });
    expect(cfg.anyres?.gridPinpoints).to.deep.equal([[336, 672], [672, 336]]);
    expect(() => assertRunnable(cfg)).to.throw(
      'model.json: LlavaMistralForCausalLM with image_aspect_ratio "anyres" (the original LLaVA-NeXT layout) is recognised but not supported: ' +
        'use the llava-hf conversion of the checkpoint (LlavaNextForConditionalGeneration, e.g. llava-hf/llava-v1.6-mistral-7b-hf), or set image_aspect_ratio to "pad"',
    );
  });

  it('lists every place it looked when the CLIP checkpoint cannot be found', () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'stic-lost-'));
    const model = path.join(root, 'llava');
    cpSync(modelDir, model, { recursive: true });
    const hub = path.join(root, 'hub');
    expect(() => loadModelConfig(model, { env: { HF_HUB_CACHE: hub } })).to.throw(
      [
        `${path.join(model, 'config.json')}: expected a local CLIP checkpoint (a directory with config.json) for mm_vision_tower "openai/clip-vit-large-patch14-336" but found none. Places tried:`,
        `  - ${path.join(model, 'openai', 'clip-vit-large-patch14-336')}`,
        `  - ${path.join(model, 'clip-vit-large-patch14-336')}`,
        `  - ${path.join(root, 'clip-vit-large-patch14-336')}`,
        `  - ${path.join(hub, 'models--openai--clip-vit-large-patch14-336', 'snapshots', '<revision>')}`,
        'Possible solutions: pass the CLIP directory as visionTowerPath (CLI: --vision-tower <dir>), or download it into one of the places above.',
      ].join('\n'),
    );
  });

  it('says when an explicit visionTowerPath has no config.json', () => {
    const empty = mkdtempSync(path.join(os.tmpdir(), 'stic-empty-'));
    expect(() => loadModelConfig(modelDir, { visionTowerPath: empty })).to.throw(
      `${path.join(empty, 'config.json')}: expected the CLIP checkpoint given as visionTowerPath to have a config.json but the file does not exist`,
    );
  });

  it('needs the tower config when parsing directly', () => {
    expect(() => parseModelConfig(readJson(path.join(modelDir, 'config.json')), 'model.json')).to.throw(
      'model.json: expected the config of the CLIP checkpoint named by mm_vision_tower ("openai/clip-vit-large-patch14-336") but none was given: ' +
        'load the model with loadModelConfig(dir, {visionTowerPath}) or pass extras.visionTower',
    );
  });
});

describe('model config: architecture detection', () => {
  it('prefers the architectures list and falls back to model_type', () => {
    expect(detectArchitecture({ architectures: ['Foo', 'LlavaLlamaForCausalLM'] }, 'c.json')).to.equal('LlavaLlamaForCausalLM');
    expect(detectArchitecture({ model_type: 'llava_next' }, 'c.json')).to.equal('LlavaNextForConditionalGeneration');
  });

  it('imageTokenCount is (S/p)^2, plus one with the CLS token', () => {
    expect(imageTokenCount({ imageSize: 336, patchSize: 14, selectStrategy: 'default' })).to.equal(576);
    expect(imageTokenCount({ imageSize: 336, patchSize: 14, selectStrategy: 'full' })).to.equal(577);
    expect(imageTokenCount({ imageSize: 42, patchSize: 14, selectStrategy: 'full' })).to.equal(10);
  });
});
