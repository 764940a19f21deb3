// Charts: SVG structure (panels, one polyline per finite run, legend, ticks covering the data),
// point placement against a plain mapping, and the PNG rendered by sharp at the SVG's size.
import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';

import { chartSvg, niceTicks, writeChart } from '../../lib/util/chart.ts';
import { type MetricsRow, smoothed, trainingChartSpec } from '../../lib/util/metrics_log.ts';
import { makeRng } from '../helpers/rng.ts';

function randomRows(n: number, seed: number): MetricsRow[] {
  const rng = makeRng(seed);
  return Array.from({ length: n }, (_, step) => {
    const margin = 0.02 * step + 0.1 * rng.normal();
    return {
      step,
      lr: 1e-7 * Math.min(1, (step + 1) / 5),
      loss: 0.69 - 0.004 * step + 0.02 * rng.normal(),
      reward_chosen: margin / 2,
      reward_rejected: -margin / 2,
      reward_margin: margin,
      reward_accuracy: rng.next() < 0.5 + step / (2 * n) ? 1 : 0,
    };
  });
}

const count = (s: string, re: RegExp) => (s.match(re) ?? []).length;

describe('charts', () => {
  it('niceTicks covers the range with a 1/2/5 step', () => {
    expect(niceTicks(0, 1)).to.deep.equal([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(0.0123, 0.0871)).to.deep.equal([0, 0.02, 0.04, 0.06, 0.08, 0.1]); // raw step 0.015 -> 0.02
    expect(niceTicks(-3, 17)).to.deep.equal([-5, 0, 5, 10, 15, 20]);
    const flat = niceTicks(2, 2);
    expect(flat[0]).to.be.below(2);
    expect(flat[flat.length - 1]).to.be.above(2);
  });

  it('a DPO chart: loss, rewards, accuracy, grad norm, tokens/s and lr panels; raw series faint under a smoothed line; epoch marks', () => {
    const rows = randomRows(40, 3).map((r) => ({ ...r, epoch: (r.step + 1) / 20, grad_norm: 1 + Math.sin(r.step), tokens_per_s: 900 + r.step }));
    const svg = chartSvg(trainingChartSpec('STIC stage 1b: DPO', rows));
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg" width="800" height="')).to.equal(true);
    expect(svg.trimEnd().endsWith('</svg>')).to.equal(true);
    expect(count(svg, /<g class="panel"/g)).to.equal(6);
    expect([...svg.matchAll(/data-title="([^"]+)"/g)].map((m) => m[1])).to.deep.equal([
      'loss', 'rewards (beta * log-ratio vs reference)', 'reward accuracy', 'gradient norm (before clipping)', 'throughput (tokens/s)', 'learning rate',
    ]);
    // per panel: the faint raw lines first, then their smoothed lines
    expect([...svg.matchAll(/data-series="([^"]+)"/g)].map((m) => m[1])).to.deep.equal([
      'loss (raw)', 'loss (smoothed)',
      'chosen (raw)', 'rejected (raw)', 'margin (raw)', 'chosen (smoothed)', 'rejected (smoothed)', 'margin (smoothed)',
      'accuracy (raw)', 'accuracy (smoothed)', 'grad norm (raw)', 'grad norm (smoothed)', 'tokens/s (raw)', 'tokens/s (smoothed)', 'lr',
    ]);
    expect(count(svg, /stroke-opacity="0.3"/g)).to.equal(7);
    for (const m of svg.matchAll(/<polyline data-series="[^"]+" points="([^"]+)"/g)) expect(m[1].split(' ').length).to.equal(40);
    // 2 epochs of 20 steps: one mark (the end of epoch 1, at step 19) in each of the 6 panels, labelled once
    expect(count(svg, /<line class="mark"/g)).to.equal(6);
    expect(count(svg, /<text class="mark"[^>]*>epoch 1</g)).to.equal(1);
    expect(svg).to.contain('STIC stage 1b: DPO');
  });

  it('smoothed: the debiased moving average starts at the first value, follows a constant exactly and skips NaN', () => {
    const pts: [number, number][] = Array.from({ length: 50 }, (_, i) => [i, 3]);
    for (const [, y] of smoothed(pts)) expect(y).to.be.closeTo(3, 1e-12);
    const noisy: [number, number][] = [[0, 1], [1, Number.NaN], [2, 5]];
    const s = smoothed(noisy);
    expect(s[0][1]).to.be.closeTo(1, 1e-12);
    expect(Number.isNaN(s[1][1])).to.equal(true);
    expect(s[2][1]).to.be.within(1, 5);
  });

  it('places points by the linear map of the ticks (first panel) and splits lines at non-finite values', () => {
    const pts: [number, number][] = [[0, 1], [1, 3], [2, Number.NaN], [3, 2], [4, 5]];
    const svg = chartSvg({ title: 't', xLabel: 'x', width: 600, panelHeight: 218, panels: [{ title: 'p', series: [{ name: 's', points: pts }] }] });
    const lines = [...svg.matchAll(/<polyline data-series="s" points="([^"]+)"/g)].map((m) => m[1].split(' ').map((p) => p.split(',').map(Number)));
    expect(lines.map((l) => l.length)).to.deep.equal([2, 2]);
    // Box: x from 70 to 580 (600 - 70 - 20), y from 44 + 18 = 62, height 200. Ticks: x 0..4, y 1..5.
    const xs = niceTicks(0, 4);
    const ys = niceTicks(1, 5);
    const px = (x: number) => 70 + ((x - xs[0]) / (xs[xs.length - 1] - xs[0])) * 510;
    const py = (y: number) => 62 + 200 - ((y - ys[0]) / (ys[ys.length - 1] - ys[0])) * 200;
    const want = [[[px(0), py(1)], [px(1), py(3)]], [[px(3), py(2)], [px(4), py(5)]]];
    lines.forEach((l, i) => l.forEach(([x, y], j) => {
      expect(Math.abs(x - want[i][j][0])).to.be.at.most(0.05);
      expect(Math.abs(y - want[i][j][1])).to.be.at.most(0.05);
    }));
  });

  it('escapes text', () => {
    const svg = chartSvg({ title: 'a<b & "c"', xLabel: 'x', panels: [{ title: 'p', series: [{ name: '<s>', points: [[0, 1], [1, 2]] }] }] });
    expect(svg).to.contain('a&lt;b &amp; &quot;c&quot;');
    expect(svg).to.contain('data-series="&lt;s&gt;"');
  });

  it('an SFT chart (loss only) writes an SVG and a PNG that sharp decodes at the SVG size', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'stic-chart-'));
    try {
      const rows = randomRows(25, 9).map(({ step, loss }) => ({ step, loss }));
      const files = await writeChart(path.join(dir, 'training'), trainingChartSpec('SFT', rows));
      expect(files).to.deep.equal({ svg: path.join(dir, 'training.svg'), png: path.join(dir, 'training.png') });
      const svg = readFileSync(files.svg, 'utf8');
      const [, w, h] = /width="(\d+)" height="(\d+)"/.exec(svg) as RegExpExecArray;
      expect(count(svg, /<g class="panel"/g)).to.equal(1);
      const meta = await sharp(files.png).metadata();
      expect(meta.format).to.equal('png');
      expect([meta.width, meta.height]).to.deep.equal([Number(w), Number(h)]);
      // The line is drawn: some pixels are neither white nor grey (the series colour).
      const { data } = await sharp(files.png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
      let coloured = 0;
      for (let i = 0; i < data.length; i += 3) if (Math.abs(data[i] - data[i + 2]) > 60) coloured++;
      expect(coloured).to.be.greaterThan(100);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a chart without panels', () => {
    expect(() => chartSvg({ title: 't', xLabel: 'x', panels: [] })).to.throw('Expected at least one panel for a chart but received none');
  });
});
