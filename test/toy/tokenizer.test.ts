// The toy tokenizer: the BPE trainer on a hand-checked corpus, and the built-in tokenizer written
// to disk and loaded through lib/model/tokenizer.ts — special tokens, whole toy words, exact round
// trips of every caption, question, answer and prompt, byte fallback for anything else.
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { builtinTemplate, chatPromptIds } from '../../lib/model/chat_template.ts';
import { type TextTokenizer, loadTokenizer } from '../../lib/model/tokenizer.ts';
import { DEFAULT_PROMPTS } from '../../lib/data/prompts.ts';
import { DESCRIBE_PROMPTS, captions, questions } from '../../lib/toy/text.ts';
import { TOY_SPECIAL_TOKENS, buildToyTokenizer, countWords, writeToyTokenizer } from '../../lib/toy/tokenizer_builder.ts';
import { TOY_CHAT_TEMPLATE, buildToyModelTokenizer, toyChatText } from '../../lib/toy/toy_tokenizer.ts';
import { BACKGROUND_NAMES, COLOUR_NAMES, KIND_PLURALS, NUMBER_WORDS, POSITIONS, SHAPE_KINDS, SIZES } from '../../lib/toy/vocab.ts';
import { generateScenes } from '../../lib/toy/world.ts';
import { makeRng } from '../helpers/rng.ts';

const SP = '\u2581';

describe('toy tokenizer: BPE training', () => {
  it('splits training text the way the pre-tokenizer will see it', () => {
    expect(Object.fromEntries(countWords(['Hi 12, <image>\nok ok', 'Hi']))).to.deep.equal({
      [`${SP}Hi`]: 2,
      [`${SP}1`]: 1,
      '2': 1,
      ',': 1,
      [SP]: 1,
      '\n': 1,
      ok: 1,
      [`${SP}ok`]: 1,
    });
  });

  it('learns the hand-computed merges and ids of a tiny corpus', () => {
    // Words ▁ab x2, ▁abc x1. Pairs: (▁,a) 3, (a,b) 3, (b,c) 1; the tie goes to "a b" (a < ▁).
    const tok = buildToyTokenizer({ corpus: [], wholeWordTexts: ['ab ab abc'], chatTemplate: 'T' });
    const model = tok.tokenizer.model as { merges: [string, string][]; vocab: Record<string, number> };
    expect(model.merges).to.deep.equal([['a', 'b'], [SP, 'ab'], [`${SP}ab`, 'c']]);
    const vocab = Object.entries(model.vocab).sort((x, y) => x[1] - y[1]).map(([t]) => t);
    expect(vocab.slice(0, 5)).to.deep.equal(['<unk>', '<s>', '</s>', '<0x00>', '<0x01>']);
    expect(vocab[258]).to.equal('<0xFF>');
    expect(vocab.slice(259)).to.deep.equal(['a', 'b', 'c', SP, 'ab', `${SP}ab`, `${SP}abc`, '<pad>', '<image>']);
    expect([tok.vocabSize, tok.padTokenId, tok.imageTokenId, tok.wholeWordMerges, tok.merges]).to.deep.equal([268, 266, 267, 3, 3]);
  });

  it('continues over the corpus up to the target size, only on pairs seen twice', () => {
    const opts = { corpus: ['xyz xyz xyq'], wholeWordTexts: ['ab'], chatTemplate: 'T' };
    const capped = buildToyTokenizer({ ...opts, targetVocabSize: 3 + 256 + 7 + 2 + 1 + 2 });
    // Alphabet a b q x y z ▁ (7); phase 1 merges a b, ▁ ab; then room for one more: of the pairs
    // counted 3, (▁, x) and (x, y), the tie goes to "x y" (x < ▁).
    expect((capped.tokenizer.model as { merges: string[][] }).merges).to.deep.equal([['a', 'b'], [SP, 'ab'], ['x', 'y']]);
    const free = buildToyTokenizer(opts);
    // xy, ▁xy, then (▁xy, z) occurs twice and (▁xy, q) once: ▁xyz is learned, then nothing more.
    expect((free.tokenizer.model as { merges: string[][] }).merges.slice(2)).to.deep.equal([['x', 'y'], [SP, 'xy'], [`${SP}xy`, 'z']]);
  });

  it('rejects a bad target size', () => {
    expect(() => buildToyTokenizer({ corpus: [], wholeWordTexts: [], chatTemplate: 'T', targetVocabSize: 0 })).to.throw(
      RangeError,
      'Expected a positive integer for targetVocabSize but received 0',
    );
  });
});

describe('toy tokenizer: the built-in one, loaded from disk', () => {
  const built = buildToyModelTokenizer();
  let dir = '';
  let tok: TextTokenizer;
  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'stic-toy-tok-'));
    await writeToyTokenizer(dir, built);
    tok = loadTokenizer(dir);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  // Scenes of another seed than the training corpus (seed 0): whole words must generalise.
  const scenes = generateScenes(41, 200);
  const toyTexts = scenes.flatMap((s) => [...captions(s), ...questions(s).flatMap((q) => [q.question, q.answer])]);

  it('has the special tokens, a few hundred ids and the chat template', () => {
    expect(tok.vocabSize).to.equal(built.vocabSize);
    expect(tok.vocabSize).to.be.within(300, 640);
    expect([tok.tokenToId('<unk>'), tok.bosTokenId, tok.eosTokenIds[0], tok.padTokenId, tok.tokenToId('<image>')]).to.deep.equal([
      0,
      1,
      2,
      built.vocabSize - 2,
      built.vocabSize - 1,
    ]);
    expect([built.padTokenId, built.imageTokenId]).to.deep.equal([built.vocabSize - 2, built.vocabSize - 1]);
    expect(tok.bosToken).to.equal(TOY_SPECIAL_TOKENS.bos);
    expect(tok.eosToken).to.equal(TOY_SPECIAL_TOKENS.eos);
    expect(tok.chatTemplate).to.equal(TOY_CHAT_TEMPLATE);
  });

  it('is a pure function of its inputs', () => {
    expect(JSON.stringify(buildToyModelTokenizer())).to.equal(JSON.stringify(built));
  });

  it('keeps every word of the toy world whole (one token, no bytes, no <unk>)', () => {
    const vocabWords = [...NUMBER_WORDS, ...SHAPE_KINDS, ...Object.values(KIND_PLURALS), ...COLOUR_NAMES, ...BACKGROUND_NAMES, ...SIZES, ...POSITIONS.flatMap((p) => p.split(' ')), 'yes', 'no'];
    for (const w of vocabWords) expect(tok.encodeWithTokens(w, { addSpecialTokens: false }).tokens, w).to.deep.equal([`${SP}${w}`]);
    for (const text of toyTexts.slice(0, 600)) {
      const { tokens } = tok.encodeWithTokens(text, { addSpecialTokens: false });
      const pieces = text.match(/[A-Za-z]+|[^A-Za-z ]/g) ?? [];
      expect(tokens.length, text).to.equal(pieces.length);
      expect(tokens.some((t) => t.startsWith('<')), text).to.equal(false);
    }
  });

  it('round-trips every caption, question, answer and prompt exactly', () => {
    const prompts = [...DESCRIBE_PROMPTS, DEFAULT_PROMPTS.detailed, ...DEFAULT_PROMPTS.plain, ...DEFAULT_PROMPTS.hallucination, DEFAULT_PROMPTS.infusion];
    for (const text of [...toyTexts, ...prompts]) {
      expect(tok.decode(tok.encode(text, { addSpecialTokens: false })), text).to.equal(text);
      expect(tok.decode(tok.encode(text), { skipSpecialTokens: true }), text).to.equal(text);
    }
  });

  it('round-trips whole chat-rendered conversations, image placeholder included', () => {
    const [scene] = scenes;
    for (const q of questions(scene)) {
      const text = toyChatText(q.question, q.answer);
      const ids = tok.encode(text);
      expect(ids[0]).to.equal(1);
      expect(ids.filter((id) => id === built.imageTokenId)).to.have.length(1);
      expect(ids[ids.length - 1]).to.equal(2);
      expect(tok.decode(ids.slice(1))).to.equal(text);
    }
  });

  it('builds engine prompt ids with the image expanded', () => {
    const ids = chatPromptIds(tok, [{ role: 'user', content: '<image>\nHow many shapes are there?' }], {
      template: builtinTemplate('vicuna_v1'),
      addGenerationPrompt: true,
      imageTokenId: built.imageTokenId,
      tokensPerImage: 36,
      numImages: 1,
    });
    expect(ids.filter((id) => id === built.imageTokenId)).to.have.length(36);
    expect(tok.decode(ids.filter((id) => id !== built.imageTokenId), { skipSpecialTokens: true })).to.equal(
      toyChatText('How many shapes are there?').replace('<image>', ''),
    );
  });

  it('encodes any other text through byte fallback, never <unk>', () => {
    const rng = makeRng(5);
    const alphabet = ['é', '✓', '中', '😀', '\t', '~', 'Q', 'z', ' ', '7', '"', '\u00a0'];
    for (let i = 0; i < 200; i++) {
      const text = Array.from({ length: 1 + rng.int(0, 20) }, () => alphabet[rng.int(0, alphabet.length)]).join('');
      const ids = tok.encode(`x${text}`, { addSpecialTokens: false });
      expect(ids).to.not.include(0);
      expect(tok.decode(ids)).to.equal(`x${text}`);
    }
  });
});
