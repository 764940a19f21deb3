// Training metrics: one JSON line per optimizer step, appended and flushed as training goes (so a
// crashed run still has its curve), turned at the end into the loss/reward chart and a one-screen
// summary. A resumed run first drops the rows logged after the checkpoint it resumes from, so the
// final log is the same as an uninterrupted run's.
import { readFile } from 'node:fs/promises';

import { writeFileAtomic } from './atomic_write.ts';
import { type ChartSpec, PALETTE, type Panel, type Series } from './chart.ts';
import { JsonlWriter } from './jsonl_writer.ts';
import { extent } from './extent.ts';

/**
 * One optimizer step. DPO rows carry the reward fields; SFT rows only loss. A DPO run with held-out
 * pairs adds eval_loss, eval_reward_accuracy, eval_reward_margin, eval_reward_chosen,
 * eval_reward_rejected and eval_pairs to the rows of the steps after which they were measured.
 */
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

/**
 * The end-of-training chart: loss, rewards and reward accuracy (DPO), gradient norm, tokens/s and the
 * learning rate. Noisy per-step series are drawn raw (faint) under a smoothed line; dashed marks end
 * each epoch.
 */
export function trainingChartSpec(title: string, rows: readonly MetricsRow[]): ChartSpec {
  const series = (key: string, name = key): Series => ({ name, points: rows.filter((r) => r[key] !== undefined).map((r) => [r.step, r[key] as number]) });
  const has = (key: string) => rows.some((r) => r[key] !== undefined);
  // A series and, when it has enough points to be noisy, its smoothed line over it in the same colour.
  const withSmooth = (raw: Series, k: number): Series[] => {
    const color = PALETTE[k % PALETTE.length];
    if (raw.points.length < SMOOTH_FROM) return [{ ...raw, color }];
    return [{ ...raw, name: `${raw.name} (raw)`, color, faint: true }, { name: `${raw.name} (smoothed)`, color, points: smoothed(raw.points) }];
  };
  const smoothPanel = (title: string, list: Series[]): Panel => ({ title, series: list.filter((s) => s.points.length > 0).flatMap(withSmooth) });
  // Held-out pairs (DPO --eval-prefs) are a second series in the loss, rewards and accuracy panels.
  const panels: Panel[] = [smoothPanel('loss', [series('loss'), series('eval_loss', 'held-out loss')])];
  if (has('reward_chosen') || has('reward_rejected') || has('reward_margin')) {
    panels.push(smoothPanel('rewards (beta * log-ratio vs reference)', [series('reward_chosen', 'chosen'), series('reward_rejected', 'rejected'), series('reward_margin', 'margin'), series('eval_reward_margin', 'held-out margin')]));
  }
  if (has('reward_accuracy')) panels.push(smoothPanel('reward accuracy', [series('reward_accuracy', 'accuracy'), series('eval_reward_accuracy', 'held-out accuracy')]));
  if (has('grad_norm')) panels.push(smoothPanel('gradient norm (before clipping)', [series('grad_norm', 'grad norm')]));
  if (has('tokens_per_s')) panels.push(smoothPanel('throughput (tokens/s)', [series('tokens_per_s', 'tokens/s')]));
  if (has('lr')) panels.push({ title: 'learning rate', series: [series('lr')] });
  return { title, xLabel: 'optimizer step', panels, marks: epochMarks(rows) };
}

/** Series shorter than this are drawn as they are. */
const SMOOTH_FROM = 10;

/**
 * Exponential moving average with TensorBoard's debiasing (weight 0.9 scaled to the series length, so
 * a long run is smoothed over ~1% of its steps and a short one lightly); NaN points are skipped.
 */
export function smoothed(points: readonly [number, number][]): [number, number][] {
  const weight = Math.min(0.98, Math.max(0.6, 1 - 10 / points.length));
  let avg = 0;
  let n = 0;
  return points.map(([x, y]) => {
    if (!Number.isFinite(y)) return [x, Number.NaN];
    avg = weight * avg + (1 - weight) * y;
    n++;
    return [x, avg / (1 - weight ** n)];
  });
}

// A mark at the step where each epoch ends, but the last (the end of training is the chart's edge);
// epoch = (step + 1) / steps per epoch in the metrics.
function epochMarks(rows: readonly MetricsRow[]): { x: number; label: string }[] {
  const marks: { x: number; label: string }[] = [];
  let done = 0;
  rows.forEach((r, i) => {
    if (typeof r.epoch !== 'number') return;
    while (r.epoch >= done + 1 - 1e-9) {
      done++;
      if (i < rows.length - 1) marks.push({ x: r.step, label: `epoch ${done}` });
    }
  });
  return marks;
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
    lines.push(...heldOutSummary(rows));
    const nonFinite = rows.filter((r) => !Number.isFinite(r.loss)).length;
    if (nonFinite > 0) lines.push(['warning', `${nonFinite} steps had a non-finite loss`]);
  }
  lines.push(...(extra.footer ?? []));
  const w = Math.max(...lines.map(([k]) => k.length));
  return `${lines.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n')}\n`;
}

// The held-out evaluations (eval_* fields, measured after the update of their row's step): the
// first and the last of loss, reward accuracy and margin.
function heldOutSummary(rows: readonly MetricsRow[]): [string, string][] {
  const evaluated = rows.filter((r) => r.eval_loss !== undefined);
  if (evaluated.length === 0) return [];
  const [first, last] = [evaluated[0], evaluated[evaluated.length - 1]];
  const at = (r: MetricsRow, key: string) => `${fmt(r[key] as number)} after step ${r.step + 1}`;
  return (
    [
      ['eval_loss', 'held-out loss'],
      ['eval_reward_accuracy', 'held-out accuracy'],
      ['eval_reward_margin', 'held-out margin'],
    ] as const
  ).map(([key, label]) => [label, evaluated.length === 1 ? at(last, key) : `${at(last, key)} (first ${at(first, key)}; ${evaluated.length} evaluations)`]);
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
