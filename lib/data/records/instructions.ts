// LLaVA instruction data, a JSON array (or JSONL) of
//   {id, image?, conversations: [{from: "human" | "gpt", value}, ...], ...other fields}
// Samples without `image` are text-only (LLaVA-665k has some); they are valid. Other fields are
// kept as they are, so infuse writes back exactly what it read plus the description.
import { RecordError, shown } from './faults.ts';
import { type Obj, asObject, idField, optionalString, stringField } from './fields.ts';
import { IMAGE_ROOT_FIELD } from './image_root.ts';
import type { RecordFormat } from './load.ts';

export interface Turn {
  from: 'human' | 'gpt';
  value: string;
}

export interface InstructionSample {
  id: string;
  image?: string;
  /** The record's "image_root" (relative to its file's folder; image_root.ts), when it has one. */
  imageRoot?: string;
  conversations: Turn[];
  /** The record exactly as read (written back by infuse with only the first human turn changed). */
  raw: Obj;
}

export function parseInstruction(value: unknown): InstructionSample {
  const o = asObject(value);
  const id = idField(o);
  const image = o.image === undefined ? undefined : stringField(o, 'image', { nonEmpty: true });
  const imageRoot = optionalString(o, IMAGE_ROOT_FIELD);
  const conv = o.conversations;
  if (!Array.isArray(conv) || conv.length === 0) {
    throw new RecordError(`expected a non-empty list of turns ({from, value}) for "conversations" but received ${shown(conv)}`);
  }
  const conversations = conv.map((t, i) => {
    const where = `conversations[${i}]`;
    if (t === null || typeof t !== 'object' || Array.isArray(t)) throw new RecordError(`expected an object {from, value} for "${where}" but received ${shown(t)}`);
    const turn = t as Obj;
    if (turn.from !== 'human' && turn.from !== 'gpt') {
      throw new RecordError(`expected "human" or "gpt" for "${where}.from" but received ${shown(turn.from)}`);
    }
    if (typeof turn.value !== 'string') throw new RecordError(`expected a string for "${where}.value" but received ${shown(turn.value)}`);
    return { from: turn.from, value: turn.value } as Turn;
  });
  if (conversations[0].from !== 'human') throw new RecordError(`expected the first turn of "conversations" to be from "human" but it is from "${conversations[0].from}"`);
  return { id, ...(image !== undefined ? { image } : {}), ...(imageRoot !== undefined ? { imageRoot } : {}), conversations, raw: o };
}

export const instructionFormat: RecordFormat<InstructionSample> = {
  noun: 'instruction samples',
  parse: parseInstruction,
  id: (s) => s.id,
};
