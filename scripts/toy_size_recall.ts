// How well a toy model's descriptions name small shapes against large ones, from the responses of
// a `stic toy pretrain` evaluation (its eval/responses.jsonl, held-out world seed 9001): for every
// shape of every described scene, whether the description mentions something at its position, and
// whether with its kind, and with its kind and colour. models/toy-llava/README.md ("Where it fails")
// quotes it for the built-in model:
//   npx tsx scripts/toy_size_recall.ts [responses.jsonl, default models/toy-llava/eval/responses.jsonl]
import { readFileSync } from 'node:fs';

import { TOY_PRETRAIN_DEFAULTS } from '../lib/pretrain/toy_pretrain.ts';
import { parseMentions } from '../lib/toy/parse.ts';
import { SIZES } from '../lib/toy/vocab.ts';
import { generateScene } from '../lib/toy/world.ts';

const [file = 'models/toy-llava/eval/responses.jsonl'] = process.argv.slice(2);
const rows = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { kind: string; sceneId?: string; text?: string });
// [shapes, something at its place, its kind there, its kind and colour there] per size.
const tally = Object.fromEntries(SIZES.map((z) => [z, [0, 0, 0, 0]]));
for (const r of rows.filter((x) => x.kind === 'description')) {
  const m = /^toy-(\d+)-(\d+)$/.exec(r.sceneId ?? '');
  if (!m || Number(m[1]) !== TOY_PRETRAIN_DEFAULTS.evalSeed) throw new Error(`${file}: expected a held-out scene id toy-${TOY_PRETRAIN_DEFAULTS.evalSeed}-<n> but found ${String(r.sceneId)}`);
  const scene = generateScene(Number(m[1]), Number(m[2]));
  const mentions = parseMentions(r.text ?? '').filter((x) => !x.negated && x.position !== null);
  for (const s of scene.shapes) {
    const at = mentions.filter((x) => x.position === s.position);
    const t = tally[s.size];
    t[0]++;
    if (at.length > 0) t[1]++;
    if (at.some((x) => x.kind === s.kind)) t[2]++;
    if (at.some((x) => x.kind === s.kind && x.colour === s.colour)) t[3]++;
  }
}
const pct = (a: number, b: number) => `${((100 * a) / b).toFixed(1)}%`.padStart(7);
process.stdout.write('size    shapes   placed     kind  kind+colour\n');
for (const [z, [n, placed, kind, colour]] of Object.entries(tally)) process.stdout.write(`${z.padEnd(6)}${String(n).padStart(8)}${pct(placed, n)}  ${pct(kind, n)}      ${pct(colour, n)}\n`);
