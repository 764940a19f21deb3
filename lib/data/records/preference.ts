// Preference pairs (stage 1a output, stage 1b input), in three on-disk shapes:
// - ours (JSONL): {id, image, image_root, chosen, rejected, image_corruption, hallu_prompt, provenance,
//   ref_chosen_logp?, ref_rejected_logp?}: the public fields plus where the pair came from
//   (image_root: the folder `image` is relative to, relative to the file's folder; image_root.ts);
// - the public STIC release: {image, image_corruption, hallu_prompt, chosen, rejected} with no id
//   (its JSONL or the JSON array its training script reads). Its id is the image name;
// - TRL's DPO dataset format, {prompt, chosen, rejected, images: [path]}, standard or conversational
//   (trl_preference.ts), told apart by its "prompt" or "images" field.
// chosen/rejected are message lists [{role, content}, ...] ending with the assistant's answer; the
// turns before it (the prompt) must be the same in both, since a pair is two answers to one prompt.
import type { ChatMessage } from '../../model/chat_template.ts';
import { IMAGE_TOKEN } from '../../model/tokenizer.ts';
import { RecordError, shown } from './faults.ts';
import { type Obj, asObject, enumField, idField, optionalBoolean, optionalNumber, optionalString, stringField } from './fields.ts';
import { IMAGE_ROOT_FIELD } from './image_root.ts';
import type { Located, RecordFormat } from './load.ts';
import { isTrlRecord, parseTrlPreference } from './trl_preference.ts';

/** A user turn showing the image: the image token on its own line, then the text (LLaVA's layout). */
export function userTurn(text: string): ChatMessage {
  return { role: 'user', content: `${IMAGE_TOKEN}\n${text}` };
}

export const DISPREFERRED_KINDS = ['hallucination', 'corruption'] as const;
export type DispreferredKind = (typeof DISPREFERRED_KINDS)[number];

/** The corruption applied to the dispreferred image, as drawn (for provenance and reproduction). */
export interface CorruptionProvenance {
  kind: string;
  /** The parameters the kernel drew, e.g. {brightness: 1.21, hue: -0.08} (or, when not applied, the configured ones). */
  params: Record<string, unknown>;
  seed: number;
  /** false when the pair was made with --reproduce-uncorrupted on purpose (public defect (a)). */
  applied: boolean;
}

export interface SamplingProvenance {
  temperature: number;
  top_p: number;
  top_k: number;
  max_new_tokens: number;
}

export interface PreferenceProvenance {
  dispreferred: DispreferredKind;
  corruption: CorruptionProvenance | null;
  prompts: { preferred: string; dispreferred: string; stored: string };
  sampling: SamplingProvenance;
  seeds: { chosen: number; rejected: number };
  finish: { chosen: string; rejected: string };
  model: string;
  adapter: string | null;
  run_seed: number;
}

/** One line of our preference JSONL. */
export interface PreferenceRecord {
  id: string;
  image: string;
  image_root?: string;
  chosen: ChatMessage[];
  rejected: ChatMessage[];
  image_corruption: boolean;
  hallu_prompt: string;
  provenance: PreferenceProvenance;
  ref_chosen_logp?: number;
  ref_rejected_logp?: number;
}

export const PREFERENCE_FORMATS = ['stic', 'stic-public', 'trl'] as const;
export type PreferenceFormat = (typeof PREFERENCE_FORMATS)[number];

/** A pair as training sees it, whatever file shape it came from. */
export interface PreferencePair {
  id: string;
  image: string;
  /** The record's "image_root" (relative to its file's folder), when it has one. */
  imageRoot?: string;
  format: PreferenceFormat;
  /** The turns before the answer (normally one user turn). */
  prompt: ChatMessage[];
  chosen: string;
  rejected: string;
  /** Whether a user turn of the stored prompt holds the image token (public defect (b) when false). */
  promptHasImageToken: boolean;
  refChosenLogp?: number;
  refRejectedLogp?: number;
}

const ROLES = ['system', 'user', 'assistant'] as const;

/** A message list: non-empty, each {role, content}, ending with an assistant turn after a user turn. */
export function messageList(o: Obj, key: string): ChatMessage[] {
  const v = o[key];
  if (!Array.isArray(v) || v.length < 2) {
    throw new RecordError(`expected a list of at least 2 messages ({role, content}) for "${key}" but received ${shown(v)}`);
  }
  const out = v.map((m, i) => {
    const where = `${key}[${i}]`;
    if (m === null || typeof m !== 'object' || Array.isArray(m)) throw new RecordError(`expected an object {role, content} for "${where}" but received ${shown(m)}`);
    const msg = m as Obj;
    if (typeof msg.role !== 'string' || !(ROLES as readonly string[]).includes(msg.role)) {
      throw new RecordError(`expected one of "system", "user", "assistant" for "${where}.role" but received ${shown(msg.role)}`);
    }
    if (typeof msg.content !== 'string') throw new RecordError(`expected a string for "${where}.content" but received ${shown(msg.content)}`);
    return { role: msg.role as ChatMessage['role'], content: msg.content };
  });
  const last = out[out.length - 1];
  if (last.role !== 'assistant') throw new RecordError(`expected "${key}" to end with an assistant message but the last role is "${last.role}"`);
  if (!out.slice(0, -1).some((m) => m.role === 'user')) throw new RecordError(`expected "${key}" to have a user message before the answer`);
  return out;
}

/** Parses any of the three shapes into a training pair (`at`: where the record is, naming TRL records without an id). */
export function parsePreference(value: unknown, at?: Located): PreferencePair {
  const o = asObject(value);
  if (isTrlRecord(o)) return parseTrlPreference(o, at);
  const ours = o.provenance !== undefined;
  const id = ours ? idField(o) : o.id !== undefined ? idField(o) : stringField(o, 'image', { nonEmpty: true });
  const image = stringField(o, 'image', { nonEmpty: true });
  const imageRoot = optionalString(o, IMAGE_ROOT_FIELD);
  const chosen = messageList(o, 'chosen');
  const rejected = messageList(o, 'rejected');
  const prompt = chosen.slice(0, -1);
  if (JSON.stringify(prompt) !== JSON.stringify(rejected.slice(0, -1))) {
    throw new RecordError('expected "chosen" and "rejected" to share the same prompt turns but they differ');
  }
  optionalBoolean(o, 'image_corruption');
  optionalString(o, 'hallu_prompt');
  if (ours) checkProvenance(o.provenance);
  const refChosenLogp = optionalNumber(o, 'ref_chosen_logp', { max: 0 });
  const refRejectedLogp = optionalNumber(o, 'ref_rejected_logp', { max: 0 });
  if ((refChosenLogp === undefined) !== (refRejectedLogp === undefined)) {
    throw new RecordError('expected both "ref_chosen_logp" and "ref_rejected_logp" or neither but only one is present');
  }
  return {
    id,
    image,
    ...(imageRoot !== undefined ? { imageRoot } : {}),
    format: ours ? 'stic' : 'stic-public',
    prompt,
    chosen: chosen[chosen.length - 1].content,
    rejected: rejected[rejected.length - 1].content,
    promptHasImageToken: prompt.some((m) => m.role === 'user' && m.content.includes(IMAGE_TOKEN)),
    ...(refChosenLogp !== undefined ? { refChosenLogp, refRejectedLogp } : {}),
  };
}

// Our provenance: checked for shape so that a hand-edited or foreign file is caught, not trusted.
function checkProvenance(v: unknown): void {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new RecordError(`expected an object for "provenance" but received ${shown(v)}`);
  const p = v as Obj;
  const kind = enumField(p, 'dispreferred', DISPREFERRED_KINDS);
  if (kind === 'corruption') {
    const c = p.corruption;
    if (c === null || typeof c !== 'object' || Array.isArray(c)) throw new RecordError(`expected an object for "provenance.corruption" but received ${shown(c)}`);
    stringField(c as Obj, 'kind', { nonEmpty: true });
  } else if (p.corruption !== null && p.corruption !== undefined) {
    throw new RecordError(`expected null for "provenance.corruption" of a hallucination pair but received ${shown(p.corruption)}`);
  }
}

export const preferenceFormat: RecordFormat<PreferencePair> = {
  noun: 'preference pairs',
  parse: parsePreference,
  id: (p) => p.id,
};

/** The image token put in front of the user turn when a stored prompt lost it (LLaVA's own layout). */
export function withImageToken(prompt: ChatMessage[]): ChatMessage[] {
  const i = prompt.findIndex((m) => m.role === 'user');
  return prompt.map((m, k) => (k === i ? { ...m, content: `${IMAGE_TOKEN}\n${m.content}` } : m));
}
