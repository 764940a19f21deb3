// native().dpoLoss, the shipped entry to the DPO loss code (held-out evaluation, lib/train/dpo_eval.ts):
// the same metrics as the lab's trainKernels.dpoLoss (which test/cpu/losses.test.ts checks
// against a float64 reference), every hyperparameter required, bad pairs named.
// Legend: B pairs.
import { expect } from 'chai';

import { native, type NativeDpoLossOptions, type NativeDpoLossPair } from '../../lib/native/index.ts';
import { lab } from '../helpers/lab.ts';
import { makeRng } from '../helpers/rng.ts';

const rng = makeRng(4242);

function randomPairs(B: number): NativeDpoLossPair[] {
  // Float32-exact values: the lab takes Float32Arrays, the shipped entry numbers.
  const f = (x: number) => Math.fround(x);
  return Array.from({ length: B }, () => {
    const pc = f(-40 + 10 * rng.normal()), pr = f(-45 + 10 * rng.normal());
    return { policyChosen: pc, policyRejected: pr, refChosen: f(pc + 3 * rng.normal()), refRejected: f(pr + 3 * rng.normal()), chosenTokens: rng.int(1, 40) };
  });
}

describe('native().dpoLoss (the shipped DPO loss entry)', () => {
  const cases: NativeDpoLossOptions[] = [
    { loss: 'sigmoid', beta: 0.1, sftWeight: 1 / 1024, sftNorm: 'sum' },
    { loss: 'sigmoid', beta: 0.5, sftWeight: 0.3, sftNorm: 'mean' },
    { loss: 'hinge', beta: 0.2, sftWeight: 0, sftNorm: 'sum' },
    { loss: 'ipo', beta: 2, sftWeight: 0.01, sftNorm: 'mean' },
  ];
  for (const o of cases) {
    it(`${o.loss} beta=${o.beta}, regulariser ${o.sftWeight.toPrecision(3)} on the ${o.sftNorm}: the lab kernel's metrics exactly`, async () => {
      const pairs = randomPairs(9);
      const B = pairs.length;
      const col = (k: keyof NativeDpoLossPair) => Float32Array.from(pairs, (p) => p[k]);
      const want = await lab().trainKernels.dpoLoss({
        B, policyChosen: col('policyChosen'), policyRejected: col('policyRejected'), refChosen: col('refChosen'), refRejected: col('refRejected'),
        chosenTokens: BigInt64Array.from(pairs, (p) => BigInt(p.chosenTokens)), dChosen: new Float32Array(B), dRejected: new Float32Array(B), ...o,
      });
      const got = native().dpoLoss(pairs, o);
      expect(got).to.deep.equal(want);
      expect(Number.isFinite(got.loss) && got.rewardAccuracy >= 0 && got.rewardAccuracy <= 1).to.equal(true);
    });
  }

  it('requires every hyperparameter and names what is wrong', () => {
    const pairs = randomPairs(2);
    const o: NativeDpoLossOptions = { loss: 'sigmoid', beta: 0.1, sftWeight: 0, sftNorm: 'sum' };
    const without = (k: keyof NativeDpoLossOptions) => Object.fromEntries(Object.entries(o).filter(([key]) => key !== k)) as NativeDpoLossOptions;
    expect(() => native().dpoLoss(pairs, without('loss'))).to.throw(TypeError, "Expected 'sigmoid', 'hinge' or 'ipo' for options.loss but received undefined");
    expect(() => native().dpoLoss(pairs, without('beta'))).to.throw(TypeError, 'options.beta');
    expect(() => native().dpoLoss(pairs, without('sftWeight'))).to.throw(TypeError, 'options.sftWeight');
    expect(() => native().dpoLoss(pairs, without('sftNorm'))).to.throw(TypeError, "Expected 'sum' or 'mean' for options.sftNorm but received undefined");
    expect(() => native().dpoLoss(pairs, { ...o, beta: 0 })).to.throw(TypeError, 'Expected a positive number for options.beta but received 0');
    expect(() => native().dpoLoss(pairs, { ...o, loss: 'kto' as 'ipo' })).to.throw(TypeError, 'options.loss');
  });

  it('refuses an empty list and a pair without a usable token count', () => {
    const o: NativeDpoLossOptions = { loss: 'sigmoid', beta: 0.1, sftWeight: 0, sftNorm: 'mean' };
    expect(() => native().dpoLoss([], o)).to.throw(TypeError, 'Expected a non-empty array of pairs for pairs');
    const [a, b] = randomPairs(2);
    expect(() => native().dpoLoss([a, { ...b, chosenTokens: 0 }], o)).to.throw(TypeError, 'for pairs[1].chosenTokens but received 0');
    const { refChosen: _, ...noRef } = b;
    expect(() => native().dpoLoss([a, noRef as NativeDpoLossPair], o)).to.throw(TypeError, 'pairs[1]');
  });
});
