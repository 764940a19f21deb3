// Chat messages -> prompt text, through a Jinja chat template rendered by @huggingface/jinja: the
// checkpoint's own (tokenizer_config.json's chat_template, a string or named templates) or, for
// checkpoints without one, a built-in template chosen by decoder family (templates/).
import { Template } from '@huggingface/jinja';

import type { DecoderConfig } from './engine_config.ts';
import { showJsonValue, isPlainObject } from './config_json.ts';
import { BUILTIN_TEMPLATES, type BuiltinTemplateName } from './templates/index.ts';
import { type ChatTemplateSpec, type TextTokenizer, encodePrompt, expandImageTokens } from './tokenizer.ts';

export type ChatRole = 'system' | 'user' | 'assistant';

/** Multimodal content parts, as chat APIs and llava-hf processor templates use them. */
export type ChatContentPart = { type: 'image' } | { type: 'text'; text: string };

/** A message as a chat template takes it: text, or content parts. */
export interface TemplateMessage {
  role: ChatRole;
  content: string | ChatContentPart[];
}

/** A chat turn of text (records, prompts, training conversations): a TemplateMessage with text content. */
export type ChatMessage = TemplateMessage & { content: string };

/** A template ready to render, with the name used in messages. */
export interface ChatTemplate {
  name: string;
  source: string;
}

export interface RenderOptions {
  template: ChatTemplate;
  /** Append the assistant's turn opener (e.g. "ASSISTANT:") so the model answers next. Default false. */
  addGenerationPrompt?: boolean;
  bosToken?: string | null;
  eosToken?: string | null;
  /** Further variables some templates read (e.g. a date); they cannot replace the ones above. */
  extra?: Record<string, unknown>;
}

const ROLES: readonly ChatRole[] = ['system', 'user', 'assistant'];

/** The built-in template per decoder family: LLaVA-1.5 (Vicuna) and LLaVA-1.6-Mistral conversations. */
const BUILTIN_BY_FAMILY: Record<DecoderConfig['family'], BuiltinTemplateName> = {
  llama: 'vicuna_v1',
  mistral: 'mistral_instruct',
};

export function isBuiltinTemplateName(name: string): name is BuiltinTemplateName {
  return Object.hasOwn(BUILTIN_TEMPLATES, name);
}

export function builtinTemplate(name: BuiltinTemplateName): ChatTemplate {
  return { name, source: BUILTIN_TEMPLATES[name] };
}

export interface SelectOptions {
  /** The checkpoint's chat_template (TextTokenizer.chatTemplate), null when it has none. */
  checkpoint: ChatTemplateSpec | null;
  /** Picks the built-in template when the checkpoint has none. */
  family: DecoderConfig['family'];
  /** A built-in name, or the name of one of the checkpoint's named templates: wins over both. */
  override?: string;
}

/**
 * The template to use: an explicit override, else the checkpoint's ('default' of a named list),
 * else the built-in one of the decoder family.
 */
export function selectChatTemplate(opts: SelectOptions): ChatTemplate {
  const named = Array.isArray(opts.checkpoint) ? opts.checkpoint : [];
  if (opts.override !== undefined) {
    if (isBuiltinTemplateName(opts.override)) return builtinTemplate(opts.override);
    const found = named.find((t) => t.name === opts.override);
    if (found) return { name: found.name, source: found.template };
    const choices = [...Object.keys(BUILTIN_TEMPLATES), ...named.map((t) => t.name)].map((n) => `"${n}"`).join(', ');
    throw new Error(`Expected one of ${choices} for the chat template name but received ${showJsonValue(opts.override)}`);
  }
  if (typeof opts.checkpoint === 'string') return { name: 'checkpoint', source: opts.checkpoint };
  if (named.length > 0) {
    const dflt = named.find((t) => t.name === 'default');
    if (dflt) return { name: 'default', source: dflt.template };
    const names = named.map((t) => `"${t.name}"`).join(', ');
    throw new Error(`Expected a chat template named "default" among the checkpoint's templates (${names}) but found none: choose one by name`);
  }
  return builtinTemplate(BUILTIN_BY_FAMILY[opts.family]);
}

const compiled = new Map<string, Template>();

function compile(t: ChatTemplate): Template {
  let tpl = compiled.get(t.source);
  if (tpl === undefined) {
    try {
      tpl = new Template(t.source);
    } catch (err) {
      throw new Error(`Expected a valid Jinja chat template (${t.name}) but parsing failed: ${(err as Error).message}`);
    }
    compiled.set(t.source, tpl);
  }
  return tpl;
}

/** Renders `messages` with the template, as transformers' apply_chat_template(tokenize=False) does. */
export function renderChat(messages: readonly TemplateMessage[], opts: RenderOptions): string {
  checkMessages(messages);
  const tpl = compile(opts.template);
  try {
    return tpl.render({
      ...opts.extra,
      messages,
      add_generation_prompt: opts.addGenerationPrompt ?? false,
      bos_token: opts.bosToken ?? '',
      eos_token: opts.eosToken ?? '',
    });
  } catch (err) {
    throw new Error(`Chat template ${opts.template.name} could not render the messages: ${(err as Error).message}`);
  }
}

export interface ChatPromptOptions {
  template: ChatTemplate;
  addGenerationPrompt?: boolean;
  /** EngineConfig.imageTokenId, and the image tokens of each image (one number: all images alike, e.g. EngineConfig.imageTokenCount). */
  imageTokenId: number;
  tokensPerImage: number | readonly number[];
  /** Images that go with the messages, one `<image>` placeholder each. */
  numImages: number;
}

/**
 * Messages -> the ids the engine consumes: render with the template (the tokenizer's BOS/EOS),
 * encode around the image placeholders, expand each to the image token count.
 */
export function chatPromptIds(tok: TextTokenizer, messages: readonly TemplateMessage[], opts: ChatPromptOptions): number[] {
  const text = renderChat(messages, { template: opts.template, addGenerationPrompt: opts.addGenerationPrompt, bosToken: tok.bosToken, eosToken: tok.eosToken });
  const ids = encodePrompt(tok, text, { imageTokenId: opts.imageTokenId });
  return expandImageTokens(ids, opts.imageTokenId, opts.tokensPerImage, opts.numImages);
}

/** Messages are user data: check their shape here, where the index can be named. */
function checkMessages(messages: readonly TemplateMessage[]): void {
  if (!Array.isArray(messages)) throw new TypeError(`Expected an array for messages but received ${showJsonValue(messages)}`);
  messages.forEach((m: unknown, i) => {
    if (!isPlainObject(m)) throw new TypeError(`Expected an object {role, content} for messages[${i}] but received ${showJsonValue(m)}`);
    if (typeof m.role !== 'string' || !(ROLES as readonly string[]).includes(m.role)) {
      throw new TypeError(`Expected one of "system", "user", "assistant" for messages[${i}].role but received ${showJsonValue(m.role)}`);
    }
    const c = m.content;
    const partsOk = Array.isArray(c) && c.every((p) => isPlainObject(p) && (p.type === 'image' || (p.type === 'text' && typeof p.text === 'string')));
    if (typeof c !== 'string' && !partsOk) {
      throw new TypeError(
        `Expected a string or a list of {type: "image"} / {type: "text", text} parts for messages[${i}].content but received ${showJsonValue(c)}`,
      );
    }
  });
}
