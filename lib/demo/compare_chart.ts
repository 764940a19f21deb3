// The demo's comparison chart: lib/util/bar_chart.ts's grouped bars, one group per headline metric
// (all ratios in [0, 1], drawn as percentages), one bar per evaluated model, each bar labelled with
// its value. A metric a model has no value for (e.g. precision when nothing was described) gets no
// bar and an "n/a" label.
import type { ToyEvalReport } from '../eval/toy_score.ts';
import { type BarChartSpec, barChartSvg, writeBarChart } from '../util/bar_chart.ts';

export interface BarMetric {
  label: string;
  value: (r: ToyEvalReport) => number | null;
}

export const HEADLINE_METRICS: BarMetric[] = [
  { label: 'VQA accuracy', value: (r) => r.vqa.accuracy },
  { label: 'hallucination CHAIR_i (lower is better)', value: (r) => r.descriptions.hallucination.rate },
  { label: 'precision shape+colour', value: (r) => r.descriptions.levels.shape_colour.precision },
  { label: 'recall shape+colour', value: (r) => r.descriptions.levels.shape_colour.recall },
  { label: 'precision shape+position', value: (r) => r.descriptions.levels.shape_position.precision },
  { label: 'recall shape+position', value: (r) => r.descriptions.levels.shape_position.recall },
];

/** The chart as a standalone SVG document. */
export function comparisonSvg(title: string, columns: { name: string; report: ToyEvalReport }[], metrics: BarMetric[] = HEADLINE_METRICS): string {
  return barChartSvg(comparisonSpec(title, columns, metrics));
}

/** Writes `<base>.svg` and `<base>.png`; returns both paths. */
export async function writeComparisonChart(base: string, title: string, columns: { name: string; report: ToyEvalReport }[]): Promise<{ svg: string; png: string }> {
  return writeBarChart(base, comparisonSpec(title, columns, HEADLINE_METRICS));
}

// One group per metric, one series per model, the ratios as percentages.
function comparisonSpec(title: string, columns: { name: string; report: ToyEvalReport }[], metrics: BarMetric[]): BarChartSpec {
  if (columns.length === 0) throw new RangeError('Expected at least one evaluated model for the comparison chart but received none');
  const series = columns.map((c) => ({ name: c.name, values: metrics.map((m) => percent(m.value(c.report))) }));
  return { title, groups: metrics.map((m) => m.label), series, unit: '%', max: 100 };
}

function percent(v: number | null): number | null {
  return v === null ? null : 100 * v;
}
