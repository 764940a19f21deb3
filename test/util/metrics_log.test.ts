// Metrics log: append per step, resume trimming rows logged after the checkpoint, and the summary.
import { expect } from 'chai';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { MetricsLog, type MetricsRow, readMetrics, trainingSummary } from '../../lib/util/metrics_log.ts';
import { rejectionOf } from '../helpers/rejection.ts';
import { makeRng } from '../helpers/rng.ts';

function jsonError(text: string): string {
  try {
    JSON.parse(text);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('expected invalid JSON');
}

function rows(from: number, to: number, seed: number): MetricsRow[] {
  const rng = makeRng(seed);
  return Array.from({ length: to - from }, (_, i) => ({ step: from + i, loss: 0.7 + 0.1 * rng.normal(), reward_margin: rng.normal() }));
}

describe('metrics log', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(tmpdir(), 'stic-metrics-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('a run resumed from a checkpoint at step 6 ends with the same log as an uninterrupted run', async () => {
    const all = rows(0, 12, 4);
    const whole = path.join(dir, 'whole.jsonl');
    const a = await MetricsLog.open(whole);
    for (const r of all) await a.append([r]);
    await a.close();

    const resumed = path.join(dir, 'resumed.jsonl');
    const b = await MetricsLog.open(resumed);
    for (const r of all.slice(0, 9)) await b.append([r]); // steps 6..8 logged after the last checkpoint (6)
    await b.close();
    appendFileSync(resumed, '{"step":9,"lo'); // and a torn line from the kill
    const c = await MetricsLog.open(resumed, 6);
    for (const r of all.slice(6)) await c.append([r]);
    await c.close();
    expect(readFileSync(resumed)).to.deep.equal(readFileSync(whole));
    expect((await readMetrics(resumed)).map((r) => r.step)).to.deep.equal(all.map((r) => r.step));
  });

  it('a damaged line inside the log stops a resume naming file and line and what to delete', async () => {
    const file = path.join(dir, 'metrics.jsonl');
    const lines = rows(0, 5, 6).map((r) => JSON.stringify(r));
    lines[2] = '{"step":2,"loss":0.7\u0000garbage';
    writeFileSync(file, `${lines.join('\n')}\n\n`);
    const err = await rejectionOf(MetricsLog.open(file, 4));
    expect(err.message).to.equal(
      `${file}:3: expected a metrics row (one JSON object per line) but the line does not parse (${jsonError(lines[2])}); ` +
        "the file was damaged or edited: delete that line to go on without that step's row, or delete the file's folder to train this stage again",
    );
    writeFileSync(file, `${lines[0]}\n\n[1,2]\n`);
    expect((await rejectionOf(readMetrics(file))).message).to.equal(`${file}:3: expected a metrics row with numeric "step" and "loss" but received [1,2]`);
  });

  it('summary: steps, loss first/last/min/tail mean, reward lines, extra lines', () => {
    const r: MetricsRow[] = [
      { step: 0, loss: 0.7, reward_margin: 0, reward_accuracy: 0 },
      { step: 1, loss: 0.5, reward_margin: 0.5, reward_accuracy: 1 },
      { step: 2, loss: 0.6, reward_margin: 0.25, reward_accuracy: 1 },
    ];
    const s = trainingSummary(r, { header: [['model', 'm']], footer: [['adapter', 'out/dpo']] });
    expect(s).to.equal(
      [
        'model            m',
        'steps            3',
        'loss             first 0.7000, last 0.6000, min 0.5000, mean of last 10% 0.6000',
        'reward margin    mean of last 10% 0.2500',
        'reward accuracy  mean of last 10% 1.0000',
        'adapter          out/dpo',
        '',
      ].join('\n'),
    );
    expect(trainingSummary([{ step: 0, loss: Number.NaN }])).to.contain('warning  1 steps had a non-finite loss');
    expect(trainingSummary([])).to.equal('steps  0 (no metrics logged)\n');
  });
});

describe('metrics log with non-finite values', () => {
  it('a NaN loss is written as null and read back as NaN', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'stic-metrics-'));
    try {
      const file = path.join(dir, 'm.jsonl');
      const log = await MetricsLog.open(file);
      await log.append([{ step: 0, loss: 0.5 }, { step: 1, loss: Number.NaN }]);
      await log.close();
      expect(readFileSync(file, 'utf8')).to.equal('{"step":0,"loss":0.5}\n{"step":1,"loss":null}\n');
      const back = await readMetrics(file);
      expect(Number.isNaN(back[1].loss)).to.equal(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
