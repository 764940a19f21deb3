// What `stic eval` leaves on disk. Per model and benchmark, in <out>/<name>/<bench>-<split>[-describe-first]/:
//   results.json (every number and breakdown), results.md (the same as tables), scores.jsonl (how
//   each item was scored: the answer, what was read from it, its score).
// Across everything evaluated into <out>: comparison.json, comparison.md (one row per benchmark,
// one column per model, changes against the first model) and comparison.svg/.png (grouped bars).
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

import { writeFileAtomic, writeJsonAtomic } from '../util/atomic_write.ts';
import { writeBarChart } from '../util/bar_chart.ts';
import type { BenchResult, ScoreTable } from './types.ts';

export interface StoredResult extends Omit<BenchResult, 'items'> {
  /** Column name of the model, e.g. "base", "stage1", "final". */
  name: string;
  model: string;
  adapter: string | null;
  describeFirst: boolean;
}

/** Folder name of one benchmark run, e.g. "mmbench-dev-describe-first". */
export function benchFolder(bench: string, split: string, describeFirst: boolean): string {
  return `${bench}-${split}${describeFirst ? '-describe-first' : ''}`;
}

export async function writeBenchResult(dir: string, r: BenchResult, who: { name: string; model: string; adapter: string | null; describeFirst: boolean }): Promise<StoredResult> {
  const { items, ...rest } = r;
  const stored: StoredResult = { ...who, ...rest };
  await writeFileAtomic(path.join(dir, 'scores.jsonl'), items.map((it) => `${JSON.stringify(it)}\n`).join(''));
  await writeJsonAtomic(path.join(dir, 'results.json'), stored);
  await writeFileAtomic(path.join(dir, 'results.md'), formatResultMarkdown(stored));
  return stored;
}

const num = (v: number | null): string => (v === null ? 'n/a' : Number.isInteger(v) ? String(v) : v.toFixed(2));

export function formatResultMarkdown(r: StoredResult): string {
  const lines = [
    `# ${r.bench} (${r.split})${r.describeFirst ? ', describe-and-respond' : ''}: ${r.name}`,
    '',
    `Model \`${r.model}\`${r.adapter === null ? '' : `, adapter \`${r.adapter}\``}. Percent unless the metric says otherwise.`,
    '',
    '| metric | value |',
    '|---|---:|',
    ...Object.entries(r.metrics).map(([k, v]) => `| ${k} | ${num(v)} |`),
  ];
  for (const t of r.tables) lines.push('', ...formatTable(t));
  if (r.notes.length > 0) lines.push('', ...r.notes.map((n) => `- ${n}`));
  return `${lines.join('\n')}\n`;
}

function formatTable(t: ScoreTable): string[] {
  return [
    `## ${t.title}`,
    '',
    `| group | n | ${t.columns.join(' | ')} |`,
    `|---|---:|${t.columns.map(() => '---:').join('|')}|`,
    ...t.rows.map((row) => `| ${row.label} | ${row.n} | ${row.values.map(num).join(' | ')} |`),
  ];
}

/** Every results.json under <out>/<name>/<folder>/. */
export async function collectResults(out: string): Promise<StoredResult[]> {
  const found: StoredResult[] = [];
  const names = await readdir(out, { withFileTypes: true }).catch(() => []);
  for (const n of names.filter((d) => d.isDirectory()).sort((a, b) => a.name.localeCompare(b.name))) {
    const benches = await readdir(path.join(out, n.name), { withFileTypes: true });
    for (const b of benches.filter((d) => d.isDirectory()).sort((x, y) => x.name.localeCompare(y.name))) {
      const file = path.join(out, n.name, b.name, 'results.json');
      const text = await readFile(file, 'utf8').catch(() => null);
      if (text !== null) found.push(JSON.parse(text) as StoredResult);
    }
  }
  return found;
}

export interface Comparison {
  /** Model names in column order. */
  models: string[];
  rows: { benchmark: string; metric: string; values: (number | null)[] }[];
}

/**
 * One row per benchmark run, one column per model. Models keep the order of `order` (then the
 * order of an earlier comparison, then alphabetical for new ones).
 */
export function buildComparison(results: StoredResult[], order: string[] = []): Comparison {
  const names = [...new Set(results.map((r) => r.name))];
  const models = [...order.filter((m) => names.includes(m)), ...names.filter((m) => !order.includes(m)).sort()];
  const rowKey = (r: StoredResult) => `${r.bench} ${r.split}${r.describeFirst ? ' (describe-first)' : ''}`;
  const keys = [...new Set(results.map(rowKey))].sort();
  return {
    models,
    rows: keys.map((k) => {
      const of = results.filter((r) => rowKey(r) === k);
      return { benchmark: k, metric: of[0].headline.metric, values: models.map((m) => of.find((r) => r.name === m)?.headline.value ?? null) };
    }),
  };
}

export function formatComparisonMarkdown(c: Comparison): string {
  const cell = (v: number | null, base: number | null, first: boolean) => {
    if (v === null) return 'n/a';
    if (first || base === null) return v.toFixed(1);
    const d = v - base;
    return `${v.toFixed(1)} (${d >= 0 ? '+' : ''}${d.toFixed(1)})`;
  };
  return `${[
    `| benchmark | metric | ${c.models.join(' | ')} |`,
    `|---|---|${c.models.map(() => '---:').join('|')}|`,
    ...c.rows.map((r) => `| ${r.benchmark} | ${r.metric} | ${r.values.map((v, i) => cell(v, r.values[0], i === 0)).join(' | ')} |`),
  ].join('\n')}\n`;
}

/** Rewrites <out>/comparison.{json,md,svg,png} from every result under `out`. */
export async function writeComparison(out: string, order: string[] = []): Promise<Comparison> {
  const previous = await readFile(path.join(out, 'comparison.json'), 'utf8').then((t) => (JSON.parse(t) as Comparison).models, () => [] as string[]);
  const c = buildComparison(await collectResults(out), [...order, ...previous.filter((m) => !order.includes(m))]);
  await writeJsonAtomic(path.join(out, 'comparison.json'), c);
  await writeFileAtomic(path.join(out, 'comparison.md'), formatComparisonMarkdown(c));
  if (c.rows.length > 0) {
    await writeBarChart(path.join(out, 'comparison'), {
      title: 'stic eval: headline score per benchmark',
      groups: c.rows.map((r) => r.benchmark),
      series: c.models.map((m, i) => ({ name: m, values: c.rows.map((r) => r.values[i]) })),
    });
  }
  return c;
}
