// Every user-facing error of the config parser, with its exact message: file, field, expected, found.
import { expect } from 'chai';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { ModelConfigError, loadModelConfig, parseModelConfig } from '../../lib/model/config.ts';
import { readJsonFile } from '../../lib/model/config_json.ts';

const testDir = path.dirname(fileURLToPath(import.meta.url));
const tinyLlama = path.resolve(testDir, '..', 'fixtures', 'hf', 'llava-tiny-llama', 'config.json');
const original = path.resolve(testDir, '..', 'fixtures', 'configs', 'llava-original-llama', 'config.json');
const clip = path.resolve(testDir, '..', 'fixtures', 'configs', 'clip-vit-large-336', 'config.json');

// Fixture configs are edited freely in these tests.
type Json = Record<string, any>;

/** A deep copy of a fixture config with `edit` applied. */
function edited(file: string, edit: (c: Json) => void): Json {
  const c = structuredClone(readJsonFile(file, 'a test fixture')) as Json;
  edit(c);
  return c;
}

function hfError(edit: (c: Json) => void, extras: Parameters<typeof parseModelConfig>[2] = {}): string {
  return captured(() => parseModelConfig(edited(tinyLlama, edit), 'cfg.json', extras));
}

function originalError(edit: (c: Json) => void, editClip: (c: Json) => void = () => {}): string {
  const tower = { dir: '/clip', config: { json: edited(clip, editClip), source: 'clip.json' } };
  return captured(() => parseModelConfig(edited(original, edit), 'orig.json', { visionTower: tower }));
}

function captured(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).to.be.instanceOf(ModelConfigError);
    return (e as Error).message;
  }
  throw new Error('expected a ModelConfigError, but the call succeeded');
}

describe('model config errors: files', () => {
  it('names a missing config.json', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'stic-cfg-'));
    expect(captured(() => loadModelConfig(dir))).to.equal(`${path.join(dir, 'config.json')}: expected a model config (config.json) but the file does not exist`);
  });

  it('names invalid JSON with the parser message', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'stic-cfg-'));
    writeFileSync(path.join(dir, 'config.json'), '{"architectures": [');
    expect(captured(() => loadModelConfig(dir))).to.match(
      new RegExp(`^${path.join(dir, 'config.json').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: expected valid JSON but parsing failed: .+`),
    );
  });

  it('refuses a config that is not an object', () => {
    expect(captured(() => parseModelConfig([1, 2], 'cfg.json'))).to.equal('cfg.json: expected a JSON object for the file but found [1,2]');
  });

  it('checks a bad preprocessor_config.json beside config.json', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'stic-cfg-'));
    writeFileSync(path.join(dir, 'config.json'), JSON.stringify(edited(tinyLlama, () => {})));
    writeFileSync(path.join(dir, 'preprocessor_config.json'), JSON.stringify({ image_std: [0.2, 0.2] }));
    expect(captured(() => loadModelConfig(dir))).to.equal(`${path.join(dir, 'preprocessor_config.json')}: expected a list of 3 numbers for image_std but found [0.2,0.2]`);
  });
});

describe('model config errors: architecture', () => {
  it('lists the supported architectures for an unknown one', () => {
    expect(hfError((c) => (c.architectures = ['Qwen2VLForConditionalGeneration']))).to.equal(
      'cfg.json: expected a list containing one of "LlavaForConditionalGeneration", "LlavaNextForConditionalGeneration", "LlavaLlamaForCausalLM", "LlavaMistralForCausalLM" for architectures but found ["Qwen2VLForConditionalGeneration"]',
    );
  });

  it('says what it looked for when neither architectures nor a known model_type is present', () => {
    expect(captured(() => parseModelConfig({ model_type: 'qwen2_vl' }, 'cfg.json'))).to.equal(
      'cfg.json: expected an architectures list with one of "LlavaForConditionalGeneration", "LlavaNextForConditionalGeneration", "LlavaLlamaForCausalLM", "LlavaMistralForCausalLM" ' +
        '(or a model_type among "llava", "llava_next", "llava_llama", "llava_mistral") but found architectures nothing (the field is missing) and model_type "qwen2_vl"',
    );
  });

  it('refuses an architectures field that is not a list of strings', () => {
    expect(hfError((c) => (c.architectures = 'LlavaForConditionalGeneration'))).to.equal(
      'cfg.json: expected a non-empty list of strings for architectures but found "LlavaForConditionalGeneration"',
    );
  });
});

describe('model config errors: decoder', () => {
  it('names a wrongly typed field', () => {
    expect(hfError((c) => (c.text_config.num_attention_heads = '4'))).to.equal('cfg.json: expected a positive integer for text_config.num_attention_heads but found "4"');
  });

  it('refuses a decoder family other than llama/mistral', () => {
    expect(hfError((c) => (c.text_config.model_type = 'qwen2'))).to.equal('cfg.json: expected one of "llama", "mistral" for text_config.model_type but found "qwen2"');
  });

  it('refuses kv heads that do not divide the heads', () => {
    expect(hfError((c) => (c.text_config.num_key_value_heads = 3))).to.equal(
      'cfg.json: expected a divisor of num_attention_heads (4) for text_config.num_key_value_heads but found 3',
    );
  });

  it('refuses a hidden size the heads do not divide when head_dim is absent', () => {
    expect(
      hfError((c) => {
        delete c.text_config.head_dim;
        c.text_config.hidden_size = 66;
      }),
    ).to.equal('cfg.json: expected a multiple of num_attention_heads (4) when head_dim is not given for text_config.hidden_size but found 66');
  });

  it('refuses an MLP activation other than SiLU', () => {
    expect(hfError((c) => (c.text_config.hidden_act = 'gelu'))).to.equal('cfg.json: expected one of "silu" for text_config.hidden_act but found "gelu"');
  });

  it('refuses scaled RoPE in both spellings', () => {
    expect(hfError((c) => (c.text_config.rope_parameters = { rope_theta: 1e4, rope_type: 'linear', factor: 2 }))).to.equal(
      'cfg.json: expected "default" for text_config.rope_parameters.rope_type but found "linear": scaled RoPE variants are not supported yet',
    );
    expect(hfError((c) => (c.text_config.rope_scaling = { type: 'dynamic', factor: 2 }))).to.equal(
      'cfg.json: expected "default" for text_config.rope_scaling.type but found "dynamic": scaled RoPE variants are not supported yet',
    );
  });

  it('refuses two different rope thetas', () => {
    expect(hfError((c) => (c.text_config.rope_theta = 5e5))).to.equal(
      'cfg.json: expected the same value as text_config.rope_parameters.rope_theta (10000) for text_config.rope_theta but found 500000',
    );
  });

  it('refuses a malformed eos_token_id', () => {
    expect(hfError((c) => (c.text_config.eos_token_id = []))).to.equal('cfg.json: expected an integer or a non-empty list of integers for text_config.eos_token_id but found []');
  });

  it('refuses an image token id outside the vocabulary', () => {
    expect(hfError((c) => (c.image_token_index = 400))).to.equal('cfg.json: expected an id in [0, 320] (text_config.vocab_size is 320) for image_token_index but found 400');
  });
});

describe('model config errors: vision', () => {
  it('refuses a feature layer outside the tower', () => {
    expect(hfError((c) => (c.vision_feature_layer = -5))).to.equal(
      'cfg.json: expected an integer in [-4, 3] (the vision tower has 3 layers) for vision_feature_layer but found -5',
    );
  });

  it('refuses a list of feature layers', () => {
    expect(hfError((c) => (c.vision_feature_layer = [-2, -1]))).to.equal(
      'cfg.json: expected one integer (several concatenated layers are not supported) for vision_feature_layer but found [-2,-1]',
    );
  });

  it('refuses an unknown select strategy', () => {
    expect(hfError((c) => (c.vision_feature_select_strategy = 'cls'))).to.equal(
      'cfg.json: expected one of "default", "full" for vision_feature_select_strategy but found "cls"',
    );
  });

  it('refuses a vision tower that is not CLIP', () => {
    expect(hfError((c) => (c.vision_config.model_type = 'siglip_vision_model'))).to.equal(
      'cfg.json: expected one of "clip_vision_model" for vision_config.model_type but found "siglip_vision_model"',
    );
  });

  it('refuses an image size the patch does not divide', () => {
    expect(hfError((c) => (c.vision_config.image_size = 50))).to.equal('cfg.json: expected a multiple of patch_size (14) for vision_config.image_size but found 50');
  });

  it('refuses an unknown vision activation', () => {
    expect(hfError((c) => (c.vision_config.hidden_act = 'relu'))).to.equal(
      'cfg.json: expected one of "quick_gelu", "gelu", "gelu_pytorch_tanh" for vision_config.hidden_act but found "relu"',
    );
  });

  it('refuses a preprocessor crop that differs from the tower input', () => {
    expect(hfError(() => {}, { preprocessor: { json: { crop_size: { height: 224, width: 224 } }, source: 'pre.json' } })).to.equal(
      'cfg.json: expected vision_config.image_size to equal the crop size of pre.json (224) but found 56',
    );
  });

  it('refuses a non-square crop, a plain resize and an unknown resample filter', () => {
    const pre = (json: unknown) => ({ preprocessor: { json, source: 'pre.json' } });
    expect(hfError(() => {}, pre({ crop_size: { height: 56, width: 60 } }))).to.equal('pre.json: expected a square crop (height equal to width) for crop_size but found {"height":56,"width":60}');
    expect(hfError(() => {}, pre({ size: { height: 56, width: 56 } }))).to.equal('pre.json: expected {"shortest_edge": n} for size but found {"height":56,"width":56}');
    expect(hfError(() => {}, pre({ resample: 0 }))).to.equal('pre.json: expected 2 (bilinear) or 3 (bicubic) for resample but found 0');
    expect(hfError(() => {}, pre({ image_std: [0.2, 0, 0.2] }))).to.equal('pre.json: expected a list of 3 positive numbers for image_std but found [0.2,0,0.2]');
  });
});

describe('model config errors: original layout', () => {
  it('requires mm_vision_select_layer', () => {
    expect(originalError((c) => delete c.mm_vision_select_layer)).to.equal('orig.json: expected an integer for mm_vision_select_layer but found nothing (the field is missing)');
  });

  it('refuses an unknown projector type', () => {
    expect(originalError((c) => (c.mm_projector_type = 'mlp3x_gelu'))).to.equal(
      'orig.json: expected one of "linear", "mlp2x_gelu" for mm_projector_type but found "mlp3x_gelu"',
    );
  });

  it('refuses an unknown select feature', () => {
    expect(originalError((c) => (c.mm_vision_select_feature = 'cls'))).to.equal(
      'orig.json: expected one of "patch", "cls_patch" for mm_vision_select_feature but found "cls"',
    );
  });

  it('refuses image start/end tokens', () => {
    expect(originalError((c) => (c.mm_use_im_start_end = true))).to.equal(
      'orig.json: expected false (image start/end tokens are not supported) for mm_use_im_start_end but found true',
    );
  });

  it('checks mm_hidden_size against the tower', () => {
    expect(originalError((c) => (c.mm_hidden_size = 768))).to.equal(
      'orig.json: expected the hidden_size of the vision tower in clip.json (1024) for mm_hidden_size but found 768',
    );
  });

  it('checks the feature layer against the tower', () => {
    expect(originalError((c) => (c.mm_vision_select_layer = 25))).to.equal(
      'orig.json: expected an integer in [-25, 24] (the vision tower has 24 layers) for mm_vision_select_layer but found 25',
    );
  });

  it('refuses a CLIP checkpoint of another kind', () => {
    expect(originalError(() => {}, (c) => (c.model_type = 'siglip'))).to.equal('clip.json: expected one of "clip", "clip_vision_model" for model_type but found "siglip"');
  });

  it('refuses an unknown image_aspect_ratio and malformed grid pinpoints', () => {
    expect(originalError((c) => (c.image_aspect_ratio = 'letterbox'))).to.equal(
      'orig.json: expected one of "square", "pad", "anyres" for image_aspect_ratio but found "letterbox"',
    );
    expect(
      originalError((c) => {
        c.image_aspect_ratio = 'anyres';
        c.image_grid_pinpoints = [[336, 672, 2]];
      }),
    ).to.equal('orig.json: expected a non-empty list of [height, width] pairs of positive integers for image_grid_pinpoints but found [[336,672,2]]');
  });
});
