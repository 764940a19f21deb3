// Research script: one seed of `stic demo` with the recipe's training values overridden, reusing a
// finished demo's data, pairs and base evaluation (so only dpo onwards runs). Prints the table.
//   npx tsx scripts/demo_sweep.ts <finished demo out> <new out> '<json of DEMO_TRAINING overrides>' [seed]
import { existsSync } from 'node:fs';
import { cp, mkdir } from 'node:fs/promises';
import path from 'node:path';

import { runDemo } from '../lib/demo/demo.ts';
import { BUILTIN_MODEL } from '../lib/demo/options.ts';
import { DEMO_SCALE } from '../lib/demo/recipe.ts';
import { openImages, openInference, openTraining } from '../lib/stic/engines.ts';
import { silentProgress } from '../lib/util/progress.ts';

const [from, out, json, seedArg] = process.argv.slice(2);
const seed = Number(seedArg ?? 0);
await mkdir(path.join(out, 'stic'), { recursive: true });
await cp(path.join(from, 'data'), path.join(out, 'data'), { recursive: true });
await cp(path.join(from, 'prompts.json'), path.join(out, 'prompts.json'));
for (const f of ['pref.jsonl', 'pref.jsonl.done.json', 'pref.jsonl.settings.json', 'pref.jsonl.skipped.jsonl']) {
  if (existsSync(path.join(from, 'stic', f))) await cp(path.join(from, 'stic', f), path.join(out, 'stic', f)); // no skipped file when none was skipped
}
await mkdir(path.join(out, 'eval'), { recursive: true });
await cp(path.join(from, 'eval', 'base.json'), path.join(out, 'eval', 'base.json'));
const r = await runDemo(
  { out, model: BUILTIN_MODEL, seed, control: false, images: 400, instructions: 200, heldout: 200, threads: 1, scale: DEMO_SCALE, training: JSON.parse(json) },
  { openInference, openImages, openTraining, progress: silentProgress, log: () => {} },
);
process.stdout.write(`${json}\n${r.table}\n`);
