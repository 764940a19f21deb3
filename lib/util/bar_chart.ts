// Grouped bar charts as SVG (and PNG by sharp, as lib/util/chart.ts does for line charts): one group
// per category (a benchmark, a metric), one bar per series (a model) with its value printed on it.
// The value axis starts at 0 and ends at `max` (default: 100, or above when a value is larger). A
// missing value gets no bar and an "n/a" label; a long group label is broken into lines at spaces.
// `stic eval`'s comparison of benchmarks and `stic demo`'s comparison of models both draw one.
import { escapeXml, writeSvgAndPng } from './chart.ts';

export interface BarChartSpec {
  title: string;
  /** Group labels along the x axis. */
  groups: string[];
  /** One bar per series in every group; values[g] belongs to groups[g]. */
  series: { name: string; values: (number | null)[] }[];
  /** Unit suffix of the axis labels, e.g. "%". */
  unit?: string;
  max?: number;
}

const PALETTE = ['#7f7f7f', '#1f77b4', '#2ca02c', '#d62728', '#ff7f0e', '#9467bd', '#17becf', '#8c564b'];
const M = { left: 56, right: 16, top: 70, bottom: 96 };
/** Characters per line of a group label (three lines fit under the axis). */
const LABEL_WIDTH = 20;
const PLOT_H = 300;

export function barChartSvg(spec: BarChartSpec): string {
  if (spec.series.length === 0 || spec.groups.length === 0) throw new RangeError('Expected at least one series and one group for a bar chart but received none');
  for (const s of spec.series) {
    if (s.values.length !== spec.groups.length) throw new RangeError(`Expected ${spec.groups.length} values for series "${s.name}" but received ${s.values.length}`);
  }
  const finite = spec.series.flatMap((s) => s.values).filter((v): v is number => v !== null && Number.isFinite(v));
  const max = spec.max ?? Math.max(100, ...finite.map((v) => Math.ceil(v / 20) * 20));
  const groupW = Math.max(120, 26 * spec.series.length + 30);
  const width = M.left + spec.groups.length * groupW + M.right;
  const height = M.top + PLOT_H + M.bottom;
  const barW = (groupW - 30) / spec.series.length;
  const y = (v: number): number => M.top + PLOT_H * (1 - Math.max(0, v) / max);
  const unit = spec.unit ?? '';
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans, Arial, sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(spec.title)}</text>`,
  ];
  spec.series.forEach((s, i) => {
    const lx = M.left + i * 150;
    out.push(`<rect x="${lx}" y="36" width="12" height="12" fill="${PALETTE[i % PALETTE.length]}"/>`, `<text x="${lx + 16}" y="46">${escapeXml(s.name)}</text>`);
  });
  for (let k = 0; k <= 5; k++) {
    const t = (max * k) / 5;
    out.push(`<line x1="${M.left}" x2="${width - M.right}" y1="${f(y(t))}" y2="${f(y(t))}" stroke="#e0e0e0"/>`, `<text x="${M.left - 6}" y="${f(y(t) + 4)}" text-anchor="end">${Number(t.toFixed(1))}${escapeXml(unit)}</text>`);
  }
  spec.groups.forEach((g, gi) => {
    const gx = M.left + gi * groupW + 15;
    spec.series.forEach((s, i) => {
      const v = s.values[gi];
      const x = gx + i * barW;
      if (v === null || !Number.isFinite(v)) {
        out.push(`<text x="${f(x + barW / 2)}" y="${f(y(0) - 4)}" text-anchor="middle" font-size="9">n/a</text>`);
        return;
      }
      out.push(
        `<rect x="${f(x + 1)}" y="${f(y(v))}" width="${f(barW - 2)}" height="${f(y(0) - y(v))}" fill="${PALETTE[i % PALETTE.length]}"/>`,
        `<text x="${f(x + barW / 2)}" y="${f(y(v) - 3)}" text-anchor="middle" font-size="9">${v.toFixed(1)}</text>`,
      );
    });
    out.push(...wrapLabel(g, LABEL_WIDTH).map((line, k) => `<text x="${f(gx + (groupW - 30) / 2)}" y="${M.top + PLOT_H + 18 + 13 * k}" text-anchor="middle">${escapeXml(line)}</text>`));
  });
  out.push(`<line x1="${M.left}" x2="${width - M.right}" y1="${y(0)}" y2="${y(0)}" stroke="#000000"/>`, '</svg>');
  return `${out.join('\n')}\n`;
}

/** Writes `<base>.svg` and `<base>.png`; returns both paths. */
export async function writeBarChart(base: string, spec: BarChartSpec): Promise<{ svg: string; png: string }> {
  return writeSvgAndPng(base, barChartSvg(spec));
}

// A label as lines of at most `width` characters, broken at spaces.
function wrapLabel(label: string, width: number): string[] {
  const lines: string[] = [];
  for (const word of label.split(' ')) {
    const last = lines[lines.length - 1];
    if (last !== undefined && last.length + 1 + word.length <= width) lines[lines.length - 1] = `${last} ${word}`;
    else lines.push(word);
  }
  return lines;
}

const f = (v: number): string => v.toFixed(1);
