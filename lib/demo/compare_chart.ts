// The demo's comparison chart: grouped bars, one group per headline metric (all ratios in [0, 1],
// drawn as percentages), one bar per evaluated model, each bar labelled with its value. SVG of our
// own (the line charts of lib/util/chart.ts suit training curves, not a handful of numbers), PNG by
// sharp. A metric a model has no value for (e.g. precision when nothing was described) gets no bar
// and an "n/a" label.
import sharp from 'sharp';

import { writeFileAtomic } from '../util/atomic_write.ts';
import type { ToyEvalReport } from '../toy/eval.ts';

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

const PALETTE = ['#7f7f7f', '#1f77b4', '#2ca02c', '#d62728', '#ff7f0e', '#9467bd'];
const M = { left: 56, right: 16, top: 70, bottom: 96 };
const PLOT_H = 300;

/** The chart as a standalone SVG document. */
export function comparisonSvg(title: string, columns: { name: string; report: ToyEvalReport }[], metrics: BarMetric[] = HEADLINE_METRICS): string {
  if (columns.length === 0) throw new RangeError('Expected at least one evaluated model for the comparison chart but received none');
  const groupW = Math.max(120, 26 * columns.length + 30);
  const width = M.left + metrics.length * groupW + M.right;
  const height = M.top + PLOT_H + M.bottom;
  const barW = (groupW - 30) / columns.length;
  const y = (v: number): number => M.top + PLOT_H * (1 - v);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans, Arial, sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(title)}</text>`,
  ];
  columns.forEach((c, i) => {
    const lx = M.left + i * 150;
    out.push(`<rect x="${lx}" y="36" width="12" height="12" fill="${PALETTE[i % PALETTE.length]}"/>`, `<text x="${lx + 16}" y="46">${esc(c.name)}</text>`);
  });
  for (let t = 0; t <= 100; t += 20) {
    out.push(`<line x1="${M.left}" x2="${width - M.right}" y1="${f(y(t / 100))}" y2="${f(y(t / 100))}" stroke="#e0e0e0"/>`, `<text x="${M.left - 6}" y="${f(y(t / 100) + 4)}" text-anchor="end">${t}%</text>`);
  }
  metrics.forEach((metric, g) => {
    const gx = M.left + g * groupW + 15;
    columns.forEach((c, i) => {
      const v = metric.value(c.report);
      const x = gx + i * barW;
      if (v === null) {
        out.push(`<text x="${f(x + barW / 2)}" y="${f(y(0) - 4)}" text-anchor="middle" font-size="9">n/a</text>`);
        return;
      }
      out.push(
        `<rect x="${f(x + 1)}" y="${f(y(v))}" width="${f(barW - 2)}" height="${f(PLOT_H * v)}" fill="${PALETTE[i % PALETTE.length]}"/>`,
        `<text x="${f(x + barW / 2)}" y="${f(y(v) - 3)}" text-anchor="middle" font-size="9">${(100 * v).toFixed(1)}</text>`,
      );
    });
    out.push(...wrapLabel(metric.label, 20).map((line, k) => `<text x="${f(gx + (groupW - 30) / 2)}" y="${M.top + PLOT_H + 18 + 13 * k}" text-anchor="middle">${esc(line)}</text>`));
  });
  out.push(`<line x1="${M.left}" x2="${width - M.right}" y1="${y(0)}" y2="${y(0)}" stroke="#000000"/>`, '</svg>');
  return `${out.join('\n')}\n`;
}

/** Writes `<base>.svg` and `<base>.png`; returns both paths. */
export async function writeComparisonChart(base: string, title: string, columns: { name: string; report: ToyEvalReport }[]): Promise<{ svg: string; png: string }> {
  const svg = comparisonSvg(title, columns);
  const paths = { svg: `${base}.svg`, png: `${base}.png` };
  await writeFileAtomic(paths.svg, svg);
  await writeFileAtomic(paths.png, await sharp(Buffer.from(svg)).png().toBuffer());
  return paths;
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

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
