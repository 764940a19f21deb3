// Tokenizer: the transformers-made Llama-style fixture reproduced exactly, a byte-level BPE
// (GPT-2 style) built here from scratch, tokenizer_config.json handling, and prompt ids with images.
import { expect } from 'chai';
import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { readJsonFile } from '../../lib/model/config_json.ts';
import { type TextTokenizer, encodePrompt, expandImageTokens, loadTokenizer, tokenizerFromFiles } from '../../lib/model/tokenizer.ts';
import { makeRng } from '../helpers/rng.ts';

const testDir = path.dirname(fileURLToPath(import.meta.url));
const llamaDir = path.resolve(testDir, '..', 'fixtures', 'hf', 'tokenizer-llama-style');

interface ExpectedEncode {
  text: string;
  ids: number[];
  tokens: string[];
  decoded: string;
}
const expected = readJsonFile(path.join(llamaDir, 'expected.json'), 'a test fixture') as { encode: ExpectedEncode[] };

describe('tokenizer: Llama-style fixture (SentencePiece-like BPE with byte fallback)', () => {
  const tok = loadTokenizer(llamaDir);

  for (const e of expected.encode) {
    it(`reproduces ids, tokens and decode of ${JSON.stringify(e.text)}`, () => {
      const enc = tok.encodeWithTokens(e.text);
      expect(enc.ids).to.deep.equal(e.ids);
      expect(enc.tokens).to.deep.equal(e.tokens);
      expect(tok.encode(e.text)).to.deep.equal(e.ids);
      expect(tok.decode(e.ids, { skipSpecialTokens: true })).to.equal(e.decoded);
    });
  }

  it('drops BOS without special tokens', () => {
    for (const e of expected.encode) expect(tok.encode(e.text, { addSpecialTokens: false })).to.deep.equal(e.ids.slice(1));
  });

  it('reports its special tokens, vocabulary and chat template', () => {
    expect(tok.bosToken).to.equal('<s>');
    expect(tok.bosTokenId).to.equal(1);
    expect(tok.eosToken).to.equal('</s>');
    expect(tok.eosTokenIds).to.deep.equal([2]);
    expect(tok.padTokenId).to.equal(0);
    expect(tok.vocabSize).to.equal(421);
    expect(tok.tokenToId('<image>')).to.equal(420);
    expect(tok.idToToken(420)).to.equal('<image>');
    expect(tok.idToToken(392)).to.equal('▁a▁');
    expect(tok.tokenToId('no-such-token')).to.equal(null);
    expect(tok.idToToken(421)).to.equal(null);
    const config = readJsonFile(path.join(llamaDir, 'tokenizer_config.json'), 'a test fixture') as { chat_template: string };
    expect(tok.chatTemplate).to.equal(config.chat_template);
  });

  it('keeps special tokens in decode unless asked to skip them', () => {
    expect(tok.decode([1, 392, 294, 320, 2])).to.equal('<s> a red </s>');
    // "▁a▁" "re" "d▁": the Strip decoder removes one leading space only, so the trailing one stays.
    expect(tok.decode([1, 392, 294, 320, 2], { skipSpecialTokens: true })).to.equal('a red ');
    expect(tok.decode([])).to.equal('');
  });

  it('refuses ids outside the vocabulary in decode', () => {
    const file = path.join(llamaDir, 'tokenizer.json');
    expect(() => tok.decode([1, 421])).to.throw(RangeError, `Expected token ids of ${file} (integers in [0, 421)) but received 421 at position 1`);
    expect(() => tok.decode([1.5])).to.throw(RangeError, `Expected token ids of ${file} (integers in [0, 421)) but received 1.5 at position 0`);
  });
});

/** GPT-2's reversible byte -> printable character table (printable Latin-1 maps to itself). */
function byteToUnicode(): string[] {
  const table: string[] = new Array(256);
  const keep = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  let next = 256;
  for (let b = 0; b < 256; b++) table[b] = String.fromCodePoint(keep(b) ? b : next++);
  return table;
}

/** A tiny GPT-2-style tokenizer.json: 256 byte symbols, a few merges, <|endoftext|> as a special token. */
function byteLevelFiles() {
  const symbols = byteToUnicode();
  const vocab: Record<string, number> = {};
  symbols.forEach((s, i) => (vocab[s] = i));
  const merges = [
    ['t', 'h'],
    ['th', 'e'],
    ['Ġ', 'the'],
    ['c', 'a'],
    ['ca', 't'],
    ['Ġ', 'cat'],
  ];
  for (const [a, b] of merges) vocab[a + b] = Object.keys(vocab).length;
  const eot = Object.keys(vocab).length;
  vocab['<|endoftext|>'] = eot;
  const tokenizer = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [{ id: eot, content: '<|endoftext|>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '', fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges },
  };
  const config = { bos_token: '<|endoftext|>', eos_token: { content: '<|endoftext|>', special: true }, clean_up_tokenization_spaces: false };
  return { tokenizer: { json: tokenizer, source: 'bl/tokenizer.json' }, config: { json: config, source: 'bl/tokenizer_config.json' }, vocab, eot };
}

describe('tokenizer: byte-level BPE (GPT-2 style)', () => {
  const files = byteLevelFiles();
  const tok: TextTokenizer = tokenizerFromFiles(files);
  const sym = byteToUnicode();

  it('applies the merges in rank order after the regex split', () => {
    const enc = tok.encodeWithTokens('the cat the');
    expect(enc.tokens).to.deep.equal(['the', 'Ġcat', 'Ġthe']);
    expect(enc.ids).to.deep.equal([files.vocab.the, files.vocab['Ġcat'], files.vocab['Ġthe']]);
  });

  it('falls back to one symbol per UTF-8 byte for unmerged text', () => {
    const text = 'ñ✓';
    const bytes = [...Buffer.from(text, 'utf8')];
    expect(tok.encodeWithTokens(text).tokens).to.deep.equal(bytes.map((b) => sym[b]));
    expect(tok.encode(text)).to.deep.equal(bytes);
  });

  it('round-trips random text exactly (ASCII, accents, CJK, emoji, whitespace runs)', () => {
    const rng = makeRng(7);
    const alphabet = [...'the cat  sat\n\t on mat.,!?', 'é', 'ü', 'ß', '漢', '字', '😀', '✓', ' ', '  '];
    for (let trial = 0; trial < 50; trial++) {
      const len = rng.int(1, 41);
      let text = '';
      for (let i = 0; i < len; i++) text += alphabet[rng.int(0, alphabet.length)];
      const ids = tok.encode(text);
      expect(tok.decode(ids), JSON.stringify(text)).to.equal(text);
    }
  });

  it('matches special tokens whole and skips them on request', () => {
    const ids = tok.encode('the<|endoftext|>cat');
    expect(ids).to.deep.equal([files.vocab.the, files.eot, files.vocab.cat]);
    expect(tok.decode(ids)).to.equal('the<|endoftext|>cat');
    expect(tok.decode(ids, { skipSpecialTokens: true })).to.equal('thecat');
    expect(tok.bosTokenId).to.equal(files.eot);
    expect(tok.eosTokenIds).to.deep.equal([files.eot]);
    expect(tok.vocabSize).to.equal(files.eot + 1);
  });
});

describe('tokenizer: files and configuration', () => {
  const tokenizerJson = () => ({ json: readJsonFile(path.join(llamaDir, 'tokenizer.json'), 'a test fixture'), source: 'tok/tokenizer.json' });

  it('adds tokens from added_tokens_decoder that tokenizer.json lacks', () => {
    const tok = tokenizerFromFiles({
      tokenizer: tokenizerJson(),
      config: { json: { bos_token: '<s>', added_tokens_decoder: { '421': { content: '<video>', special: true } } }, source: 'tok/tokenizer_config.json' },
    });
    expect(tok.tokenToId('<video>')).to.equal(421);
    expect(tok.encode('a<video>', { addSpecialTokens: false })).to.include(421);
    expect(tok.vocabSize).to.equal(422);
  });

  it('refuses added_tokens_decoder entries that contradict tokenizer.json', () => {
    expect(() =>
      tokenizerFromFiles({ tokenizer: tokenizerJson(), config: { json: { added_tokens_decoder: { '420': { content: '<video>' } } }, source: 'tok/tokenizer_config.json' } }),
    ).to.throw('tok/tokenizer_config.json: expected the token tokenizer.json has for id 420 ("<image>") for added_tokens_decoder.420 but found "<video>"');
  });

  it('refuses a special token that is not in the vocabulary', () => {
    expect(() => tokenizerFromFiles({ tokenizer: tokenizerJson(), config: { json: { eos_token: '<|im_end|>' }, source: 'tok/tokenizer_config.json' } })).to.throw(
      'tok/tokenizer_config.json: expected a token of the vocabulary of tok/tokenizer.json for eos_token but found "<|im_end|>"',
    );
    expect(() => tokenizerFromFiles({ tokenizer: tokenizerJson(), config: { json: { bos_token: 5 }, source: 'tok/tokenizer_config.json' } })).to.throw(
      'tok/tokenizer_config.json: expected a token string or {"content": string} for bos_token but found 5',
    );
  });

  it('takes special tokens from special_tokens_map.json when the config has none', () => {
    const tok = tokenizerFromFiles({
      tokenizer: tokenizerJson(),
      config: { json: {}, source: 'tok/tokenizer_config.json' },
      specialTokensMap: { json: { bos_token: { content: '<s>' }, eos_token: '</s>' }, source: 'tok/special_tokens_map.json' },
    });
    expect(tok.bosTokenId).to.equal(1);
    expect(tok.eosTokenIds).to.deep.equal([2]);
  });

  it('refuses a tokenizer.json without a model and a malformed chat_template', () => {
    expect(() => tokenizerFromFiles({ tokenizer: { json: { version: '1.0' }, source: 'tok/tokenizer.json' } })).to.throw(
      'tok/tokenizer.json: expected a JSON object for model but found nothing (the field is missing)',
    );
    expect(() => tokenizerFromFiles({ tokenizer: tokenizerJson(), config: { json: { chat_template: [{ name: 'x' }] }, source: 'tok/tokenizer_config.json' } })).to.throw(
      'tok/tokenizer_config.json: expected a Jinja template string or a non-empty list of {"name", "template"} for chat_template but found [{"name":"x"}]',
    );
  });

  it('names a missing tokenizer.json', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'stic-tok-'));
    expect(() => loadTokenizer(dir)).to.throw(
      `${path.join(dir, 'tokenizer.json')}: expected a tokenizer (tokenizer.json; SentencePiece .model files are not supported) but the file does not exist`,
    );
  });

  it('prefers chat_template.jinja, as transformers does', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'stic-tok-'));
    cpSync(llamaDir, dir, { recursive: true });
    writeFileSync(path.join(dir, 'chat_template.jinja'), '{{ messages[0].content }}!');
    expect(loadTokenizer(dir).chatTemplate).to.equal('{{ messages[0].content }}!');
  });
});

describe('prompt ids with images', () => {
  const tok = loadTokenizer(llamaDir);
  const byteLevel = tokenizerFromFiles(byteLevelFiles());

  it('encodes <image> as the tokenizer token when it has one, adding BOS once', () => {
    const text = 'USER: <image>\nwhat is shown? ASSISTANT:';
    const want = expected.encode.find((e) => e.text === text)!.ids;
    expect(encodePrompt(tok, text, { imageTokenId: 420 })).to.deep.equal(want);
    expect(encodePrompt(tok, `<s>${text}`, { imageTokenId: 420 })).to.deep.equal(want);
  });

  it('refuses a tokenizer whose <image> id is not the model image token', () => {
    expect(() => encodePrompt(tok, 'hi <image>', { imageTokenId: 319 })).to.throw(
      `Expected the tokenizer's <image> token (${path.join(llamaDir, 'tokenizer.json')}) to have the model's image token id 319 but it has id 420`,
    );
  });

  it('splits at <image> when the tokenizer has no such token (original LLaVA)', () => {
    const ids = encodePrompt(byteLevel, 'the<image>\ncat<image>', { imageTokenId: 999 });
    expect(ids).to.deep.equal([...byteLevel.encode('the'), 999, ...byteLevel.encode('\ncat', { addSpecialTokens: false }), 999]);
    expect(encodePrompt(byteLevel, '<image>the', { imageTokenId: 999 })).to.deep.equal([999, ...byteLevel.encode('the')]);
  });

  it('expands each placeholder to the image token count', () => {
    const rng = makeRng(11);
    for (let trial = 0; trial < 20; trial++) {
      const img = 300;
      const per = rng.int(1, 21);
      const numImages = rng.int(0, 3);
      const ids: number[] = Array.from({ length: rng.int(5, 15) }, () => rng.int(0, img));
      for (let k = 0; k < numImages; k++) ids.splice(rng.int(0, ids.length + 1), 0, img);
      // Plain reference: rebuild the list element by element.
      const want: number[] = [];
      for (const id of ids) want.push(...(id === img ? new Array<number>(per).fill(img) : [id]));
      expect(expandImageTokens(ids, img, per, numImages)).to.deep.equal(want);
    }
  });

  it('refuses a placeholder count that does not match the images', () => {
    expect(() => expandImageTokens([1, 5, 7], 5, 16, 2)).to.throw('Expected 2 image placeholders (token id 5), one per image, but found 1 in the prompt ids');
    expect(() => expandImageTokens([1, 7], 5, 16, 1)).to.throw('Expected 1 image placeholder (token id 5), one per image, but found 0 in the prompt ids');
    expect(() => expandImageTokens([1, 5, 5, 5, 5], 5, 4, 1)).to.throw(
      'Expected 1 image placeholder (token id 5), one per image, but found 4 in the prompt ids (were they expanded already?)',
    );
    expect(() => expandImageTokens([1, 5], 5, 0, 1)).to.throw(RangeError, 'Expected a positive integer for tokensPerImage but received 0');
  });
});
