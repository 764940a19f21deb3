// Training metrics: one JSON line per optimizer step, appended and flushed as training goes (so a
// crashed run still has its curve), turned at the end into the loss/reward chart and a one-screen
// summary. A resumed run first drops the rows logged after the checkpoint it resumes from, so the
// final log is the same as an uninterrupted run's.
import { readFile } from 'node:fs/promises';

import { writeFileAtomic } from './atomic_write.ts';
import type { ChartSpec, Panel, Series } from './chart.ts';
import { JsonlWriter } from './jsonl_writer.ts';
import { extent } from './extent.ts';

/** One optimizer step. DPO rows carry the reward fields; SFT rows only loss. */
export interface MetricsRow {
  step: number;
  lr?: number;
  loss: number;
  reward_chosen?: number;
  reward_rejected?: number;
  reward_margin?: number;
  reward_accuracy?: number;
  logp_chosen?: number;
  logp_rejected?: number;
  grad_norm?: number;
  [key: string]: number | undefined;
}

export class MetricsLog {
  private constructor(private readonly writer: JsonlWriter) {}

  /**
   * Opens `file` for appending. With `resumeStep`, rows with step >= resumeStep (logged after the
   * checkpoint being resumed) are removed first.
   */
  static async open(file: string, resumeStep?: number): Promise<MetricsLog> {
    if (resumeStep !== undefined) {
      const rows = (await readMetricsIfAny(file)).filter((r) => r.step < resumeStep);
      await writeFileAtomic(file, rows.map((r) => `${JSON.stringify(r)}\n`).join(''));
    }
    return new MetricsLog(await JsonlWriter.open(file, { idField: 'step' }));
  }

  get file(): string {
    return this.writer.file;
  }

  async append(rows: readonly MetricsRow[]): Promise<void> {
    await this.writer.append(rows);
  }

  async close(): Promise<void> {
    await this.writer.close();
  }
}

/** Every row of a metrics log (a torn last line is ignored). */
export async function readMetrics(file: string): Promise<MetricsRow[]> {
  const text = await readFile(file, 'utf8');
  const end = text.lastIndexOf('\n') + 1;
  return text
    .slice(0, end)
    .split('\n')
    .map((l, i) => [l, i] as const)
    .filter(([l]) => l.length > 0)
    .map(([l, i]) => {
      let row: MetricsRow;
      try {
        row = JSON.parse(l) as MetricsRow;
      } catch (err) {
        throw new Error(
          `${file}:${i + 1}: expected a metrics row (one JSON object per line) but the line does not parse (${(err as Error).message}); ` +
            `the file was damaged or edited: delete that line to go on without that step's row, or delete the file's folder to train this stage again`,
        );
      }
      if (row === null || typeof row !== 'object' || Array.isArray(row)) {
        throw new Error(`${file}:${i + 1}: expected a metrics row with numeric "step" and "loss" but received ${l.slice(0, 80)}`);
      }
      // JSON has no NaN: a non-finite value was written as null; it comes back as NaN.
      for (const k of Object.keys(row)) if ((row as Record<string, unknown>)[k] === null) row[k] = Number.NaN;
      if (typeof row.step !== 'number' || typeof row.loss !== 'number') {
        throw new Error(`${file}:${i + 1}: expected a metrics row with numeric "step" and "loss" but received ${l.slice(0, 80)}`);
      }
      return row;
    });
}

async function readMetricsIfAny(file: string): Promise<MetricsRow[]> {
  try {
    return await readMetrics(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/** The end-of-training chart: loss, then rewards (DPO), then reward accuracy (DPO), then lr. */
export function trainingChartSpec(title: string, rows: readonly MetricsRow[]): ChartSpec {
  const series = (key: string, name = key): Series => ({ name, points: rows.filter((r) => r[key] !== undefined).map((r) => [r.step, r[key] as number]) });
  const has = (key: string) => rows.some((r) => r[key] !== undefined);
  const panels: Panel[] = [{ title: 'loss', series: [series('loss')] }];
  if (has('reward_chosen') || has('reward_rejected') || has('reward_margin')) {
    panels.push({
      title: 'rewards (beta * log-ratio vs reference)',
      series: [series('reward_chosen', 'chosen'), series('reward_rejected', 'rejected'), series('reward_margin', 'margin')].filter((s) => s.points.length > 0),
    });
  }
  if (has('reward_accuracy')) panels.push({ title: 'reward accuracy', series: [series('reward_accuracy', 'accuracy')] });
  if (has('lr')) panels.push({ title: 'learning rate', series: [series('lr')] });
  return { title, xLabel: 'optimizer step', panels };
}

export interface SummaryExtra {
  /** Lines shown first, e.g. [["model", dir], ["pairs", "5000 (12 skipped)"]]. */
  header?: [string, string][];
  /** Lines shown last, e.g. the adapter and chart paths. */
  footer?: [string, string][];
}

/** A one-screen text summary of a training run (at most ~20 lines). */
export function trainingSummary(rows: readonly MetricsRow[], extra: SummaryExtra = {}): string {
  const lines: [string, string][] = [...(extra.header ?? [])];
  if (rows.length === 0) {
    lines.push(['steps', '0 (no metrics logged)']);
  } else {
    const losses = rows.map((r) => r.loss).filter(Number.isFinite);
    lines.push(['steps', String(rows[rows.length - 1].step + 1)]);
    lines.push(['loss', `first ${fmt(rows[0].loss)}, last ${fmt(rows[rows.length - 1].loss)}, min ${fmt(extent(losses, [Number.NaN, Number.NaN])[0])}, mean of last 10% ${fmt(tailMean(rows, 'loss'))}`]);
    for (const [key, label] of [['reward_margin', 'reward margin'], ['reward_accuracy', 'reward accuracy'], ['reward_chosen', 'reward chosen'], ['reward_rejected', 'reward rejected']] as const) {
      if (rows.some((r) => r[key] !== undefined)) lines.push([label, `mean of last 10% ${fmt(tailMean(rows, key))}`]);
    }
    const nonFinite = rows.filter((r) => !Number.isFinite(r.loss)).length;
    if (nonFinite > 0) lines.push(['warning', `${nonFinite} steps had a non-finite loss`]);
  }
  lines.push(...(extra.footer ?? []));
  const w = Math.max(...lines.map(([k]) => k.length));
  return `${lines.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n')}\n`;
}

// Mean of `key` over the last 10% of rows (at least one): a less noisy "final" value than the last row.
function tailMean(rows: readonly MetricsRow[], key: string): number {
  const vals = rows.map((r) => r[key]).filter((v): v is number => v !== undefined && Number.isFinite(v));
  if (vals.length === 0) return Number.NaN;
  const n = Math.max(1, Math.ceil(vals.length * 0.1));
  const tail = vals.slice(-n);
  return tail.reduce((a, b) => a + b, 0) / tail.length;
}

function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  return Math.abs(v) >= 1e-3 || v === 0 ? v.toFixed(4) : v.toExponential(3);
}
