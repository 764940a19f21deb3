// Examples -> ids: DPO pairs tokenised exactly as `stic pref --ref-logps` scores them (so stored
// reference log-probs match), SFT masks covering exactly the assistant turns, skips with reasons,
// the data order, and per-step image loading.
import { expect } from 'chai';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import type { ChatModel } from '../../lib/engine/chat_input.ts';
import { userPromptIds } from '../../lib/engine/chat_input.ts';
import { randomLlavaConfigJson } from '../../lib/engine/random_model.ts';
import { parseModelConfig } from '../../lib/model/config.ts';
import { selectChatTemplate } from '../../lib/model/chat_template.ts';
import { loadTokenizer } from '../../lib/model/tokenizer.ts';
import { responseTokenIds } from '../../lib/stic/engine_adapters.ts';
import { type ChatEncoder, StepImages, conversationIds, tokenizePairs, tokenizeSft } from '../../lib/train/collate.ts';
import { DataOrder } from '../../lib/train/data_order.ts';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

function encoder(templateOverride?: string): { enc: ChatEncoder; chat: ChatModel } {
  const tokenizer = loadTokenizer(path.join(repo, 'test/fixtures/hf/tokenizer-llama-style'));
  const json = randomLlavaConfigJson({
    vision: { imageSize: 28, patchSize: 14, hiddenSize: 32, intermediateSize: 48, numLayers: 2, numHeads: 2 },
    decoder: { family: 'llama', hiddenSize: 48, intermediateSize: 96, numLayers: 2, numHeads: 4, numKvHeads: 2, vocabSize: 421 },
  });
  const config = parseModelConfig(json, '/models/tiny/config.json');
  const template = selectChatTemplate({ checkpoint: tokenizer.chatTemplate, family: 'llama', override: templateOverride });
  const chat = { tokenizer, template, model: { config, dir: '/models/tiny' } } as unknown as ChatModel;
  return { enc: { tokenizer, template, config }, chat };
}

describe('collation', () => {
  it('DPO pairs: the same prompt and response ids as stic pref scores (reference log-probs line up)', () => {
    const { enc, chat } = encoder();
    const prompt = [{ role: 'user' as const, content: '<image>\nDescribe the image in detail.' }];
    const { examples, skips } = tokenizePairs(enc, [{ id: 'a', image: '/i/a.png', prompt, chosen: 'A red ball on grass.', rejected: 'Two dogs and a cat.', refChosenLogp: -3.5, refRejectedLogp: -7.25 }], 2048);
    expect(skips).to.deep.equal([]);
    const e = examples[0];
    expect(Array.from(e.promptIds)).to.deep.equal(userPromptIds(chat, 'Describe the image in detail.', true));
    expect(Array.from(e.chosenIds)).to.deep.equal(responseTokenIds(chat, 'A red ball on grass.'));
    expect(Array.from(e.rejectedIds)).to.deep.equal(responseTokenIds(chat, 'Two dogs and a cat.'));
    expect(e.promptIds.filter((id) => id === 420)).to.have.length(4); // (28 / 14)^2 image tokens
    expect(e.chosenIds[e.chosenIds.length - 1]).to.equal(2); // EOS ends every response
    expect([e.image, e.refChosen, e.refRejected]).to.deep.equal(['/i/a.png', -3.5, -7.25]);
  });

  it('DPO pairs: a prompt without the image token trains without the image; two images are skipped', () => {
    const { enc } = encoder();
    const pair = (id: string, content: string, chosen = 'yes') => ({ id, image: `/i/${id}.png`, prompt: [{ role: 'user' as const, content }], chosen, rejected: 'no' });
    const { examples, skips, truncated } = tokenizePairs(enc, [pair('plain', 'Describe it.'), pair('two', '<image> and <image>')], 40);
    expect(examples.map((e) => [e.id, e.image, e.index])).to.deep.equal([['plain', null, 0]]);
    expect(examples[0].refChosen).to.equal(undefined);
    expect(skips).to.deep.equal([{ id: 'two', kind: 'several images', reason: 'expected at most one <image> in the prompt (one image per pair) but found 2' }]);
    expect(truncated).to.deep.equal([]);
  });

  // Issue 19: pairs over --max-length were skipped (10 of 11 in a real run) while the summary said
  // "no records skipped"; TRL truncates the response tail instead (truncation_mode keep_start).
  it('DPO pairs over --max-length keep the whole prompt and the start of each response; stored reference log-probs are dropped', () => {
    const { enc } = encoder();
    const prompt = [{ role: 'user' as const, content: '<image>\nDescribe.' }];
    const long = 'word '.repeat(40);
    const ex = { id: 'long', image: '/i/l.png', prompt, chosen: long, rejected: 'no', refChosenLogp: -50, refRejectedLogp: -3 };
    const full = tokenizePairs(enc, [ex], 2048).examples[0];
    const { examples, skips, truncated } = tokenizePairs(enc, [ex], 40);
    expect(skips).to.deep.equal([]);
    const e = examples[0];
    const room = 40 - e.promptIds.length;
    expect(Array.from(e.promptIds)).to.deep.equal(Array.from(full.promptIds)); // image tokens and question intact
    expect(Array.from(e.chosenIds)).to.deep.equal(Array.from(full.chosenIds.slice(0, room)));
    expect(Array.from(e.rejectedIds)).to.deep.equal(Array.from(full.rejectedIds)); // short enough already
    expect(truncated).to.deep.equal([{ id: 'long', tokens: full.promptIds.length + full.chosenIds.length }]);
    expect([e.refChosen, e.refRejected, full.refChosen]).to.deep.equal([undefined, undefined, -50]);
    const tiny = tokenizePairs(enc, [ex], full.promptIds.length);
    expect(tiny.examples).to.deep.equal([]);
    expect(tiny.skips).to.deep.equal([{ id: 'long', kind: 'prompt too long', reason: `expected a prompt shorter than --max-length ${full.promptIds.length} tokens, leaving room for the answer, but it has ${full.promptIds.length} (image tokens included)` }]);
  });

  for (const template of [undefined, 'vicuna_v1', 'mistral_instruct']) {
    it(`SFT: the mask covers exactly the assistant turns (${template ?? 'the checkpoint\'s template'})`, () => {
      const { enc } = encoder(template);
      const messages = [
        { role: 'user' as const, content: '<image>\nWhat colour is the ball?' },
        { role: 'assistant' as const, content: 'It is red.' },
        { role: 'user' as const, content: 'And the grass?' },
        { role: 'assistant' as const, content: 'Green and short.' },
      ];
      const { ids, mask } = conversationIds(enc, messages);
      expect(mask.length).to.equal(ids.length);
      const spans: number[][] = [];
      mask.forEach((m, t) => {
        if (m && !mask[t - 1]) spans.push([]);
        if (m) spans[spans.length - 1].push(ids[t]);
      });
      expect(spans).to.have.length(2);
      const text = spans.map((s) => enc.tokenizer.decode(s, { skipSpecialTokens: false }));
      expect(text[0]).to.match(/^\s*It is red\.\s*<\/s>$/);
      expect(text[1]).to.match(/^\s*Green and short\.\s*<\/s>$/);
      // Everything before the first answer (image tokens included) is context.
      const firstTarget = mask.indexOf(1);
      expect(ids.slice(0, firstTarget).filter((id) => id === 420)).to.have.length(4);
    });
  }

  it('SFT: text-only samples, skips for image-token mismatches and no answer; long ones cut at the end', () => {
    const { enc } = encoder();
    const sample = (id: string, content: string, image?: string, answer = 'Sure.') => ({ id, ...(image ? { image } : {}), messages: [{ role: 'user' as const, content }, { role: 'assistant' as const, content: answer }] });
    const long = sample('long', 'Tell me everything', undefined, 'word '.repeat(60));
    const { examples, skips, truncated } = tokenizeSft(enc, [
      sample('text', 'Hello there'),
      sample('img', '<image>\nWhat is it?', '/i/x.png'),
      sample('lost', 'What is it?', '/i/y.png'),
      { id: 'none', messages: [{ role: 'user' as const, content: 'Hi' }] },
      long,
    ], 50);
    expect(examples.map((e) => [e.id, e.image, e.targets > 0])).to.deep.equal([['text', null, true], ['img', '/i/x.png', true], ['long', null, true]]);
    expect(examples[0].targets).to.equal(examples[0].mask.reduce((a, b) => a + b, 0));
    expect(skips.map((s) => [s.id, s.kind])).to.deep.equal([['lost', 'image token mismatch'], ['none', 'no answer']]);
    expect(skips[0].reason).to.equal('expected one <image> in the conversation (one image per sample) but found 0');
    expect(skips[1].reason).to.equal('expected at least one assistant token to train on but found none');
    const full = conversationIds(enc, long.messages);
    const cut = examples[2];
    expect(Array.from(cut.ids)).to.deep.equal(full.ids.slice(0, 50));
    expect(Array.from(cut.mask)).to.deep.equal(Array.from(full.mask.slice(0, 50)));
    expect(cut.targets).to.equal(full.mask.slice(0, 50).reduce((a, b) => a + b, 0));
    expect(truncated).to.deep.equal([{ id: 'long', tokens: full.ids.length }]);
  });

  it('SFT over --max-length: skipped, with the reason, when the cut falls inside the image tokens or before the first answer', () => {
    const { enc } = encoder();
    const messages = [{ role: 'user' as const, content: `<image>\n${'Tell me more. '.repeat(8)}` }, { role: 'assistant' as const, content: 'Sure.' }];
    const full = conversationIds(enc, messages);
    const firstImage = full.ids.indexOf(420);
    const firstAnswer = full.mask.indexOf(1);
    const r = tokenizeSft(enc, [{ id: 'a', image: '/i/a.png', messages }], firstImage + 2);
    expect(r.skips).to.deep.equal([{ id: 'a', kind: 'too long', reason: `expected the image tokens within --max-length ${firstImage + 2} tokens but they end at token ${full.ids.lastIndexOf(420) + 1} of ${full.ids.length}` }]);
    const q = tokenizeSft(enc, [{ id: 'b', image: '/i/b.png', messages }], firstAnswer);
    expect(q.skips).to.deep.equal([{ id: 'b', kind: 'too long', reason: `expected an assistant token within the first ${firstAnswer} tokens (--max-length) but the first answer starts at token ${firstAnswer + 1} of ${full.ids.length}` }]);
  });

  it('data order: every epoch a seeded permutation, steps of the global batch split into micro-batches', () => {
    const o = new DataOrder({ examples: 10, batchSize: 4, gradAccum: 2, epochs: 3, seed: 11 });
    expect([o.stepsPerEpoch, o.totalSteps, o.microSize]).to.deep.equal([3, 9, 2]);
    for (let e = 0; e < 3; e++) {
      const seen = [0, 1, 2].flatMap((k) => o.step(e * 3 + k).micro.flat());
      expect([...seen].sort((a, b) => a - b)).to.deep.equal([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      expect(o.step(e * 3 + 2).micro).to.have.length(1); // the epoch's last 2 examples
    }
    expect(Array.from(o.permutation(0))).to.not.deep.equal(Array.from(o.permutation(1)));
    const again = new DataOrder({ examples: 10, batchSize: 4, gradAccum: 2, epochs: 3, seed: 11 });
    expect(again.step(4)).to.deep.equal(o.step(4));
    const other = new DataOrder({ examples: 10, batchSize: 4, gradAccum: 2, epochs: 3, seed: 12 });
    expect(Array.from(other.permutation(0))).to.not.deep.equal(Array.from(o.permutation(0)));
    expect(o.position(4)).to.deep.equal({ epoch: 1, index: 4 });
    expect(o.position(9)).to.deep.equal({ epoch: 3, index: 0 });
    expect(() => new DataOrder({ examples: 10, batchSize: 4, gradAccum: 3, epochs: 1, seed: 0 })).to.throw('Expected gradAccum to divide batchSize (4) but received 3');
  });

  it('step images: each distinct file loaded once, micro-batches get their own images in order of appearance', async () => {
    const calls: string[][] = [];
    const loader = async (files: string[]) => {
      calls.push(files);
      const images = files.map((f) => ({ pixels: Float32Array.from([f.length, f.length + 0.5]), layout: null, tokens: 4 }));
      return { images, rows: files.map((_, i) => i), failures: [] };
    };
    const imgs = await StepImages.load(['/a.png', '/bb.png', null, '/a.png'], loader);
    expect(calls).to.deep.equal([['/a.png', '/bb.png']]);
    const g = imgs.gather(['/bb.png', null, '/a.png', '/bb.png']);
    expect(g.layouts.map((l) => l.crops)).to.deep.equal([1, 1]);
    expect(Array.from(g.pixels)).to.deep.equal([7, 7.5, 6, 6.5]);
    expect(g.images).to.deep.equal([[0], [], [1], [0]]);
  });
});
