// How a toy model answers: directly ("blue"), or in the reasoned form of `stic toy pretrain
// --reasoned` (text.ts reasonedAnswer: "a red circle: no, a blue star: yes, so blue"), which needs a
// larger token budget, an instruction set in the same form, and its final answer read after the last
// ", so " (text.ts finalAnswer). A model folder says which in the training.json `stic toy pretrain`
// writes beside it.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** The token budget of one reasoned answer (six shapes, each named with colour, kind and place, and the answer). */
export const REASONED_ANSWER_TOKENS = 96;

/**
 * Whether the toy model in `dir` was pretrained to answer in the reasoned form (its training.json
 * records `reasoned: true`). A folder without training.json (any other model) answers directly.
 */
export function toyAnswersReasoned(dir: string): boolean {
  const file = path.join(dir, 'training.json');
  if (!existsSync(file)) return false;
  let record: unknown;
  try {
    record = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: expected the JSON record of a stic toy pretrain run but it does not parse (${(e as Error).message})`);
  }
  const reasoned = (record as { options?: { reasoned?: unknown } } | null)?.options?.reasoned;
  if (reasoned !== undefined && typeof reasoned !== 'boolean') throw new Error(`${file}: expected options.reasoned to be true or false but found ${JSON.stringify(reasoned)}`);
  return reasoned === true;
}
