// Research script: where a --reasoned model's answers go wrong (models/toy-llava/README.md). Reads
// the final evaluation a `stic toy pretrain --reasoned` run wrote (<model>/eval/responses.jsonl) and,
// per question type that names a shape, splits each answer into its items ("a red star: yes") and
// its final answer, then counts:
//   listed    the items name exactly the scene's shapes (kind and colour, in any order)
//   verdicts  every verdict is the right one for the item as written (the question's shape compared
//             with the text of the item: the comparison alone, whatever the vision got wrong)
//   derived   the final answer follows from the items and verdicts as written
//   right     the final answer is right
//   npx tsx scripts/toy_reasoned_errors.ts <model folder> [eval seed 9001] [scenes 100]
import { readFileSync } from 'node:fs';
import path from 'node:path';

import { parseMentions } from '../lib/toy/parse.ts';
import { NAMING_TYPES, type ToyQa, finalAnswer, questions } from '../lib/toy/text.ts';
import { numberWord } from '../lib/toy/vocab.ts';
import { generateScenes } from '../lib/toy/world.ts';

const [model, seedArg = '9001', countArg = '100'] = process.argv.slice(2);
const scenes = generateScenes(Number(seedArg), Number(countArg));
const qas = new Map<string, { qa: ToyQa; scene: (typeof scenes)[number] }>();
for (const scene of scenes) for (const qa of questions(scene)) qas.set(qa.id, { qa, scene });
const responses = readFileSync(path.join(model, 'eval', 'responses.jsonl'), 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as { kind: string; id: string; response: string });

type Tally = { n: number; listed: number; verdicts: number; derived: number; right: number };
const tally = new Map<string, Tally>();
for (const r of responses) {
  const found = qas.get(r.id);
  if (r.kind !== 'answer' || found === undefined || !NAMING_TYPES.includes(found.qa.type)) continue;
  const { qa, scene } = found;
  const [named] = parseMentions(qa.question);
  const at = r.response.lastIndexOf(', so ');
  const items = (at < 0 ? '' : r.response.slice(0, at)).split(/, (?=an? )/).map((text) => {
    const [m] = parseMentions(text);
    return { text, kind: m?.kind, colour: m?.colour, verdict: text.trim().endsWith(': yes') };
  });
  const key = (k?: string, c?: string | null) => `${c ?? '?'} ${k ?? '?'}`;
  const listed = [...items.map((i) => key(i.kind, i.colour))].sort().join('|') === [...scene.shapes.map((s) => key(s.kind, s.colour))].sort().join('|');
  const verdicts = items.every((i) => i.verdict === (i.kind === named.kind && (named.colour === null || i.colour === named.colour)));
  const yes = items.filter((i) => i.verdict);
  const final = finalAnswer(r.response).trim();
  // exists: "yes" iff some verdict is; count of a kind: the number of "yes"; colour, position, size:
  // the one "yes" item's colour, place or size word.
  const derived =
    qa.type === 'exists' ? final === (yes.length > 0 ? 'yes' : 'no') : qa.type === 'count_kind' ? yes.length <= 10 && final === numberWord(yes.length) : yes.length === 1 && yes[0].text.includes(` ${final}`);
  const t = tally.get(qa.type) ?? { n: 0, listed: 0, verdicts: 0, derived: 0, right: 0 };
  t.n += 1;
  t.listed += Number(listed);
  t.verdicts += Number(verdicts);
  t.derived += Number(derived);
  t.right += Number(final === qa.answer);
  tally.set(qa.type, t);
}
const pct = (a: number, n: number) => `${((100 * a) / n).toFixed(1)}%`.padStart(7);
process.stdout.write(`type        n   listed verdicts  derived    right\n`);
for (const [type, t] of tally) process.stdout.write(`${type.padEnd(10)}${String(t.n).padStart(4)}${pct(t.listed, t.n)}  ${pct(t.verdicts, t.n)}  ${pct(t.derived, t.n)}  ${pct(t.right, t.n)}\n`);
