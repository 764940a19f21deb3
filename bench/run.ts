// `npm run bench`: runs every bench/*.bench.ts (or those whose name contains an argument) and
// prints one table per suite. Ratios are "times better than the baseline" from the same run.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { type BenchModule, formatTable } from './harness.ts';

const dir = path.dirname(fileURLToPath(import.meta.url));
const filters = process.argv.slice(2);
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();

if (files.length === 0) {
  process.stderr.write(`no benchmarks matched ${filters.join(', ') || '(none exist yet)'}\n`);
}
for (const f of files) {
  const mod = (await import(pathToFileURL(path.join(dir, f)).href)) as Partial<BenchModule> & { explicitOnly?: boolean };
  if (typeof mod.run !== 'function' || typeof mod.title !== 'string') {
    throw new Error(`${f}: a benchmark must export \`title\` (string) and \`run()\``);
  }
  if (mod.explicitOnly && !filters.some((x) => f.includes(x))) {
    process.stderr.write(`skipping ${f} (run it by name: npm run bench -- ${f.replace('.bench.ts', '')})\n`);
    continue;
  }
  process.stderr.write(`running ${f} ...\n`);
  const rows = await mod.run();
  process.stdout.write(`\n${formatTable(mod.title, rows)}\n`);
}
