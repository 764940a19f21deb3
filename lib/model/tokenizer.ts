// Text <-> token ids for a checkpoint: tokenizer.json run by @huggingface/tokenizers (pure JS; the
// same ids as the Rust library for SentencePiece-style BPE with byte fallback and byte-level BPE),
// completed by tokenizer_config.json (bos/eos, extra added tokens, chat template). Also the two
// id-level steps of a multimodal prompt: encoding text around the image placeholder, and expanding
// each placeholder to the model's image-token count.
import { existsSync } from 'node:fs';
import path from 'node:path';

import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';

import { FieldReader, type JsonDoc, ModelConfigError, showJsonValue, isPlainObject, readJsonFile, readTextFile } from './config_json.ts';

/** chat_template as stored: one Jinja string, or named templates ([{name, template}]). */
export type ChatTemplateSpec = string | { name: string; template: string }[];

export interface EncodeOptions {
  /** Run the post-processor (adds BOS for Llama-style tokenizers). Default true. */
  addSpecialTokens?: boolean;
}

export interface DecodeOptions {
  /** Drop tokens marked special (BOS, EOS, and whatever the tokenizer marks). Default false. */
  skipSpecialTokens?: boolean;
}

/** Special tokens that transformers keeps in tokenizer_config.json / special_tokens_map.json. */
const SPECIAL_TOKEN_FIELDS = ['bos_token', 'eos_token', 'unk_token', 'pad_token'] as const;
type SpecialField = (typeof SPECIAL_TOKEN_FIELDS)[number];

/** The special tokens a tokenizer names, each with its id (absent: not named anywhere). */
export interface SpecialTokens {
  bos?: { token: string; id: number };
  eos?: { token: string; id: number };
  unk?: { token: string; id: number };
  pad?: { token: string; id: number };
}

export class TextTokenizer {
  /** The tokenizer.json this was built from (for messages). */
  readonly source: string;
  /** One past the largest id, added tokens included. */
  readonly vocabSize: number;
  readonly bosToken: string | null;
  readonly bosTokenId: number | null;
  readonly eosToken: string | null;
  /** Ids that end a generation according to the tokenizer (the model config may add more). */
  readonly eosTokenIds: number[];
  readonly padTokenId: number | null;
  /** The checkpoint's chat template, or null when it has none (use a built-in one). */
  readonly chatTemplate: ChatTemplateSpec | null;
  private readonly hf: HfTokenizer;

  constructor(hf: HfTokenizer, source: string, special: SpecialTokens, chatTemplate: ChatTemplateSpec | null) {
    this.hf = hf;
    this.source = source;
    // A loop, not Math.max(...ids): spreading a 150k-entry vocabulary overflows the call stack.
    let maxId = -1;
    for (const id of hf.get_vocab(true).values()) maxId = Math.max(maxId, id);
    this.vocabSize = maxId + 1;
    this.bosToken = special.bos?.token ?? null;
    this.bosTokenId = special.bos?.id ?? null;
    this.eosToken = special.eos?.token ?? null;
    this.eosTokenIds = special.eos ? [special.eos.id] : [];
    this.padTokenId = special.pad?.id ?? null;
    this.chatTemplate = chatTemplate;
  }

  encode(text: string, opts: EncodeOptions = {}): number[] {
    return this.encodeWithTokens(text, opts).ids;
  }

  /** Ids and the token strings they stand for. */
  encodeWithTokens(text: string, opts: EncodeOptions = {}): { ids: number[]; tokens: string[] } {
    if (typeof text !== 'string') throw new TypeError(`Expected a string for text but received ${showJsonValue(text)}`);
    const enc = this.library('encode text', () => this.hf.encode(text, { add_special_tokens: opts.addSpecialTokens ?? true }));
    return { ids: enc.ids, tokens: enc.tokens };
  }

  decode(ids: readonly number[], opts: DecodeOptions = {}): string {
    ids.forEach((id, i) => {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize || this.hf.id_to_token(id) === undefined) {
        throw new RangeError(`Expected token ids of ${this.source} (integers in [0, ${this.vocabSize})) but received ${showJsonValue(id)} at position ${i}`);
      }
    });
    // The library refuses an empty list; the empty string is the honest answer.
    if (ids.length === 0) return '';
    return this.library('decode ids', () => this.hf.decode([...ids], { skip_special_tokens: opts.skipSpecialTokens ?? false }));
  }

  // Parts of tokenizer.json (the post-processor, the decoder) are only interpreted on first use: a
  // broken one fails there, inside the library, with a bare TypeError. Name the file instead.
  private library<T>(what: string, op: () => T): T {
    try {
      return op();
    } catch (err) {
      throw new ModelConfigError(this.source, null, `cannot ${what} with this tokenizer (a part of the file is malformed): ${(err as Error).message}`);
    }
  }

  tokenToId(token: string): number | null {
    return this.hf.token_to_id(token) ?? null;
  }

  idToToken(id: number): string | null {
    return this.hf.id_to_token(id) ?? null;
  }
}

/** The files a tokenizer is built from (tests build small ones in memory). */
export interface TokenizerFiles {
  /** tokenizer.json. */
  tokenizer: JsonDoc;
  /** tokenizer_config.json: special tokens, added_tokens_decoder, chat_template. */
  config?: JsonDoc | null;
  /** special_tokens_map.json: special tokens the config does not name. */
  specialTokensMap?: JsonDoc | null;
  /** A template kept outside tokenizer_config.json (chat_template.jinja); wins over the config's, as in transformers. */
  chatTemplate?: ChatTemplateSpec | null;
}

/**
 * Loads `dir`/tokenizer.json with, when present, tokenizer_config.json, special_tokens_map.json
 * and a chat template from chat_template.jinja, tokenizer_config.json or a processor's
 * chat_template.json (in that order).
 */
export function loadTokenizer(dir: string): TextTokenizer {
  const optional = (name: string, what: string): JsonDoc | null => {
    const file = path.join(dir, name);
    return existsSync(file) ? { json: readJsonFile(file, what), source: file } : null;
  };
  const tokenizerFile = path.join(dir, 'tokenizer.json');
  const files: TokenizerFiles = {
    tokenizer: { json: readJsonFile(tokenizerFile, 'a tokenizer (tokenizer.json; SentencePiece .model files are not supported)'), source: tokenizerFile },
    config: optional('tokenizer_config.json', 'a tokenizer config'),
    specialTokensMap: optional('special_tokens_map.json', 'a special tokens map'),
  };
  const jinja = path.join(dir, 'chat_template.jinja');
  if (existsSync(jinja)) {
    files.chatTemplate = readTextFile(jinja, 'a chat template');
  } else if (!(files.config && isPlainObject(files.config.json) && files.config.json.chat_template)) {
    const processor = optional('chat_template.json', 'a chat template');
    if (processor) files.chatTemplate = parseChatTemplateSpec(new FieldReader(processor.json, processor.source), 'chat_template');
  }
  return tokenizerFromFiles(files);
}

export function tokenizerFromFiles(files: TokenizerFiles): TextTokenizer {
  const source = files.tokenizer.source;
  const cfg = new FieldReader(files.config?.json ?? {}, files.config?.source ?? `${path.dirname(source)}/tokenizer_config.json`);
  const tj = new FieldReader(files.tokenizer.json, source);
  tj.section('model');
  const json: Record<string, unknown> = { normalizer: null, pre_tokenizer: null, post_processor: null, decoder: null, ...tj.obj };
  json.added_tokens = mergeAddedTokens(tj, cfg);
  const map = files.specialTokensMap ? new FieldReader(files.specialTokensMap.json, files.specialTokensMap.source) : null;
  const named = specialTokenNames(cfg, map);
  // The library reads additional_special_tokens as strings only; the special tokens likewise.
  const libConfig: Record<string, unknown> = { ...cfg.obj, additional_special_tokens: additionalSpecial(cfg) };
  for (const [field, v] of named) libConfig[field] = v.token;
  let hf: HfTokenizer;
  try {
    hf = new HfTokenizer(json, libConfig);
  } catch (err) {
    throw new ModelConfigError(source, null, `cannot build a tokenizer from this file: ${(err as Error).message}`);
  }
  const special: SpecialTokens = {};
  for (const [field, v] of named) {
    const id = hf.token_to_id(v.token);
    if (id === undefined) v.from.fail(field, `a token of the vocabulary of ${source}`, v.token);
    special[field.replace('_token', '') as keyof SpecialTokens] = { token: v.token, id };
  }
  const template = files.chatTemplate ?? parseChatTemplateSpec(cfg, 'chat_template');
  return new TextTokenizer(hf, source, special, template);
}

/**
 * tokenizer.json's added_tokens, plus entries of tokenizer_config.json's added_tokens_decoder it
 * lacks (transformers adds those on load). The same id with different contents is an error.
 */
function mergeAddedTokens(tj: FieldReader, cfg: FieldReader): unknown[] {
  const raw = tj.raw('added_tokens') ?? [];
  if (!Array.isArray(raw)) tj.fail('added_tokens', 'a list of added tokens');
  const added = raw as { id: number; content: string }[];
  if (!cfg.has('added_tokens_decoder')) return added;
  const byId = new Map(added.map((t) => [t.id, t]));
  const decoder = cfg.section('added_tokens_decoder');
  const extra: unknown[] = [];
  for (const [key, value] of Object.entries(decoder.obj)) {
    const field = `added_tokens_decoder.${key}`;
    const id = Number(key);
    if (!Number.isInteger(id) || id < 0 || !isPlainObject(value) || typeof value.content !== 'string') {
      cfg.fail(field, 'an entry {content, ...} keyed by a non-negative integer id', value);
    }
    const existing = byId.get(id);
    if (existing !== undefined && existing.content !== value.content) {
      cfg.fail(field, `the token tokenizer.json has for id ${id} (${showJsonValue(existing.content)})`, value.content);
    }
    if (existing === undefined) {
      extra.push({ single_word: false, lstrip: false, rstrip: false, normalized: false, special: false, ...value, id });
    }
  }
  return [...added, ...extra];
}

/** bos/eos/unk/pad as plain strings (stored as a string or an AddedToken dict {content, ...}), and the file naming each. */
function specialTokenNames(cfg: FieldReader, map: FieldReader | null): Map<SpecialField, { token: string; from: FieldReader }> {
  const out = new Map<SpecialField, { token: string; from: FieldReader }>();
  for (const name of SPECIAL_TOKEN_FIELDS) {
    const from = cfg.has(name) ? cfg : map?.has(name) ? map : null;
    if (from !== null) out.set(name, { token: tokenContent(from, name, from.raw(name)), from });
  }
  return out;
}

function additionalSpecial(cfg: FieldReader): string[] {
  const v = cfg.raw('additional_special_tokens');
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) cfg.fail('additional_special_tokens', 'a list of tokens');
  return v.map((t, i) => tokenContent(cfg, `additional_special_tokens[${i}]`, t));
}

function tokenContent(r: FieldReader, name: string, v: unknown): string {
  if (typeof v === 'string') return v;
  if (isPlainObject(v) && typeof v.content === 'string') return v.content;
  return r.fail(name, 'a token string or {"content": string}', v);
}

/** chat_template: a string, or a list of {name, template}; absent gives null. */
export function parseChatTemplateSpec(r: FieldReader, name: string): ChatTemplateSpec | null {
  const v = r.raw(name);
  if (v === undefined || v === null) return null;
  if (typeof v === 'string') return v;
  const ok = Array.isArray(v) && v.length > 0 && v.every((t) => isPlainObject(t) && typeof t.name === 'string' && typeof t.template === 'string');
  if (!ok) r.fail(name, 'a Jinja template string or a non-empty list of {"name", "template"}');
  return (v as { name: string; template: string }[]).map((t) => ({ name: t.name, template: t.template }));
}

/** The placeholder users write where an image goes (LLaVA's DEFAULT_IMAGE_TOKEN). */
export const IMAGE_TOKEN = '<image>';

export interface PromptEncodeOptions {
  /** Id the model uses for image positions (EngineConfig.imageTokenId). */
  imageTokenId: number;
  /**
   * Add BOS etc. Default: yes, unless the text already starts with the BOS token (templates that
   * render bos_token themselves), so a prompt never gets two.
   */
  addSpecialTokens?: boolean;
}

/**
 * Prompt text -> ids with exactly one `imageTokenId` per `<image>` placeholder.
 * When the tokenizer knows `<image>` (llava-hf), the whole text is encoded at once, so the ids are
 * those of transformers; its id must then be the model's image token id. Otherwise (original
 * LLaVA tokenizers) the text is split at the placeholders, each piece encoded on its own and the
 * pieces joined by imageTokenId, as the original tokenizer_image_token does.
 */
export function encodePrompt(tok: TextTokenizer, text: string, opts: PromptEncodeOptions): number[] {
  const addSpecialTokens = opts.addSpecialTokens ?? !(tok.bosToken !== null && text.startsWith(tok.bosToken));
  const placeholderId = tok.tokenToId(IMAGE_TOKEN);
  if (placeholderId !== null) {
    if (placeholderId !== opts.imageTokenId) {
      throw new Error(
        `Expected the tokenizer's ${IMAGE_TOKEN} token (${tok.source}) to have the model's image token id ${opts.imageTokenId} but it has id ${placeholderId}`,
      );
    }
    return tok.encode(text, { addSpecialTokens });
  }
  const pieces = text.split(IMAGE_TOKEN);
  const out = tok.encode(pieces[0], { addSpecialTokens });
  for (const piece of pieces.slice(1)) {
    out.push(opts.imageTokenId);
    if (piece.length > 0) out.push(...tok.encode(piece, { addSpecialTokens: false }));
  }
  return out;
}

/**
 * Replaces each image placeholder id by `tokensPerImage` copies of it: the positions the engine
 * fills with the image's features. A list gives each image its own count, in order (LLaVA-NeXT's
 * anyres images have as many tokens as their size gives).
 * ids: (T,) -> (T + sum over images of (tokens - 1),)
 */
export function expandImageTokens(ids: readonly number[], imageTokenId: number, tokensPerImage: number | readonly number[], numImages: number): number[] {
  const counts = typeof tokensPerImage === 'number' ? new Array<number>(numImages).fill(tokensPerImage) : [...tokensPerImage];
  const bad = typeof tokensPerImage === 'number' ? [tokensPerImage] : counts;
  if (bad.some((n) => !Number.isInteger(n) || n <= 0)) {
    throw new RangeError(`Expected a positive integer for tokensPerImage but received ${showJsonValue(tokensPerImage)}`);
  }
  if (counts.length !== numImages) throw new RangeError(`Expected ${numImages} image token counts (one per image) but received ${counts.length}`);
  const found = ids.reduce((n, id) => n + (id === imageTokenId ? 1 : 0), 0);
  if (found !== numImages) {
    const each = counts[0] ?? 0;
    throw new Error(
      `Expected ${numImages} image placeholder${numImages === 1 ? '' : 's'} (token id ${imageTokenId}), one per image, but found ${found} in the prompt ids` +
        (found > numImages && each > 0 && found % each === 0 ? ' (were they expanded already?)' : ''),
    );
  }
  const out: number[] = [];
  let image = 0;
  for (const id of ids) {
    if (id === imageTokenId) for (let k = 0, n = counts[image++]; k < n; k++) out.push(id);
    else out.push(id);
  }
  return out;
}
