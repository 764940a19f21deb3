// Training data of `stic toy pretrain`: conversations (single- and multi-turn, every question of a
// scene, describe turns with a caption phrasing), target masks that cover exactly the assistant
// turns, batches that are pure functions of (seed, step), pixels equal to the PNG files' through
// the engine's preprocessing, and the exact refusal of an over-long conversation.
// Legend: B scenes of a step, T tokens.
import { mkdtempSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { expect } from 'chai';

import { loadAndPreprocess, preprocessConfigFromVision } from '../../lib/data/preprocess.ts';
import { selectChatTemplate } from '../../lib/model/chat_template.ts';
import { tokenizerFromFiles } from '../../lib/model/tokenizer.ts';
import type { ChatEncoder } from '../../lib/train/collate.ts';
import { DRILL_QUESTION, drillPalette, drillScene } from '../../lib/toy/kind_drill.ts';
import { conversationFor, curriculumMaxShapes, scenePixels, stepScenes, tokenizeSample, toyBatch } from '../../lib/toy/pretrain_data.ts';
import { toyConfigJson, toyEngineConfig, toyPreprocessorJson } from '../../lib/toy/pretrain_model.ts';
import { renderScenePng } from '../../lib/toy/render.ts';
import { CAPTION_VARIANTS, DESCRIBE_PROMPTS, NAMING_TYPES, caption, questions, reasonedAnswer } from '../../lib/toy/text.ts';
import { buildToyModelTokenizer } from '../../lib/toy/toy_tokenizer.ts';
import { generateScene } from '../../lib/toy/world.ts';

const tok = buildToyModelTokenizer();
const config = toyEngineConfig(toyConfigJson(tok), toyPreprocessorJson());
const text = tokenizerFromFiles({ tokenizer: { json: tok.tokenizer, source: 'tokenizer.json' }, config: { json: tok.config, source: 'tokenizer_config.json' } });
const enc: ChatEncoder = { tokenizer: text, template: selectChatTemplate({ checkpoint: text.chatTemplate, family: 'llama' }), config };
const pre = preprocessConfigFromVision(config.vision);

describe('toy pretraining data', () => {
  it('conversations: a quarter single-turn, the rest every question of the scene once (one of the two existence questions), reproducible by (seed, scene)', () => {
    let single = 0;
    let existsYes = 0;
    for (let i = 0; i < 200; i++) {
      const scene = generateScene(5, i);
      const msgs = conversationFor(scene, 3);
      expect(msgs).to.deep.equal(conversationFor(scene, 3));
      expect(msgs[0].content.startsWith('<image>\n')).to.equal(true);
      expect(msgs.slice(1).every((m) => !m.content.includes('<image>'))).to.equal(true);
      const asked = msgs.filter((m) => m.role === 'user').map((m) => m.content.replace('<image>\n', ''));
      const qa = questions(scene);
      if (asked.length === 1) {
        single++;
        continue;
      }
      // Every question but one of the two existence ones.
      expect(asked.length).to.equal(qa.length - 1);
      const exists = qa.filter((x) => x.type === 'exists');
      expect(exists.filter((q) => asked.includes(q.question))).to.have.length(1);
      existsYes += asked.includes(exists.find((q) => q.answer === 'yes')!.question) ? 1 : 0;
      // Every short question asked exactly once with its canonical answer; the describe turn with a caption phrasing.
      for (const q of qa.filter((x) => x.type !== 'describe' && asked.includes(x.question))) {
        const k = asked.indexOf(q.question);
        expect(k, q.id).to.be.at.least(0);
        expect(msgs[2 * k + 1].content).to.equal(q.answer);
      }
      const d = asked.findIndex((a) => (DESCRIBE_PROMPTS as readonly string[]).includes(a));
      expect(Array.from({ length: CAPTION_VARIANTS }, (_, v) => caption(scene, v))).to.include(msgs[2 * d + 1].content);
    }
    expect(single).to.be.within(30, 70); // 200 x 0.25 = 50
    expect(existsYes).to.be.within(50, 100); // ~150 multi-turn conversations, half keep the "yes" question
  });

  it('existsTurns 2: a multi-turn conversation asks both existence questions (the yes/no pair)', () => {
    for (let i = 0; i < 20; i++) {
      const scene = generateScene(5, i);
      const asked = conversationFor(scene, 3, 0, 2).filter((m) => m.role === 'user').map((m) => m.content.replace('<image>\n', ''));
      expect(asked.length).to.equal(questions(scene).length);
      for (const q of questions(scene).filter((x) => x.type === 'exists')) expect(asked, q.id).to.include(q.question);
    }
  });

  it('reasoned: the questions that name a shape get their reasoned answer, the others theirs; a six-shape conversation fits the model', () => {
    let longest = 0;
    for (let i = 0; i < 100; i++) {
      const scene = generateScene(6, i, { minShapes: 6, maxShapes: 6 });
      const msgs = conversationFor(scene, 3, 0, 1, true);
      const byQuestion = new Map(questions(scene).map((q) => [q.question, q]));
      for (let k = 0; k < msgs.length; k += 2) {
        const q = byQuestion.get(msgs[k].content.replace('<image>\n', ''));
        if (q === undefined || q.type === 'describe') continue; // describe turns draw their own prompt and phrasing
        expect(msgs[k + 1].content, q.id).to.equal(NAMING_TYPES.includes(q.type) ? reasonedAnswer(scene, q) : q.answer);
      }
      expect(msgs.map((m) => m.content)).to.deep.equal(conversationFor(scene, 3, 0, 1, false).map((m, j) => (j % 2 === 1 ? msgs[j].content : m.content)));
      longest = Math.max(longest, tokenizeSample(enc, scene, msgs, config.decoder.maxPositionEmbeddings).ids.length);
    }
    expect(longest).to.be.within(300, config.decoder.maxPositionEmbeddings);
  });

  it('the target mask covers each assistant answer and its </s>, nothing else', () => {
    const scene = generateScene(2, 7);
    const msgs = conversationFor(scene, 0, 0);
    const s = tokenizeSample(enc, scene, msgs, 512);
    const masked = Array.from(s.ids).filter((_, t) => s.mask[t]);
    const answers = msgs.filter((m) => m.role === 'assistant').map((m) => m.content);
    expect(text.decode(masked)).to.equal(answers.map((a) => ` ${a}</s>`).join('').trimStart());
    expect(s.targets).to.equal(masked.length);
    expect(Array.from(s.ids).filter((id) => id === config.imageTokenId)).to.have.length(config.imageTokenCount);
  });

  it('refuses a conversation longer than the model positions, naming the scene', () => {
    const scene = generateScene(2, 7);
    expect(() => tokenizeSample(enc, scene, conversationFor(scene, 0, 0), 50)).to.throw(
      /^scene toy-2-7: expected a conversation of at most 50 tokens \(the model's max_position_embeddings\) but it has \d+$/,
    );
  });

  it('a step is a pure function of (seed, step): fresh scenes every step, the same batch on a rerun', async () => {
    const o = { seed: 4, batchSize: 3 };
    expect(stepScenes(o, 2).map((s) => s.id)).to.deep.equal(['toy-4-6', 'toy-4-7', 'toy-4-8']);
    const [a, b] = [await toyBatch(o, 2, enc, pre, 512), await toyBatch(o, 2, enc, pre, 512)];
    expect(a.items).to.deep.equal(b.items);
    expect(Buffer.from(a.pixels.buffer).equals(Buffer.from(b.pixels.buffer))).to.equal(true);
    expect(a.targets).to.equal(a.samples.reduce((n, s) => n + s.targets, 0));
    expect(a.items.map((it) => it.images)).to.deep.equal([[0], [1], [2]]);
  });

  it('footholds: the last round(F x B) scenes of a step are one-shape scenes asked a foothold question, the answer true of the scene', async () => {
    const o = { seed: 4, batchSize: 8, footholds: 0.5 };
    const forms = new Set<string>();
    for (let step = 0; step < 12; step++) {
      const batch = await toyBatch(o, step, enc, pre, 512);
      batch.samples.forEach((s, i) => {
        if (i < 4) {
          expect(s.messages.length, s.scene.id).to.be.at.least(2); // an ordinary conversation
          return;
        }
        expect(s.scene.shapes, s.scene.id).to.have.length(1);
        expect(s.messages).to.have.length(2);
        const q = s.messages[0].content.replace('<image>\n', '');
        const a = s.messages[1].content;
        const kind = s.scene.shapes[0].kind;
        const asked = /(?:a|an) (\w+)\?$/.exec(q)?.[1];
        if (q === 'What shape is this?') expect(a).to.equal(kind);
        else if (q.startsWith('Repeat: is there ')) expect(a).to.equal(asked);
        else {
          expect(q).to.match(/^Is there an? \w+\?$/);
          expect(a).to.equal(asked === kind ? 'yes' : 'no');
        }
        forms.add(q.startsWith('Repeat') ? 'repeat' : q.startsWith('What') ? 'kind' : `exists-${a}`);
      });
    }
    expect([...forms].sort()).to.deep.equal(['exists-no', 'exists-yes', 'kind', 'repeat']);
    // Pure function of (seed, step), and none without the option.
    expect((await toyBatch(o, 3, enc, pre, 512)).items).to.deep.equal((await toyBatch(o, 3, enc, pre, 512)).items);
    expect(stepScenes({ seed: 4, batchSize: 8 }, 3).map((s) => s.shapes.length).some((n) => n > 1)).to.equal(true);
  });

  it('kind items: every scene asked "Is there a <kind>?", a true verdict on each shape by its kind, then the true answer', async () => {
    const o = { seed: 6, batchSize: 8, kindItems: true };
    let yes = 0;
    let asked = 0;
    for (let step = 0; step < 25; step++) {
      const batch = await toyBatch(o, step, enc, pre, 512);
      for (const s of batch.samples) {
        expect(s.messages).to.have.length(2);
        const q = s.messages[0].content;
        const kind = /^<image>\nIs there an? (\w+)\?$/.exec(q)?.[1] as string;
        expect(kind, q).to.be.a('string');
        const kinds = s.scene.shapes.map((x) => x.kind);
        const items = kinds.map((k) => `a ${k}: ${k === kind ? 'yes' : 'no'}`).join(', ');
        expect(s.messages[1].content, s.scene.id).to.equal(`${items}, so ${kinds.includes(kind as never) ? 'yes' : 'no'}`);
        yes += Number(kinds.includes(kind as never));
        asked += 1;
      }
    }
    expect(yes / asked).to.be.within(0.4, 0.65); // a kind of the scene half the time (or when it lacks none)
    // Pure function of (seed, step); one sample's conversation from the same (seed, scene) again.
    expect((await toyBatch(o, 3, enc, pre, 512)).items).to.deep.equal((await toyBatch(o, 3, enc, pre, 512)).items);
  });

  it('the curriculum grows scenes from at most 2 shapes to 6 over its share of the run', () => {
    const o = { seed: 4, batchSize: 8, curriculum: 0.5, totalSteps: 800 };
    // 2 + floor(4 s / 400): one more shape every 100 steps, all 6 from step 400.
    expect([0, 99, 100, 250, 399, 400, 799].map((s) => curriculumMaxShapes(o, s))).to.deep.equal([2, 2, 3, 4, 5, 6, 6]);
    expect(curriculumMaxShapes({ seed: 4, batchSize: 8 }, 0)).to.equal(6);
    for (const step of [0, 150, 600]) {
      const max = curriculumMaxShapes(o, step);
      expect(Math.max(...stepScenes(o, step).map((s) => s.shapes.length)), `step ${step}`).to.be.at.most(max);
    }
  });

  it('the kind drill: one-shape scenes asked their kind, the palette widening from white on black to the world', async () => {
    expect([0, 19, 20, 39, 40, 99].map((s) => drillPalette(s, 100))).to.deep.equal(['mono', 'mono', 'black', 'black', 'world', 'world']);
    for (let i = 0; i < 40; i++) {
      const world = generateScene(5, i, { maxShapes: 1 });
      const mono = drillScene(5, i, 'mono');
      const black = drillScene(5, i, 'black');
      expect(drillScene(5, i, 'world')).to.deep.equal(world);
      expect([mono.background, mono.shapes[0].colour]).to.deep.equal(['black', 'white']);
      expect(black.background).to.equal('black');
      expect(black.shapes[0].colour).to.equal(world.shapes[0].colour === 'black' ? 'white' : world.shapes[0].colour);
      for (const s of [mono, black]) {
        const { colour, ...place } = s.shapes[0];
        expect(colour).to.not.equal(undefined);
        expect(place).to.deep.equal((({ colour: _, ...p }) => p)(world.shapes[0]));
        expect(s.id).to.not.equal(world.id);
      }
    }
    // Drill steps 0-9 of 10, then conversations whose shape-count curriculum starts after the drill.
    const o = { seed: 4, batchSize: 4, curriculum: 0.5, totalSteps: 410, drillSteps: 10 };
    const batch = await toyBatch(o, 3, enc, pre, 512);
    expect(batch.samples.map((x) => x.scene.shapes.length)).to.deep.equal([1, 1, 1, 1]);
    for (const x of batch.samples) {
      expect(x.messages).to.deep.equal([{ role: 'user', content: `<image>\n${DRILL_QUESTION}` }, { role: 'assistant', content: x.scene.shapes[0].kind }]);
      const answer = text.decode(Array.from(x.ids).filter((_, t) => x.mask[t] === 1));
      expect(answer.replace('</s>', '').trim()).to.equal(x.scene.shapes[0].kind);
    }
    // 400 conversation steps, ramp 200: one more shape every 50 steps after the drill.
    expect([10, 59, 60, 160, 210].map((s) => curriculumMaxShapes(o, s))).to.deep.equal([2, 2, 3, 5, 6]);
    const after = await toyBatch(o, 10, enc, pre, 512);
    expect(after.samples.every((x) => x.messages.length >= 2 && x.messages[0].content !== `<image>\n${DRILL_QUESTION}`)).to.equal(true);
  });

  it('pixels equal those of the rendered PNG files through the engine preprocessing', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'stic-toy-px-'));
    try {
      const scenes = [generateScene(8, 0), generateScene(8, 1)];
      const files = await Promise.all(scenes.map(async (s) => {
        const f = path.join(dir, `${s.id}.png`);
        await writeFile(f, await renderScenePng(s, 84));
        return f;
      }));
      const fromPng = await loadAndPreprocess(files, pre);
      const direct = await scenePixels(scenes, pre);
      expect(fromPng.failures).to.deep.equal([]);
      expect(Buffer.from(direct.buffer).equals(Buffer.from(fromPng.pixels.buffer))).to.equal(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
