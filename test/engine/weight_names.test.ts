// The original LLaVA layout end to end: the llava-tiny-llama fixture rewritten as haotian-liu/LLaVA
// saves it (model.* / lm_head / model.mm_projector.{0,2}, config.json of LlavaLlamaForCausalLM) with
// the tower in a separate CLIP checkpoint (vision_model.*) or inside the model file, must give the
// transformers logits. The original layout marks image positions with vocabSize (see
// engine_config.ts), so the fixture ids' 319s become 320s.
import { expect } from 'chai';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { checkpointNames, loadModel } from '../../lib/engine/index.ts';
import { openCheckpoint, readTensors, writeSafetensors } from '../../lib/model/safetensors.ts';
import { type Fixture, loadFixture, relError } from './fixture_util.ts';

function originalName(hfName: string, towerPrefix: string): string {
  return hfName
    .replace(/^language_model\.model\./, 'model.')
    .replace(/^language_model\.lm_head\./, 'lm_head.')
    .replace(/^multi_modal_projector\.linear_1\./, 'model.mm_projector.0.')
    .replace(/^multi_modal_projector\.linear_2\./, 'model.mm_projector.2.')
    .replace(/^vision_tower\./, towerPrefix);
}

/** Writes an original-layout model (and its CLIP directory) from the fixture; returns the model dir. */
async function writeOriginal(fx: Fixture, root: string, towerInside: boolean): Promise<string> {
  const modelDir = path.join(root, 'llava');
  const clipDir = path.join(root, 'clip');
  mkdirSync(modelDir);
  mkdirSync(clipDir);
  const ck = await openCheckpoint(path.join(fx.dir, 'model.safetensors'));
  const names = [...ck.tensors.keys()].filter((n) => !n.startsWith('vision_tower.post_layernorm'));
  const data = await readTensors(names.map((n) => ck.tensors.get(n)!));
  const tensors = names.map((n, i) => ({ n, dtype: ck.tensors.get(n)!.dtype, shape: ck.tensors.get(n)!.shape, data: data[i] }));
  const isTower = (n: string) => n.startsWith('vision_tower.');
  const towerPrefix = towerInside ? 'model.vision_tower.vision_tower.vision_model.' : 'vision_model.';
  const write = (file: string, list: typeof tensors) =>
    writeSafetensors(file, list.map((t) => ({ name: originalName(t.n, towerPrefix), dtype: t.dtype, shape: t.shape, data: t.data })));
  await write(path.join(modelDir, 'model.safetensors'), towerInside ? tensors : tensors.filter((t) => !isTower(t.n)));
  if (!towerInside) await write(path.join(clipDir, 'model.safetensors'), tensors.filter((t) => isTower(t.n)));
  writeFileSync(
    path.join(clipDir, 'config.json'),
    JSON.stringify({ model_type: 'clip_vision_model', hidden_size: 32, intermediate_size: 64, num_attention_heads: 4, num_hidden_layers: 3, patch_size: 14, image_size: 56, hidden_act: 'quick_gelu', layer_norm_eps: 1e-5 }),
  );
  writeFileSync(
    path.join(modelDir, 'config.json'),
    JSON.stringify({
      architectures: ['LlavaLlamaForCausalLM'], model_type: 'llava_llama', hidden_size: 64, intermediate_size: 136, num_attention_heads: 4,
      num_key_value_heads: 4, num_hidden_layers: 2, vocab_size: 320, rms_norm_eps: 1e-5, rope_theta: 10000, max_position_embeddings: 512,
      bos_token_id: 1, eos_token_id: 2, pad_token_id: 0, tie_word_embeddings: false, mm_vision_tower: clipDir, mm_hidden_size: 32,
      mm_projector_type: 'mlp2x_gelu', mm_vision_select_layer: -2, mm_vision_select_feature: 'patch', image_aspect_ratio: 'square',
      mm_use_im_start_end: false,
    }),
  );
  return modelDir;
}

describe('weight names: original LLaVA layout', () => {
  let fx: Fixture;
  let root: string;
  before(async () => {
    fx = await loadFixture('llava-tiny-llama');
    root = mkdtempSync(path.join(tmpdir(), 'stic-original-'));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  for (const towerInside of [false, true]) {
    it(`matches transformers with the tower ${towerInside ? 'inside the model file' : 'in a separate CLIP checkpoint'}`, async () => {
      const dir = await writeOriginal(fx, mkdtempSync(path.join(root, 'm-')), towerInside);
      const model = await loadModel(dir);
      expect(model.config.weights.naming).to.equal('llava-original');
      expect(model.config.imageTokenId).to.equal(320);
      const toOriginal = (ids: number[]) => ids.map((id) => (id === 319 ? 320 : id));
      const logits = await model.fullLogits(fx.items.map((it, i) => ({ ids: toOriginal(it.chosen), image: fx.images[i] })));
      logits.forEach((l, i) => expect(relError(l, fx.expectedF32(`logits_chosen_${i}`)), `item ${i}`).to.be.below(1e-5));
      const [scored] = await model.logprobs([{ promptIds: toOriginal(fx.items[1].prompt), responseIds: fx.items[1].rejected.slice(24), image: fx.images[1] }]);
      expect(Math.abs(scored.sum - fx.expectedF32('sum_logp_rejected_1')[0])).to.be.below(1e-4);
    });
  }

  it('maps a linear projector and the language model names', () => {
    const original = { weights: { naming: 'llava-original' as const, visionTowerPath: '/clip' }, projector: { type: 'linear' as const, act: 'gelu' as const, bias: true } };
    expect(checkpointNames('multi_modal_projector.linear_1.weight', original)).to.deep.equal(['model.mm_projector.weight']);
    expect(checkpointNames('language_model.lm_head.weight', original)).to.deep.equal(['lm_head.weight']);
    expect(checkpointNames('language_model.model.layers.3.self_attn.q_proj.weight', original)).to.deep.equal(['model.layers.3.self_attn.q_proj.weight']);
    expect(checkpointNames('vision_tower.pre_layrnorm.bias', original)).to.deep.equal([
      'vision_model.pre_layrnorm.bias',
      'model.vision_tower.vision_tower.vision_model.pre_layrnorm.bias',
    ]);
  });
});
