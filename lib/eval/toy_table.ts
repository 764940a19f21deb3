// The before/after table of the demo: one row per metric of toy_score.ts, one column per evaluated model
// (e.g. base, after STIC, control run), each later column also showing its change against the
// first in percentage points. Plain aligned text for the terminal, or Markdown for the README.
import { DESCRIPTION_LEVELS, type DescriptionLevel, type ToyEvalReport } from './toy_score.ts';
import { QUESTION_TYPES } from '../toy/text.ts';

export interface ComparisonColumn {
  name: string;
  report: ToyEvalReport;
}

export interface TableOptions {
  /** Markdown pipe table instead of aligned text. Default false. */
  markdown?: boolean;
}

export interface MetricRow {
  label: string;
  /** A ratio in [0, 1] or null; integers are shown as counts when `count` is set. */
  value: (r: ToyEvalReport) => number | null;
  count?: boolean;
}

const LEVEL_LABEL: Record<DescriptionLevel, string> = {
  shape: 'shape',
  shape_colour: 'shape+colour',
  shape_position: 'shape+position',
};

/** The table's rows: counts, VQA overall and per type (those some column has), hallucination, description levels. */
export function metricRows(columns: readonly ComparisonColumn[]): MetricRow[] {
  const rows: MetricRow[] = [
    { label: 'questions scored', value: (r) => r.vqa.asked, count: true },
    { label: 'VQA accuracy', value: (r) => r.vqa.accuracy },
  ];
  for (const t of QUESTION_TYPES) {
    if (columns.some((c) => c.report.vqa.byType[t] !== undefined)) rows.push({ label: `VQA ${t}`, value: (r) => r.vqa.byType[t]?.accuracy ?? null });
  }
  rows.push(
    { label: 'descriptions scored', value: (r) => r.descriptions.count, count: true },
    { label: 'hallucination rate (CHAIR_i, lower is better)', value: (r) => r.descriptions.hallucination.rate },
    { label: 'descriptions hallucinating (CHAIR_s, lower is better)', value: (r) => r.descriptions.hallucination.descriptions },
  );
  for (const level of DESCRIPTION_LEVELS) {
    rows.push(
      { label: `precision ${LEVEL_LABEL[level]}`, value: (r) => r.descriptions.levels[level].precision },
      { label: `recall ${LEVEL_LABEL[level]}`, value: (r) => r.descriptions.levels[level].recall },
    );
  }
  return rows;
}

/** The comparison table; change columns are relative to `columns[0]`. */
export function formatComparisonTable(columns: readonly ComparisonColumn[], opts: TableOptions = {}): string {
  if (columns.length === 0) throw new Error('Expected at least one evaluated model for the comparison table but received none');
  const header = ['metric', ...columns.map((c) => c.name)];
  const body = metricRows(columns).map((row) => {
    const base = row.value(columns[0].report);
    return [row.label, ...columns.map((c, i) => cell(row.value(c.report), i === 0 ? undefined : base, row.count === true))];
  });
  return opts.markdown ? markdownTable(header, body) : textTable(header, body);
}

/** "45.0%", with " (+3.8)" points against the first column; counts as integers; null as "n/a". */
function cell(v: number | null, base: number | null | undefined, count: boolean): string {
  if (v === null) return 'n/a';
  if (count) return String(v);
  const pct = `${(100 * v).toFixed(1)}%`;
  if (base === undefined || base === null) return pct;
  const d = 100 * (v - base);
  return `${pct} (${d >= 0 ? '+' : '-'}${Math.abs(d).toFixed(1)})`;
}

function textTable(header: string[], body: string[][]): string {
  const all = [header, ...body];
  const widths = header.map((_, j) => Math.max(...all.map((r) => r[j].length)));
  const line = (r: string[]): string => r.map((c, j) => (j === 0 ? c.padEnd(widths[j]) : c.padStart(widths[j]))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

function markdownTable(header: string[], body: string[][]): string {
  const row = (r: string[]): string => `| ${r.map((c) => c.trim()).join(' | ')} |`;
  return [row(header), `|${header.map((_, j) => (j === 0 ? '---' : '---:')).join('|')}|`, ...body.map(row)].join('\n');
}
