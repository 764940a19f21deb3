// Parameter counts from the config must equal the element counts of the real checkpoints.
import { expect } from 'chai';
import path from 'node:path';

import { loadModelConfig } from '../../lib/model/config.ts';
import { ALL_LORA_TARGETS, countLoraParams, countParams, estimateDpoMemory, formatBytes, kvBytesPerToken } from '../../lib/model/memory_estimate.ts';
import { openCheckpoint } from '../../lib/model/safetensors.ts';
import { packageRoot } from '../../lib/native/index.ts';

const fixtures = path.join(packageRoot, 'test', 'fixtures', 'hf');

describe('memory estimate', () => {
  for (const name of ['llava-tiny-llama', 'llava-tiny-mistral-gqa', 'llava-tiny-llama-fullfeat-lastlayer', 'llava-next-tiny-mistral']) {
    it(`counts exactly the parameters stored in ${name}/model.safetensors`, async () => {
      const dir = path.join(fixtures, name);
      const config = loadModelConfig(dir);
      const ckpt = await openCheckpoint(path.join(dir, 'model.safetensors'));
      let vision = 0;
      let projector = 0;
      let imageNewline = 0;
      let decoder = 0;
      for (const t of ckpt.tensors.values()) {
        const n = t.shape.reduce((a, b) => a * b, 1);
        if (t.name.startsWith('vision_tower.')) vision += n;
        else if (t.name.startsWith('multi_modal_projector.')) projector += n;
        else if (t.name === 'image_newline') imageNewline += n;
        else decoder += n;
      }
      const counts = countParams(config);
      expect(counts).to.deep.equal({ vision, projector, imageNewline, decoder, total: vision + projector + imageNewline + decoder });
    });
  }

  it('counts LoRA parameters like PEFT does (r x (in + out) per module)', async () => {
    const dir = path.join(fixtures, 'llava-tiny-mistral-gqa');
    const config = loadModelConfig(dir);
    const adapter = await openCheckpoint(path.join(fixtures, 'llava-tiny-llama', 'adapter', 'adapter_model.safetensors'));
    let stored = 0;
    for (const t of adapter.tensors.values()) stored += t.shape.reduce((a, b) => a * b, 1);
    const llama = loadModelConfig(path.join(fixtures, 'llava-tiny-llama'));
    expect(countLoraParams(llama, 4, ALL_LORA_TARGETS)).to.equal(stored);
    // GQA: k/v are 2 heads x 16 = 32 wide: r * ((64+64)*2 + (64+32)*2 + (64+136)*3) per layer, 3 layers.
    expect(countLoraParams(config, 4)).to.equal(4 * (128 * 2 + 96 * 2 + 200 * 3) * 3);
  });

  it('sizes the KV cache and a DPO step, and formats bytes', () => {
    const config = loadModelConfig(path.join(fixtures, 'llava-tiny-llama'));
    expect(kvBytesPerToken(config, 2)).to.equal(2 * 2 * 4 * 16 * 2);
    const est = estimateDpoMemory(config, { bytesPerValue: 4, loraRank: 4, trainProjector: true, pairsPerStep: 1, seqLen: 100 });
    const p = countParams(config);
    expect(est.trainable).to.equal(countLoraParams(config, 4) + p.projector);
    expect(est.weights).to.equal(p.total * 4);
    expect(est.optimizerState).to.equal(est.trainable * 8);
    expect(est.total).to.equal(est.weights + est.gradients + est.optimizerState + est.activations);
    expect(formatBytes(1536)).to.equal('1.50 KiB');
    expect(formatBytes(7 * 1024 ** 3)).to.equal('7.00 GiB');
  });
});

describe('memory estimate at LLaVA-1.5-7B scale', () => {
  it('counts the 7,063,427,072 parameters of llava-1.5-7b-hf from its hub config', () => {
    const config = loadModelConfig(path.join(packageRoot, 'test', 'fixtures', 'configs', 'llava-1.5-hub-style'));
    const p = countParams(config);
    expect(p.vision).to.equal(303_507_456); // CLIP ViT-L/14-336 vision model
    expect(p.total).to.equal(7_063_427_072);
    // STIC's LoRA: r=128 on all seven linears of 32 layers.
    expect(countLoraParams(config, 128)).to.equal(128 * (4096 * 2 * 4 + (4096 + 11008) * 3) * 32);
  });
});

describe('memory estimate at LLaVA-NeXT-7B scale', () => {
  it('counts the 7,566,747,648 parameters of llava-v1.6-mistral-7b-hf from its hub config', () => {
    const config = loadModelConfig(path.join(packageRoot, 'test', 'fixtures', 'configs', 'llava-1.6-mistral-hub-style'));
    const p = countParams(config);
    // Mistral-7B-v0.2 with the 32064-token vocabulary (embeddings and lm_head), CLIP ViT-L/14-336,
    // the 1024 -> 4096 -> 4096 projector and the 4096-wide image_newline: the hub's safetensors total.
    expect(p.decoder).to.equal(7_241_732_096 + 2 * 64 * 4096);
    expect(p.vision).to.equal(303_507_456);
    expect(p.projector).to.equal(1024 * 4096 + 4096 + 4096 * 4096 + 4096);
    expect(p.imageNewline).to.equal(4096);
    expect(p.total).to.equal(7_566_747_648);
  });
});
