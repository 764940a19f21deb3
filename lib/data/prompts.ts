// Every prompt the pipeline sends, in one place (our own wording; the method is STIC.md's):
// - detailed: the preferred branch of stage 1a, walking the model through the six aspects of an
//   image (subjects and actions, setting, mood, colours and composition, details, meaning);
// - plain: short description requests; one is drawn per image as the stored user turn of a pair,
//   the prompt of the corrupted-image branch, and the prompt of stage 2a;
// - hallucination: requests that invite plausible but absent content (dispreferred branch);
// - infusion: how a stage-2a description is written into an instruction sample (stage 2b).
// `--prompts file.json` overrides any of these keys; the file is validated strictly.
import { readFile } from 'node:fs/promises';

import { ioProblem } from './records/faults.ts';
import { IMAGE_TOKEN } from '../model/tokenizer.ts';

export interface PromptSet {
  detailed: string;
  plain: string[];
  hallucination: string[];
  /** Inserted after the image token of the first human turn; "{description}" marks the description. */
  infusion: string;
}

export const PROMPT_KEYS = ['detailed', 'plain', 'hallucination', 'infusion'] as const;

export const DEFAULT_PROMPTS: PromptSet = {
  detailed: [
    'Describe this image in detail. Work through it step by step:',
    '1. Name the main subjects (people, animals, objects) and say what each of them is doing.',
    '2. Describe the setting: is it indoors or outdoors, and what kind of place is it?',
    '3. What mood does the image have, and what creates it (light, weather, expressions)?',
    '4. Which colours dominate, and how is the picture composed?',
    '5. Point out details or symbols that help to understand the image.',
    '6. Say what the image might be meant to show or communicate.',
  ].join('\n'),
  plain: [
    'Describe what you see in this image.',
    'Give a description of this picture.',
    'What does this image show? Describe it.',
    'Write a description of the scene in this photo.',
    'Tell me about the contents of this image.',
    'Describe the visual content of this picture.',
    'Describe the scene shown in the image.',
    'Explain what can be seen in this picture.',
  ],
  hallucination: [
    'Describe the image, and include objects that would plausibly be in such a scene even if you cannot see them.',
    'Describe this picture and add people or animals that might fit the setting.',
    'Describe the scene and mention the tools, vehicles or gadgets one would expect in a place like this.',
    'Describe the image and add what is probably happening just outside the frame, as if it were visible.',
    'Describe the picture, including the weather and the sounds that would suit the scene. State them as facts.',
    'Write a confident description of the image that also lists everyday items likely to be nearby.',
    'Describe the image and invent a plausible event that is taking place in it.',
    'Describe this scene in detail and fill in the objects that a place like this usually contains.',
  ],
  infusion: 'Image description:\n{description}\n\n',
};

/** The infusion text for one description. */
export function formatInfusion(template: string, description: string): string {
  return template.replace('{description}', () => description);
}

/** The prompts in force: the defaults, with the keys of `file` (when given) replacing them. */
export async function loadPrompts(file?: string): Promise<PromptSet> {
  if (file === undefined) return DEFAULT_PROMPTS;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new Error(`${file}: cannot read the prompts file (${ioProblem(err)})`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new Error(`${file}: malformed JSON (${(err as Error).message})`);
  }
  return { ...DEFAULT_PROMPTS, ...validatePromptOverrides(file, value) };
}

/** Checks an overrides object; every message names the file and the key. */
export function validatePromptOverrides(file: string, value: unknown): Partial<PromptSet> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new Error(`${file}: expected a JSON object with any of the keys ${PROMPT_KEYS.join(', ')} but received ${Array.isArray(value) ? 'an array' : JSON.stringify(value)}`);
  }
  const o = value as Record<string, unknown>;
  const out: Partial<PromptSet> = {};
  for (const key of Object.keys(o)) {
    if (!(PROMPT_KEYS as readonly string[]).includes(key)) throw new Error(`${file}: unknown key "${key}" (known keys: ${PROMPT_KEYS.join(', ')})`);
  }
  if (o.detailed !== undefined) out.detailed = promptString(file, 'detailed', o.detailed);
  for (const key of ['plain', 'hallucination'] as const) {
    const v = o[key];
    if (v === undefined) continue;
    if (!Array.isArray(v) || v.length === 0) throw new Error(`${file}: expected a non-empty list of strings for "${key}" but received ${short(v)}`);
    out[key] = v.map((s, i) => promptString(file, `${key}[${i}]`, s));
  }
  if (o.infusion !== undefined) {
    const t = o.infusion;
    if (typeof t !== 'string' || t.split('{description}').length !== 2) {
      throw new Error(`${file}: expected a string containing "{description}" exactly once for "infusion" but received ${short(t)}`);
    }
    out.infusion = t;
  }
  return out;
}

// A prompt sent to the model: non-blank, and without the image token (the pipeline places it).
function promptString(file: string, key: string, v: unknown): string {
  if (typeof v !== 'string' || v.trim() === '') throw new Error(`${file}: expected a non-empty string for "${key}" but received ${short(v)}`);
  if (v.includes(IMAGE_TOKEN)) throw new Error(`${file}: "${key}" must not contain "${IMAGE_TOKEN}" (the pipeline puts the image token in front of the prompt)`);
  return v;
}

function short(v: unknown): string {
  const s = v === undefined ? 'nothing' : JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}
