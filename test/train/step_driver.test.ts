// lib/train/step_driver.ts: the order of a step's bookkeeping (train -> due evaluation, its fields in
// the row -> record -> due checkpoint -> onStep -> stop), checkpoints every N steps and after the
// last, nothing after train where a step records nothing, and the stop after a step's checkpoint.
import { expect } from 'chai';

import type { MetricsRow } from '../../lib/util/metrics_log.ts';
import { type StepPlan, runSteps } from '../../lib/train/step_driver.ts';

/** A plan over `total` steps from `start` that logs every call. */
function logged(start: number, total: number, extra: Partial<StepPlan> = {}): { plan: StepPlan; log: string[]; rows: MetricsRow[] } {
  const log: string[] = [];
  const rows: MetricsRow[] = [];
  const plan: StepPlan = {
    start,
    total,
    train: async (s) => {
      log.push(`train ${s}`);
      return { step: s, loss: s / 10 };
    },
    evaluation: {
      due: (done) => done % 2 === 0,
      run: async (done) => {
        log.push(`eval ${done}`);
        return { eval_loss: done };
      },
    },
    record: (row) => {
      log.push(`record ${row.step}`);
      rows.push(row);
    },
    checkpointEvery: 3,
    checkpoint: async (done) => void log.push(`checkpoint ${done}`),
    onStep: (done) => void log.push(`step ${done}`),
    ...extra,
  };
  return { plan, log, rows };
}

describe('step driver (lib/train/step_driver.ts)', () => {
  it('runs each step as train, due evaluation, record, due checkpoint, onStep; checkpoints every N and after the last', async () => {
    const { plan, log, rows } = logged(1, 4);
    await runSteps(plan);
    expect(log).to.deep.equal([
      'train 1', 'eval 2', 'record 1', 'step 2',
      'train 2', 'record 2', 'checkpoint 3', 'step 3',
      'train 3', 'eval 4', 'record 3', 'checkpoint 4', 'step 4',
    ]);
    expect(rows).to.deep.equal([{ step: 1, loss: 0.1, eval_loss: 2 }, { step: 2, loss: 0.2 }, { step: 3, loss: 0.3, eval_loss: 4 }]);
  });

  it('does nothing after train for a step without a row (a rank that records nothing)', async () => {
    const { plan, log } = logged(0, 3, { train: async (s) => (log.push(`train ${s}`), null) });
    await runSteps(plan);
    expect(log).to.deep.equal(['train 0', 'train 1', 'train 2']);
  });

  it('stops after the step during which it was asked to, its checkpoint written', async () => {
    const stop = new AbortController();
    const { plan, log } = logged(0, 6, {
      stop: { signal: stop.signal, error: (done) => new Error(`stopped after ${done}`) },
      onStep: (done) => void (done === 3 && stop.abort()),
    });
    const err = await runSteps(plan).catch((e: Error) => e);
    expect((err as Error).message).to.equal('stopped after 3');
    expect(log.slice(-2)).to.deep.equal(['record 2', 'checkpoint 3']);
  });
});
