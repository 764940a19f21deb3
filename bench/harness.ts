// Benchmark plumbing shared by every bench/*.bench.ts: timing with medians, and the one table
// format (baseline and ours from the same run, side by side, with the ratio).

/** One measured comparison. `higherIsBetter` says how to read the ratio (ours/baseline or baseline/ours). */
export interface BenchRow {
  name: string;
  unit: string;
  baselineName: string;
  baseline: number | null;
  ours: number;
  higherIsBetter: boolean;
  note?: string;
}

export interface BenchModule {
  /** Human title of the suite, e.g. "CPU kernels". */
  title: string;
  run(): Promise<BenchRow[]>;
}

/** Median of repeated timings (ms) of fn after `warmup` untimed calls. */
export async function medianMs(fn: () => unknown | Promise<unknown>, repeats = 7, warmup = 1): Promise<number> {
  for (let i = 0; i < warmup; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = process.hrtime.bigint();
    await fn();
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return median(times);
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** "ours vs baseline" as a speed-up factor (> 1 means we are better). */
export function ratio(row: BenchRow): number | null {
  if (row.baseline === null || row.baseline === 0 || row.ours === 0) return null;
  return row.higherIsBetter ? row.ours / row.baseline : row.baseline / row.ours;
}

function fmt(x: number | null): string {
  if (x === null) return '-';
  if (Math.abs(x) >= 1000) return x.toFixed(0);
  if (Math.abs(x) >= 10) return x.toFixed(1);
  return x.toPrecision(3);
}

export function formatTable(title: string, rows: BenchRow[]): string {
  const header = ['benchmark', 'unit', 'baseline', 'baseline value', 'stic', 'ratio'];
  const body = rows.map((r) => [r.name, r.unit, r.baselineName, fmt(r.baseline), fmt(r.ours), ratio(r) === null ? '-' : `${fmt(ratio(r))}x`]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('  ');
  const notes = rows.filter((r) => r.note).map((r) => `  * ${r.name}: ${r.note}`);
  return [`## ${title}`, line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line), ...notes].join('\n');
}
