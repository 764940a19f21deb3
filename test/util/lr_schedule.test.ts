// Learning-rate schedules: values at known steps (worked out by hand from the Hugging Face
// definitions), and the whole curve against a plain restatement of those definitions.
import { expect } from 'chai';

import { learningRateAt, learningRates, warmupSteps } from '../../lib/util/lr_schedule.ts';

const close = (a: number, b: number) => expect(Math.abs(a - b)).to.be.at.most(1e-15 + 1e-12 * Math.abs(b));

describe('learning-rate schedules', () => {
  it('warmup length is ceil(ratio * total), as TrainingArguments.get_warmup_steps', () => {
    expect(warmupSteps({ totalSteps: 750, warmupRatio: 0.03 })).to.equal(23); // 22.5 -> 23
    expect(warmupSteps({ totalSteps: 100, warmupRatio: 0.03 })).to.equal(3);
    expect(warmupSteps({ totalSteps: 10, warmupRatio: 0 })).to.equal(0);
  });

  it('cosine at known steps (total 100, warmup 0.1, lr 2e-5)', () => {
    const o = { kind: 'cosine' as const, lr: 2e-5, totalSteps: 100, warmupRatio: 0.1 };
    close(learningRateAt(o, 0), 0); // the first update has lr 0 under warmup, as in transformers
    close(learningRateAt(o, 5), 1e-5); // half way up
    close(learningRateAt(o, 10), 2e-5); // peak
    close(learningRateAt(o, 55), 1e-5); // half way down: cos(pi/2) = 0
    close(learningRateAt(o, 100), 0);
    close(learningRateAt(o, 40), 2e-5 * 0.5 * (1 + Math.cos(Math.PI / 3))); // 1.5e-5
    close(learningRateAt(o, 40), 1.5e-5);
  });

  it('linear and constant at known steps', () => {
    const lin = { kind: 'linear' as const, lr: 1e-4, totalSteps: 20, warmupRatio: 0.25 };
    close(learningRateAt(lin, 2), 4e-5);
    close(learningRateAt(lin, 5), 1e-4);
    close(learningRateAt(lin, 10), (1e-4 * 10) / 15);
    close(learningRateAt(lin, 20), 0);
    const con = { kind: 'constant' as const, lr: 3e-7, totalSteps: 20, warmupRatio: 0.25 };
    close(learningRateAt(con, 1), 6e-8);
    close(learningRateAt(con, 5), 3e-7);
    close(learningRateAt(con, 19), 3e-7);
  });

  it('the STIC stage-1 recipe (lr 1e-7, 3% warmup) over a 6k-pair epoch at batch 8', () => {
    const o = { kind: 'cosine' as const, lr: 1e-7, totalSteps: 750, warmupRatio: 0.03 };
    const lrs = learningRates(o);
    expect(lrs.length).to.equal(750);
    close(lrs[22], (1e-7 * 22) / 23);
    close(lrs[23], 1e-7);
    // monotone up, then monotone down
    for (let s = 1; s <= 23; s++) expect(lrs[s]).to.be.greaterThan(lrs[s - 1]);
    for (let s = 24; s < 750; s++) expect(lrs[s]).to.be.lessThan(lrs[s - 1]);
  });

  it('matches a plain restatement of the definitions at every step of odd configurations', () => {
    for (const [kind, total, ratio] of [['cosine', 37, 0.11], ['linear', 53, 0.07], ['constant', 9, 0.5], ['cosine', 5, 0]] as const) {
      const lr = 3.3e-5;
      const warm = Math.ceil(total * ratio);
      for (let s = 0; s < total; s++) {
        let want: number;
        if (s < warm) want = (lr * s) / Math.max(1, warm);
        else if (kind === 'constant') want = lr;
        else {
          const p = (s - warm) / Math.max(1, total - warm);
          want = kind === 'linear' ? lr * Math.max(0, 1 - p) : lr * Math.max(0, 0.5 * (1 + Math.cos(Math.PI * p)));
        }
        close(learningRateAt({ kind, lr, totalSteps: total, warmupRatio: ratio }, s), want);
      }
    }
  });

  it('refuses bad arguments with exact messages', () => {
    const o = { kind: 'cosine' as const, lr: 1, totalSteps: 10, warmupRatio: 0 };
    expect(() => learningRateAt({ ...o, kind: 'step' as never }, 0)).to.throw('Expected one of cosine, linear, constant for schedule but received "step"');
    expect(() => learningRateAt({ ...o, totalSteps: 0 }, 0)).to.throw('Expected a positive integer for totalSteps but received 0');
    expect(() => learningRateAt({ ...o, warmupRatio: 1.5 }, 0)).to.throw('Expected a number in [0, 1] for warmupRatio but received 1.5');
    expect(() => learningRateAt(o, -1)).to.throw('Expected a non-negative integer for step but received -1');
    expect(() => learningRateAt({ ...o, lr: -1 }, 0)).to.throw('Expected a non-negative number for lr but received -1');
  });
});
