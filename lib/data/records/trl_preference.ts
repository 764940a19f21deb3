// TRL's DPO dataset format, read as preference pairs: one record per line
//   {"prompt": P, "chosen": C, "rejected": R, "images": [path]}   ("image": path also accepted)
// in either of TRL's two shapes:
// - standard: P, C and R are strings; P is taken as the user's turn (the chat template is applied,
//   as for every other pair: a prompt already rendered with a template would be templated twice);
// - conversational: P is a message list ending with a user turn, C and R are one assistant message
//   each; a content is a string or a list of {"type": "image"} / {"type": "text", "text": ...} parts,
//   as TRL's vision DPO examples write them (an image part is the `<image>` placeholder on its own
//   line, as the chat templates render it: lib/model/templates/content_macro.ts).
// A pair has one image; a prompt that does not mark where it goes gets the token in front of its
// user turn (LLaVA's layout), since TRL passes images beside the text. Optional "id": without one a
// record is named by its line ("line 12"): TRL records carry no id, and one image may serve several
// prompts. Image paths resolve like ours (image_root.ts), an "image_root" field included.
import { RecordError, shown } from './faults.ts';
import { type Obj, idField, optionalString } from './fields.ts';
import { IMAGE_ROOT_FIELD } from './image_root.ts';
import type { Located } from './load.ts';
import { IMAGE_TOKEN } from '../../model/tokenizer.ts';
import type { ChatMessage } from '../../model/chat_template.ts';
import { type PreferencePair, withImageToken } from './preference.ts';

/** Whether a record is in TRL's format: it has a "prompt" or an "images" field (ours and the public STIC files have neither). */
export function isTrlRecord(o: Obj): boolean {
  return o.prompt !== undefined || o.images !== undefined;
}

export function parseTrlPreference(o: Obj, at?: Located): PreferencePair {
  const id = o.id !== undefined ? idField(o) : at !== undefined ? `line ${at.line}` : 'line ?';
  const image = trlImage(o);
  const imageRoot = optionalString(o, IMAGE_ROOT_FIELD);
  const conversational = typeof o.prompt !== 'string';
  let prompt = conversational ? trlPrompt(o.prompt) : [{ role: 'user' as const, content: o.prompt as string }];
  if (!conversational && (o.prompt as string).trim() === '') throw new RecordError(`expected a non-empty string or a message list for "prompt" but received ${shown(o.prompt)}`);
  const chosen = trlAnswer(o, 'chosen', conversational);
  const rejected = trlAnswer(o, 'rejected', conversational);
  const images = prompt.reduce((n, m) => n + m.content.split(IMAGE_TOKEN).length - 1, 0);
  if (images > 1) throw new RecordError(`expected at most one image in "prompt" (one image per pair) but found ${images}`);
  if (images === 0) prompt = withImageToken(prompt);
  return {
    id,
    image,
    ...(imageRoot !== undefined ? { imageRoot } : {}),
    format: 'trl',
    prompt,
    chosen,
    rejected,
    promptHasImageToken: true,
  };
}

// The one image path: "images": [path] (TRL's column) or "image": path; a path may also be given as
// {"path": ...}, as the datasets library writes an image column to JSON.
function trlImage(o: Obj): string {
  if (o.images !== undefined && o.image !== undefined) throw new RecordError('expected "images" or "image" but the record has both');
  if (o.images === undefined) {
    if (o.image === undefined) throw new RecordError('expected "images": [path] (or "image": path) but the record has neither');
    return imagePath(o.image, 'image');
  }
  if (!Array.isArray(o.images) || o.images.length !== 1) {
    throw new RecordError(`expected a list of exactly one image path for "images" (one image per pair) but received ${shown(o.images)}`);
  }
  return imagePath(o.images[0], 'images[0]');
}

function imagePath(v: unknown, where: string): string {
  const p = v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj).path : v;
  if (typeof p !== 'string' || p.trim() === '') throw new RecordError(`expected an image path (a non-empty string or {"path": string}) for "${where}" but received ${shown(v)}`);
  return p;
}

const ROLES = ['system', 'user', 'assistant'] as const;

// A conversational prompt: a non-empty message list ending with a user turn.
function trlPrompt(v: unknown): ChatMessage[] {
  if (!Array.isArray(v) || v.length === 0) throw new RecordError(`expected a string or a non-empty message list [{role, content}] for "prompt" but received ${shown(v)}`);
  const out = v.map((m, i) => trlMessage(m, `prompt[${i}]`));
  const last = out[out.length - 1];
  if (last.role !== 'user') throw new RecordError(`expected "prompt" to end with a user message but the last role is "${last.role}"`);
  return out;
}

// An answer: a string (standard) or a list of exactly one assistant message (conversational).
function trlAnswer(o: Obj, key: 'chosen' | 'rejected', conversational: boolean): string {
  const v = o[key];
  if (!conversational) {
    if (typeof v !== 'string' || v.trim() === '') throw new RecordError(`expected a non-empty string for "${key}" (the standard format, as "prompt" is a string) but received ${shown(v)}`);
    return v;
  }
  if (!Array.isArray(v) || v.length !== 1) throw new RecordError(`expected a list of one assistant message for "${key}" (the conversational format, as "prompt" is a list) but received ${shown(v)}`);
  const m = trlMessage(v[0], `${key}[0]`);
  if (m.role !== 'assistant') throw new RecordError(`expected role "assistant" for "${key}[0].role" but received ${shown(m.role)}`);
  if (m.content.includes(IMAGE_TOKEN)) throw new RecordError(`expected text only in "${key}[0].content" but it holds an image`);
  if (m.content.trim() === '') throw new RecordError(`expected a non-empty answer in "${key}[0].content" but it is empty`);
  return m.content;
}

function trlMessage(m: unknown, where: string): ChatMessage {
  if (m === null || typeof m !== 'object' || Array.isArray(m)) throw new RecordError(`expected an object {role, content} for "${where}" but received ${shown(m)}`);
  const msg = m as Obj;
  if (typeof msg.role !== 'string' || !(ROLES as readonly string[]).includes(msg.role)) {
    throw new RecordError(`expected one of "system", "user", "assistant" for "${where}.role" but received ${shown(msg.role)}`);
  }
  return { role: msg.role as ChatMessage['role'], content: contentText(msg.content, `${where}.content`) };
}

// A content as text: a string as it is, parts joined as the chat templates render them.
function contentText(c: unknown, where: string): string {
  if (typeof c === 'string') return c;
  if (!Array.isArray(c)) throw new RecordError(`expected a string or a list of {"type": "image"} / {"type": "text", "text"} parts for "${where}" but received ${shown(c)}`);
  return c
    .map((p, i) => {
      const part = p !== null && typeof p === 'object' && !Array.isArray(p) ? (p as Obj) : undefined;
      if (part?.type === 'image') return `${IMAGE_TOKEN}\n`;
      if (part?.type === 'text' && typeof part.text === 'string') return part.text;
      throw new RecordError(`expected {"type": "image"} or {"type": "text", "text": string} for "${where}[${i}]" but received ${shown(p)}`);
    })
    .join('');
}
