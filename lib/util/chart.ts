// Line charts as SVG (and PNG: sharp rasterises the SVG, text included), for the loss/reward chart
// written at the end of training. No plotting library: a chart is a few stacked panels sharing the
// x axis, each with "nice" ticks, one polyline per series and a legend. Non-finite points break a
// line instead of bending it to zero.
import sharp from 'sharp';

import { writeFileAtomic } from './atomic_write.ts';
import { extent } from './extent.ts';

export interface Series {
  name: string;
  /** [x, y] pairs in increasing x. */
  points: [number, number][];
  color?: string;
  /** Drawn thin and pale under the others (the raw values beneath their smoothed line). */
  faint?: boolean;
}

export interface Panel {
  title: string;
  series: Series[];
}

export interface ChartSpec {
  title: string;
  xLabel: string;
  panels: Panel[];
  /** Vertical marks across every panel, e.g. the end of each epoch. */
  marks?: { x: number; label: string }[];
  /** Pixels (default 800 wide, 260 per panel). */
  width?: number;
  panelHeight?: number;
}

/** Series colours, in order. */
export const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#17becf'];
const MARGIN = { left: 70, right: 20, top: 44, bottom: 40, gap: 34 };

/** The chart as a standalone SVG document. */
export function chartSvg(spec: ChartSpec): string {
  if (spec.panels.length === 0) throw new RangeError('Expected at least one panel for a chart but received none');
  const width = spec.width ?? 800;
  const ph = spec.panelHeight ?? 260;
  const height = MARGIN.top + spec.panels.length * ph + (spec.panels.length - 1) * MARGIN.gap + MARGIN.bottom;
  const xs = spec.panels.flatMap((p) => p.series.flatMap((s) => s.points.map(([x]) => x))).filter(Number.isFinite);
  const xTicks = niceTicks(...extent(xs, [0, 1]));
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans, Arial, sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${width / 2}" y="24" text-anchor="middle" font-size="16" font-weight="bold">${escapeXml(spec.title)}</text>`,
  ];
  spec.panels.forEach((panel, i) => {
    const top = MARGIN.top + i * (ph + MARGIN.gap);
    const box = { x: MARGIN.left, y: top + 18, w: width - MARGIN.left - MARGIN.right, h: ph - 18 };
    out.push(...panelSvg(panel, box, xTicks, i === spec.panels.length - 1 ? spec.xLabel : null, spec.marks ?? [], i === 0));
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

interface Box { x: number; y: number; w: number; h: number }

// One panel: frame, grid and tick labels, the series, the legend.
function panelSvg(panel: Panel, box: Box, xTicks: number[], xLabel: string | null, marks: { x: number; label: string }[], labelMarks: boolean): string[] {
  const ys = panel.series.flatMap((s) => s.points.map(([, y]) => y)).filter(Number.isFinite);
  const yTicks = niceTicks(...extent(ys, [0, 1]));
  const [x0, x1] = [xTicks[0], xTicks[xTicks.length - 1]];
  const [y0, y1] = [yTicks[0], yTicks[yTicks.length - 1]];
  const px = (x: number) => box.x + ((x - x0) / (x1 - x0)) * box.w;
  const py = (y: number) => box.y + box.h - ((y - y0) / (y1 - y0)) * box.h;
  const out = [
    `<g class="panel" data-title="${escapeXml(panel.title)}">`,
    `<text x="${box.x}" y="${box.y - 6}" font-weight="bold">${escapeXml(panel.title)}</text>`,
    `<rect class="frame" x="${box.x}" y="${box.y}" width="${box.w}" height="${box.h}" fill="none" stroke="#444"/>`,
  ];
  for (const t of yTicks) {
    out.push(`<line class="grid" x1="${box.x}" x2="${box.x + box.w}" y1="${f(py(t))}" y2="${f(py(t))}" stroke="#ddd"/>`);
    out.push(`<text class="ytick" x="${box.x - 6}" y="${f(py(t) + 4)}" text-anchor="end">${tickLabel(t)}</text>`);
  }
  for (const t of xTicks) {
    out.push(`<text class="xtick" x="${f(px(t))}" y="${box.y + box.h + 15}" text-anchor="middle">${tickLabel(t)}</text>`);
  }
  if (xLabel !== null) out.push(`<text x="${box.x + box.w / 2}" y="${box.y + box.h + 32}" text-anchor="middle">${escapeXml(xLabel)}</text>`);
  for (const m of marks) {
    if (!(m.x > x0 && m.x < x1)) continue;
    out.push(`<line class="mark" x1="${f(px(m.x))}" x2="${f(px(m.x))}" y1="${box.y}" y2="${box.y + box.h}" stroke="#999" stroke-dasharray="4 3"/>`);
    if (labelMarks) out.push(`<text class="mark" x="${f(px(m.x) + 3)}" y="${box.y + box.h - 4}" font-size="10" fill="#777">${escapeXml(m.label)}</text>`);
  }
  // Faint series first, so that the lines drawn over them stay readable.
  const order = panel.series.map((s, k) => ({ s, k })).sort((a, b) => Number(b.s.faint ?? false) - Number(a.s.faint ?? false));
  for (const { s, k } of order) {
    const color = s.color ?? PALETTE[k % PALETTE.length];
    const stroke = s.faint ? `stroke="${color}" stroke-opacity="0.3" stroke-width="1"` : `stroke="${color}" stroke-width="1.6"`;
    for (const run of finiteRuns(s.points)) {
      const pts = run.map(([x, y]) => `${f(px(x))},${f(py(y))}`).join(' ');
      out.push(`<polyline data-series="${escapeXml(s.name)}" points="${pts}" fill="none" ${stroke}/>`);
    }
  }
  panel.series.forEach((s, k) => {
    const color = s.color ?? PALETTE[k % PALETTE.length];
    const ly = box.y + 14 + 16 * k;
    out.push(`<line x1="${box.x + box.w - 150}" x2="${box.x + box.w - 130}" y1="${ly - 4}" y2="${ly - 4}" stroke="${color}" stroke-width="2"/>`);
    out.push(`<text class="legend" x="${box.x + box.w - 124}" y="${ly}">${escapeXml(s.name)}</text>`);
  });
  out.push('</g>');
  return out;
}

// Consecutive runs of finite points (a NaN loss splits the line rather than dropping to 0).
function finiteRuns(points: [number, number][]): [number, number][][] {
  const runs: [number, number][][] = [];
  let cur: [number, number][] = [];
  for (const p of points) {
    if (Number.isFinite(p[0]) && Number.isFinite(p[1])) cur.push(p);
    else if (cur.length) {
      runs.push(cur);
      cur = [];
    }
  }
  if (cur.length) runs.push(cur);
  return runs;
}

/** Tick values covering [lo, hi] with a 1/2/5 x 10^k step, about `count` of them. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (lo === hi) {
    const pad = lo === 0 ? 1 : Math.abs(lo) * 0.1;
    [lo, hi] = [lo - pad, hi + pad];
  }
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) as number;
  const first = Math.floor(lo / step) * step;
  const ticks: number[] = [];
  for (let t = first; t < hi + step * 0.5; t += step) ticks.push(Number(t.toPrecision(12)));
  if (ticks[ticks.length - 1] < hi) ticks.push(Number((ticks[ticks.length - 1] + step).toPrecision(12)));
  return ticks;
}

function tickLabel(t: number): string {
  if (t === 0) return '0';
  const a = Math.abs(t);
  return a >= 1e5 || a < 1e-3 ? t.toExponential(1) : String(Number(t.toPrecision(4)));
}

const f = (v: number): string => v.toFixed(1);

/** Text as it may appear in SVG text and attribute values. */
export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Writes `<base>.svg` and `<base>.png`; returns both paths. */
export async function writeChart(base: string, spec: ChartSpec): Promise<{ svg: string; png: string }> {
  return writeSvgAndPng(base, chartSvg(spec));
}

/** Writes an SVG document as `<base>.svg` and `<base>.png` (rendered by sharp at the SVG's own size); returns both paths. */
export async function writeSvgAndPng(base: string, svg: string): Promise<{ svg: string; png: string }> {
  const png = await sharp(Buffer.from(svg)).png().toBuffer();
  const paths = { svg: `${base}.svg`, png: `${base}.png` };
  await writeFileAtomic(paths.svg, svg);
  await writeFileAtomic(paths.png, png);
  return paths;
}
