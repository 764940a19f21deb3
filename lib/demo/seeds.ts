// `stic demo --seeds N`: the demo run N times, seeds s, s+1, ..., s+N-1, each a complete demo in
// <out>/seed-<k>/ (its own toy world 70000 + k: unlabeled images, hence pairs, instruction set and
// held-out scenes; its own training order and LoRA initialisation), and one table over the runs:
// per metric and model the mean and the seed-to-seed standard deviation, and with --control the
// difference STIC final minus control final, paired by seed (both arms of a seed share its data).
// "Outside the spread" means every seed's own difference has the same sign (the range of the
// per-seed differences excludes 0): no seed contradicts the mean. With 3 seeds that is a weak test
// (a coin would pass it 1 time in 4), which is why the table shows the per-seed range as well.
// Legend: N seeds.
import path from 'node:path';

import { writeFileAtomic, writeJsonAtomic } from '../util/atomic_write.ts';
import { type MetricRow, metricRows } from '../eval/toy_table.ts';
import type { ToyEvalReport } from '../eval/toy_score.ts';
import type { DemoDeps, DemoOptions, DemoResult } from './demo.ts';

export interface SeedRun {
  seed: number;
  result: DemoResult;
}

export interface MetricSpread {
  label: string;
  /** Per model name: mean and sample standard deviation over the seeds (null where a seed has no value). */
  models: Record<string, { mean: number; sd: number } | null>;
  /** STIC final - control final, per seed, and their mean and sd (absent without the control arm). */
  difference?: { perSeed: number[]; mean: number; sd: number; outside: boolean };
}

export interface SeedsSummary {
  seeds: number[];
  models: string[];
  metrics: MetricSpread[];
  /** Pair quality over all seeds, per rejection kind ("all" first): pairs, chosen more / less accurate. */
  pairs: Record<string, { pairs: number; agree: number; disagree: number }>;
  seconds: number;
}

/** Runs the demo once per seed (a re-run continues each) and summarises the runs. */
export async function runDemoSeeds(o: DemoOptions, count: number, deps: DemoDeps, runOne: (o: DemoOptions, deps: DemoDeps) => Promise<DemoResult>): Promise<{ runs: SeedRun[]; summary: SeedsSummary; table: string; files: { markdown: string; json: string } }> {
  const started = Date.now();
  const runs: SeedRun[] = [];
  for (let k = 0; k < count; k++) {
    const seed = o.seed + k;
    deps.log(`\n== seed ${seed} (${k + 1} of ${count}) ==\n`);
    runs.push({ seed, result: await runOne({ ...o, seed, out: path.join(o.out, `seed-${seed}`) }, deps) });
  }
  const summary = summariseSeeds(runs, (Date.now() - started) / 1000);
  const table = seedsTable(summary, false);
  const files = { markdown: path.join(o.out, 'seeds.md'), json: path.join(o.out, 'seeds.json') };
  await writeFileAtomic(files.markdown, seedsMarkdown(summary));
  await writeJsonAtomic(files.json, summary);
  return { runs, summary, table, files };
}

/** Mean, spread and the paired STIC - control difference of every metric of the comparison table. */
export function summariseSeeds(runs: readonly { seed: number; result: Pick<DemoResult, 'evals' | 'pairs'> }[], seconds: number): SeedsSummary {
  if (runs.length === 0) throw new Error('Expected at least one demo run to summarise but received none');
  const models = runs[0].result.evals.map((e) => e.name);
  const reportOf = (run: (typeof runs)[number], name: string): ToyEvalReport => {
    const e = run.result.evals.find((x) => x.name === name);
    if (e === undefined) throw new Error(`Expected every seed's demo to evaluate "${name}" but seed ${run.seed} did not`);
    return e.report;
  };
  const rows: MetricRow[] = metricRows(runs[0].result.evals.map((e) => ({ name: e.name, report: e.report }))).filter((r) => r.count !== true);
  const hasControl = models.includes('control final') && models.includes('stic final');
  const metrics = rows.map((row): MetricSpread => {
    const spread: MetricSpread = { label: row.label, models: {} };
    for (const m of models) {
      const values = runs.map((run) => row.value(reportOf(run, m)));
      spread.models[m] = values.every((v) => v !== null) ? meanSd(values as number[]) : null;
    }
    if (hasControl) {
      const perSeed = runs.map((run) => {
        const a = row.value(reportOf(run, 'stic final'));
        const b = row.value(reportOf(run, 'control final'));
        return a === null || b === null ? null : a - b;
      });
      if (perSeed.every((d) => d !== null)) {
        const d = perSeed as number[];
        const { mean, sd } = meanSd(d);
        spread.difference = { perSeed: d, mean, sd, outside: d.every((x) => x > 0) || d.every((x) => x < 0) };
      }
    }
    return spread;
  });
  const pairs: SeedsSummary['pairs'] = {};
  for (const run of runs) {
    for (const [kind, b] of [['all', run.result.pairs.all] as const, ...Object.entries(run.result.pairs.byKind)]) {
      const t = (pairs[kind] ??= { pairs: 0, agree: 0, disagree: 0 });
      t.pairs += b.pairs;
      t.agree += b.agree;
      t.disagree += b.disagree;
    }
  }
  return { seeds: runs.map((r) => r.seed), models, metrics, pairs, seconds };
}

/** Mean and sample standard deviation (0 for one value). */
export function meanSd(values: readonly number[]): { mean: number; sd: number } {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const sd = values.length > 1 ? Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (values.length - 1)) : 0;
  return { mean, sd };
}

const pts = (v: number): string => (100 * v).toFixed(1);
const signed = (v: number): string => `${v >= 0 ? '+' : '-'}${Math.abs(100 * v).toFixed(1)}`;

/** The summary as a table: "mean ± sd" per model, then the difference columns. */
export function seedsTable(s: SeedsSummary, markdown: boolean): string {
  const withDiff = s.metrics.some((m) => m.difference !== undefined);
  const header = ['metric', ...s.models, ...(withDiff ? ['STIC - control (final)', 'per-seed range', 'outside spread'] : [])];
  const body = s.metrics.map((m) => [
    m.label,
    ...s.models.map((name) => {
      const v = m.models[name];
      return v === null ? 'n/a' : `${pts(v.mean)}% ± ${pts(v.sd)}`;
    }),
    ...(withDiff
      ? m.difference === undefined
        ? ['n/a', 'n/a', 'n/a']
        : [`${signed(m.difference.mean)} ± ${pts(m.difference.sd)}`, `${signed(Math.min(...m.difference.perSeed))} .. ${signed(Math.max(...m.difference.perSeed))}`, m.difference.outside ? 'yes' : 'no']
      : []),
  ]);
  if (markdown) {
    const row = (r: string[]): string => `| ${r.join(' | ')} |`;
    return [row(header), `|${header.map((_, j) => (j === 0 ? '---' : '---:')).join('|')}|`, ...body.map(row)].join('\n');
  }
  const all = [header, ...body];
  const widths = header.map((_, j) => Math.max(...all.map((r) => r[j].length)));
  const line = (r: string[]): string => r.map((c, j) => (j === 0 ? c.padEnd(widths[j]) : c.padStart(widths[j]))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

function seedsMarkdown(s: SeedsSummary): string {
  const pairs = Object.entries(s.pairs).map(([kind, p]) => {
    const differ = p.agree + p.disagree;
    return `| ${kind === 'all' ? 'all pairs' : kind} | ${p.pairs} | ${p.agree} / ${p.disagree} | ${differ > 0 ? `${pts(p.agree / differ)}%` : 'n/a'} |`;
  });
  return [
    '# stic demo over seeds',
    '',
    `Seeds ${s.seeds.join(', ')} (each a complete demo in seed-<k>/, with its results.md). Mean ± sample standard deviation over the seeds, in percent; differences in percentage points, paired by seed; "outside spread": every seed's difference has the same sign. Wall time ${Math.round(s.seconds)} s.`,
    '',
    seedsTable(s, true),
    '',
    'Pair quality over all seeds (the chosen answer against the rejected one, kind+colour, scored against the scenes\' truth before training; per seed in seed-<k>/results.md):',
    '',
    '| stage-1a pairs | pairs | chosen more / less accurate | chosen better where they differ |',
    '|---|---:|---:|---:|',
    ...pairs,
    '',
  ].join('\n');
}
