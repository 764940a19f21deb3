// Charts and summaries of long runs (issue 19): Math.min(...xs) over a few hundred thousand metric
// rows overflowed the call stack. extent() is a loop; the chart and the summary use it.
import { expect } from 'chai';

import { chartSvg } from '../../lib/util/chart.ts';
import { extent } from '../../lib/util/extent.ts';
import { type MetricsRow, trainingChartSpec, trainingSummary } from '../../lib/util/metrics_log.ts';
import { makeRng } from '../helpers/rng.ts';

describe('extent, and charts and summaries of long series', () => {
  it('extent equals the spread Math.min/Math.max on random series, and the fallback when empty', () => {
    const rng = makeRng(7);
    const rand = () => rng.next();
    for (let t = 0; t < 20; t++) {
      const xs = Array.from({ length: 1 + Math.floor(rand() * 500) }, () => (rand() - 0.5) * 1e3);
      expect(extent(xs, [0, 1])).to.deep.equal([Math.min(...xs), Math.max(...xs)]);
    }
    expect(extent([], [3, 4])).to.deep.equal([3, 4]);
  });

  it('a 300,000-step run gets its chart and summary (no call-stack overflow)', () => {
    const rng = makeRng(11);
    const rand = () => rng.next();
    const rows: MetricsRow[] = Array.from({ length: 300_000 }, (_, step) => ({ step, epoch: step / 1e5, lr: 1e-5, loss: 0.7 - step * 1e-6 + rand() * 0.01, grad_norm: rand(), examples: 8, tokens: 4000, tokens_per_s: 1000 + rand() }));
    const svg = chartSvg(trainingChartSpec('long run', rows));
    expect(svg.startsWith('<svg')).to.equal(true);
    const summary = trainingSummary(rows);
    const min = rows.reduce((m, r) => Math.min(m, r.loss), Infinity);
    expect(summary).to.match(/min (\S+),/);
    expect(Number(/min (\S+),/.exec(summary)?.[1])).to.be.closeTo(min, 1e-3);
  });
});
