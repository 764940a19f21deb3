// A small Llama-style tokenizer for the toy world, trained here and written in Hugging Face layout
// (tokenizer.json + tokenizer_config.json), so the tiny model loads like any LLaVA checkpoint.
//
// Form (that of current Llama tokenizer.json files): BPE over "▁"-marked words (SentencePiece
// style: a space becomes "▁", and "▁" is prepended to the first section of the text), byte fallback
// (<0x00>..<0xFF>: any text stays encodable, e.g. the STIC prompts' words outside the toy world),
// BOS added by the post-processor, and the decoder that undoes all of it.
//
// Ids: 0 <unk>, 1 <s>, 2 </s>, 3..258 the 256 byte tokens, then the corpus's characters, then one
// token per merge, then <pad> and <image> (last, as in llava-hf checkpoints).
//
// Training (our own two-phase BPE): words are pre-split the way the tokenizer will see them
// (sections between special tokens, "▁"-prefixed letter runs, single digits, single other
// characters). Phase 1 merges the most frequent adjacent pair among the words of `wholeWordTexts`
// until each of those words is one token, so every word of the toy world costs one position of the
// tiny model's context. Phase 2 goes on over the whole corpus while a pair occurs at least twice
// and the vocabulary is below `targetVocabSize`. Ties go to the lexicographically first pair, so
// the result is a pure function of the inputs.
import path from 'node:path';

import { writeJsonAtomic } from '../util/atomic_write.ts';
import { IMAGE_TOKEN } from '../model/tokenizer.ts';

export const TOY_SPECIAL_TOKENS = { unk: '<unk>', bos: '<s>', eos: '</s>', pad: '<pad>', image: IMAGE_TOKEN } as const;

/** SentencePiece's whitespace mark. */
const SPACE = '\u2581';
const BYTE_TOKENS = Array.from({ length: 256 }, (_, b) => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);

export interface ToyTokenizerOptions {
  /** Every text the tokenizer is trained on, as the model will see it (chat-rendered prompts too). */
  corpus: readonly string[];
  /** Texts each of whose words must become a single token (the toy world's own texts). */
  wholeWordTexts: readonly string[];
  /** Phase 2 stops at this many ids (special and byte tokens included). Default 640. */
  targetVocabSize?: number;
  /** Jinja chat template stored in tokenizer_config.json. */
  chatTemplate: string;
  /** tokenizer_config.json's model_max_length. Default 512. */
  modelMaxLength?: number;
}

export interface ToyTokenizer {
  /** tokenizer.json. */
  tokenizer: Record<string, unknown>;
  /** tokenizer_config.json. */
  config: Record<string, unknown>;
  vocabSize: number;
  bosTokenId: number;
  eosTokenId: number;
  padTokenId: number;
  imageTokenId: number;
  /** Merges learned in phase 1 (whole toy words) and in total. */
  wholeWordMerges: number;
  merges: number;
}

/** Trains the BPE and assembles both files. */
export function buildToyTokenizer(opts: ToyTokenizerOptions): ToyTokenizer {
  const target = opts.targetVocabSize ?? 640;
  if (!Number.isInteger(target) || target < 1) throw new RangeError(`Expected a positive integer for targetVocabSize but received ${String(target)}`);
  const counts = countWords([...opts.corpus, ...opts.wholeWordTexts]);
  const whole = new Set(countWords(opts.wholeWordTexts).keys());
  const alphabet = [...new Set([...counts.keys()].flatMap((w) => [...w]))].sort();
  const vocab: string[] = [TOY_SPECIAL_TOKENS.unk, TOY_SPECIAL_TOKENS.bos, TOY_SPECIAL_TOKENS.eos, ...BYTE_TOKENS, ...alphabet];
  const known = new Set(vocab);
  const words = [...counts.entries()].map(([w, n]) => ({ symbols: [...w], count: n, whole: whole.has(w) }));
  const merges: [string, string][] = [];
  const addMerge = (pair: [string, string]): void => {
    merges.push(pair);
    const merged = pair[0] + pair[1];
    if (!known.has(merged)) {
      known.add(merged);
      vocab.push(merged);
    }
    for (const w of words) w.symbols = applyMerge(w.symbols, pair);
  };
  for (let pair = bestPair(words.filter((w) => w.whole), 1); pair !== null; pair = bestPair(words.filter((w) => w.whole), 1)) addMerge(pair);
  const wholeWordMerges = merges.length;
  // Room for <pad> and <image>, which come last.
  while (vocab.length + 2 < target) {
    const pair = bestPair(words, 2);
    if (pair === null) break;
    addMerge(pair);
  }
  const padTokenId = vocab.length;
  const imageTokenId = vocab.length + 1;
  vocab.push(TOY_SPECIAL_TOKENS.pad, TOY_SPECIAL_TOKENS.image);
  return {
    tokenizer: tokenizerJson(vocab, merges),
    config: tokenizerConfig(vocab, opts.chatTemplate, opts.modelMaxLength ?? 512),
    vocabSize: vocab.length,
    bosTokenId: 1,
    eosTokenId: 2,
    padTokenId,
    imageTokenId,
    wholeWordMerges,
    merges: merges.length,
  };
}

/** Writes tokenizer.json and tokenizer_config.json into `dir` (atomically, creating it). */
export async function writeToyTokenizer(dir: string, tok: ToyTokenizer): Promise<void> {
  await writeJsonAtomic(path.join(dir, 'tokenizer.json'), tok.tokenizer);
  await writeJsonAtomic(path.join(dir, 'tokenizer_config.json'), tok.config);
}

/**
 * The training words of `texts` with their counts. Each text is cut at special tokens; in each
 * section spaces become "▁" and the first section of a text gets a leading "▁" (the Metaspace
 * pre-tokenizer with prepend_scheme "first"); a section is then split into "▁"-prefixed letter runs,
 * single digits (Llama's convention) and single other characters, which merges never cross.
 */
export function countWords(texts: readonly string[]): Map<string, number> {
  const specials = new RegExp(`(${Object.values(TOY_SPECIAL_TOKENS).map(escapeRegExp).join('|')})`);
  const counts = new Map<string, number>();
  for (const text of texts) {
    text.split(specials).forEach((section, i) => {
      if (i % 2 === 1 || section.length === 0) return; // odd parts are the special tokens themselves
      let s = section.replaceAll(' ', SPACE);
      if (i === 0 && !s.startsWith(SPACE)) s = SPACE + s;
      for (const w of s.match(new RegExp(`${SPACE}?\\p{L}+|${SPACE}?\\p{N}|[^\\p{L}\\p{N}]`, 'gu')) ?? []) {
        counts.set(w, (counts.get(w) ?? 0) + 1);
      }
    });
  }
  return counts;
}

/** The most frequent adjacent pair (count-weighted) occurring at least `minCount` times, or null. */
function bestPair(words: readonly { symbols: string[]; count: number }[], minCount: number): [string, string] | null {
  const pairs = new Map<string, number>();
  for (const w of words) {
    for (let i = 0; i + 1 < w.symbols.length; i++) {
      const key = `${w.symbols[i]}\u0000${w.symbols[i + 1]}`;
      pairs.set(key, (pairs.get(key) ?? 0) + w.count);
    }
  }
  let best: string | null = null;
  let bestCount = minCount - 1;
  for (const [key, n] of pairs) {
    if (n > bestCount || (n === bestCount && best !== null && key < best)) {
      best = key;
      bestCount = n;
    }
  }
  return best === null ? null : (best.split('\u0000') as [string, string]);
}

/** `symbols` with every non-overlapping occurrence of `pair` (left to right) fused. */
function applyMerge(symbols: string[], pair: [string, string]): string[] {
  const out: string[] = [];
  for (let i = 0; i < symbols.length; i++) {
    if (i + 1 < symbols.length && symbols[i] === pair[0] && symbols[i + 1] === pair[1]) {
      out.push(pair[0] + pair[1]);
      i++;
    } else {
      out.push(symbols[i]);
    }
  }
  return out;
}

function addedToken(id: number, content: string): Record<string, unknown> {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };
}

function specialIds(vocab: readonly string[]): [number, string][] {
  return Object.values(TOY_SPECIAL_TOKENS).map((t) => [vocab.indexOf(t), t]);
}

function tokenizerJson(vocab: readonly string[], merges: readonly [string, string][]): Record<string, unknown> {
  const bos = TOY_SPECIAL_TOKENS.bos;
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: specialIds(vocab).sort((a, b) => a[0] - b[0]).map(([id, t]) => addedToken(id, t)),
    normalizer: null,
    pre_tokenizer: { type: 'Metaspace', replacement: SPACE, prepend_scheme: 'first', split: false },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: bos, type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: { [bos]: { id: bos, ids: [vocab.indexOf(bos)], tokens: [bos] } },
    },
    decoder: {
      type: 'Sequence',
      decoders: [
        { type: 'Replace', pattern: { String: SPACE }, content: ' ' },
        { type: 'ByteFallback' },
        { type: 'Fuse' },
        { type: 'Strip', content: ' ', start: 1, stop: 0 },
      ],
    },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: TOY_SPECIAL_TOKENS.unk,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      ignore_merges: false,
      vocab: Object.fromEntries(vocab.map((t, i) => [t, i])),
      merges: merges.map(([a, b]) => [a, b]),
    },
  };
}

function tokenizerConfig(vocab: readonly string[], chatTemplate: string, modelMaxLength: number): Record<string, unknown> {
  const decoder: Record<string, unknown> = {};
  for (const [id, t] of specialIds(vocab).sort((a, b) => a[0] - b[0])) {
    const { id: _id, ...rest } = addedToken(id, t);
    decoder[String(id)] = rest;
  }
  return {
    add_bos_token: true,
    add_eos_token: false,
    added_tokens_decoder: decoder,
    bos_token: TOY_SPECIAL_TOKENS.bos,
    eos_token: TOY_SPECIAL_TOKENS.eos,
    unk_token: TOY_SPECIAL_TOKENS.unk,
    pad_token: TOY_SPECIAL_TOKENS.pad,
    chat_template: chatTemplate,
    clean_up_tokenization_spaces: false,
    legacy: false,
    model_max_length: modelMaxLength,
    padding_side: 'right',
    tokenizer_class: 'LlamaTokenizerFast',
  };
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
