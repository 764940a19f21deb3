// DPO-family losses (sigmoid, hinge, IPO) with the STIC regulariser (sum and mean), their metrics and
// gradients w.r.t. the policy log-probs, against a float64 TypeScript reference and its finite
// differences; the per-pair losses stored by the Hugging Face fixtures (label and top-alt, three
// models); SFT masked mean cross-entropy; the sequence sum / broadcast helpers.
// Legend: B pairs, T tokens, pc/pr policy chosen/rejected summed log-probs, rc/rr reference.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { expect } from 'chai';

import { packageRoot } from '../../lib/native/index.ts';
import { makeRng } from '../helpers/rng.ts';
import { expectGrad, expectThrowExact, f32, finiteDiff } from './grad_reference.ts';
import { lab } from '../helpers/lab.ts';

const rng = makeRng(515);
const tk = () => lab().trainKernels;

type Kind = 'sigmoid' | 'hinge' | 'ipo';
interface Opt { loss: Kind; beta: number; sftWeight: number; sftNorm: 'sum' | 'mean' }

const softplus = (x: number) => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
/** One pair's loss in float64, written from the papers' formulas (not from the native code). */
function pairLoss(o: Opt, pc: number, pr: number, rc: number, rr: number, n: number): number {
  const h = (pc - pr) - (rc - rr);
  const pref = o.loss === 'sigmoid' ? softplus(-o.beta * h) // -log sigmoid(beta h), Rafailov et al. 2023
    : o.loss === 'hinge' ? Math.max(0, 1 - o.beta * h) // SLiC / RSO
      : (h - 1 / (2 * o.beta)) ** 2; // IPO, Azar et al. 2023
  return pref - o.sftWeight * (o.sftNorm === 'mean' ? pc / n : pc);
}

function makePairs(B: number) {
  const pc = Float32Array.from({ length: B }, () => -40 + 10 * rng.normal());
  const pr = Float32Array.from({ length: B }, () => -45 + 10 * rng.normal());
  const rc = Float32Array.from(pc, (v) => v + 3 * rng.normal());
  const rr = Float32Array.from(pr, (v) => v + 3 * rng.normal());
  const n = BigInt64Array.from({ length: B }, () => BigInt(rng.int(3, 40)));
  return { pc, pr, rc, rr, n };
}

describe('trainKernels: DPO losses (cpu)', () => {
  const cases: Opt[] = [
    { loss: 'sigmoid', beta: 0.1, sftWeight: 1 / 1024, sftNorm: 'sum' },
    { loss: 'sigmoid', beta: 0.5, sftWeight: 0.3, sftNorm: 'mean' },
    { loss: 'hinge', beta: 0.1, sftWeight: 1 / 1024, sftNorm: 'sum' },
    { loss: 'ipo', beta: 0.1, sftWeight: 0.01, sftNorm: 'mean' },
    { loss: 'ipo', beta: 2, sftWeight: 0, sftNorm: 'sum' },
  ];
  for (const o of cases) {
    it(`${o.loss} beta=${o.beta}, regulariser ${o.sftWeight.toPrecision(3)} on the ${o.sftNorm}: loss, gradients and metrics`, async () => {
      const B = 7, meanOver = 9; // as if this call were one micro-batch of a global batch of 9 pairs
      const { pc, pr, rc, rr, n } = makePairs(B);
      const dChosen = new Float32Array(B), dRejected = new Float32Array(B);
      const m = await tk().dpoLoss({ B, policyChosen: pc, policyRejected: pr, refChosen: rc, refRejected: rr, chosenTokens: n, dChosen, dRejected, ...o, meanOver });
      const x = Float64Array.from([...pc, ...pr]);
      const total = () => {
        let s = 0;
        for (let i = 0; i < B; i++) s += pairLoss(o, x[i], x[B + i], rc[i], rr[i], Number(n[i])) / meanOver;
        return s;
      };
      expect(m.loss).to.be.closeTo(total(), 1e-9 * Math.max(1, Math.abs(total())));
      const g = finiteDiff(x, total, 1e-4);
      expectGrad(dChosen, g.subarray(0, B), `${o.loss} dChosen`, 1e-5, 1e-6);
      expectGrad(dRejected, g.subarray(B), `${o.loss} dRejected`, 1e-5, 1e-6);
      // Metrics: TRL's rewards/* over this call's B pairs.
      const rcw = Array.from(pc, (v, i) => o.beta * (v - rc[i])), rrl = Array.from(pr, (v, i) => o.beta * (v - rr[i]));
      const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
      expect(m.rewardChosen).to.be.closeTo(mean(rcw), 1e-9);
      expect(m.rewardRejected).to.be.closeTo(mean(rrl), 1e-9);
      expect(m.rewardMargin).to.be.closeTo(mean(rcw) - mean(rrl), 1e-9);
      expect(m.rewardAccuracy).to.equal(rcw.filter((v, i) => v > rrl[i]).length / B);
      expect(m.logpChosen).to.be.closeTo(mean(Array.from(pc)), 1e-9);
      expect(m.logpRejected).to.be.closeTo(mean(Array.from(pr)), 1e-9);
    });
  }

  it('the hinge is flat past its margin (zero gradient) and the sigmoid stays finite for huge margins', async () => {
    const B = 2, dChosen = new Float32Array(B), dRejected = new Float32Array(B);
    const pc = f32([0, 0]), pr = f32([-100, -1e6]), zero = f32([0, 0]);
    const hinge = await tk().dpoLoss({ B, policyChosen: pc, policyRejected: pr, refChosen: zero, refRejected: zero, dChosen, dRejected, loss: 'hinge', sftWeight: 0 });
    expect(hinge.loss).to.equal(0);
    expect(Array.from(dRejected).every((v) => v === 0), 'zero gradient past the margin').to.equal(true);
    const sig = await tk().dpoLoss({ B, policyChosen: pr, policyRejected: pc, refChosen: zero, refRejected: zero, dChosen, dRejected, sftWeight: 0 });
    expect(sig.loss).to.be.closeTo((softplus(10) + 1e5) / 2, 1e-6); // -log sigmoid(-1e5) = 1e5, no overflow
    expect(Array.from(dRejected)).to.deep.equal([Math.fround(0.1 * (1 / (1 + Math.exp(-10))) / 2), Math.fround(0.05)]);
  });

  for (const model of ['llava-tiny-llama', 'llava-tiny-mistral-gqa', 'llava-tiny-llama-fullfeat-lastlayer']) {
    it(`reproduces the per-pair and mean DPO losses of the HF fixture ${model} (label and top-alt)`, async () => {
      const expected = JSON.parse(readFileSync(join(packageRoot, 'test/fixtures/hf', model, 'expected.json'), 'utf8'));
      const dpo = expected.dpo;
      for (const mode of ['label', 'topalt']) {
        const rows: number[][] = dpo[mode]['per_pair[loss,pc,pr,rc,rr]'];
        const B = rows.length, col = (j: number) => f32(rows.map((r) => r[j]));
        const dChosen = new Float32Array(B), dRejected = new Float32Array(B);
        const m = await tk().dpoLoss({ B, policyChosen: col(1), policyRejected: col(2), refChosen: col(3), refRejected: col(4), dChosen, dRejected, beta: dpo.beta, sftWeight: dpo.sft_weight, sftNorm: dpo.sft_norm });
        expect(m.loss, `${model} ${mode} mean loss`).to.be.closeTo(dpo[mode].loss, 1e-5 * Math.abs(dpo[mode].loss));
        for (let i = 0; i < B; i++) {
          const one = await tk().dpoLoss({ B: 1, policyChosen: col(1).subarray(i, i + 1), policyRejected: col(2).subarray(i, i + 1), refChosen: col(3).subarray(i, i + 1), refRejected: col(4).subarray(i, i + 1), dChosen, dRejected, beta: dpo.beta, sftWeight: dpo.sft_weight });
          expect(one.loss, `${model} ${mode} pair ${i}`).to.be.closeTo(rows[i][0], 1e-5 * Math.abs(rows[i][0]));
        }
      }
    });
  }

  it('asks for the chosen token counts of a mean-normalised regulariser, with exact messages', () => {
    const a = new Float32Array(2);
    expectThrowExact(() => tk().dpoLoss({ B: 2, policyChosen: a, policyRejected: a, refChosen: a, refRejected: a, dChosen: a, dRejected: a, sftNorm: 'mean' }), TypeError,
      'Expected a BigInt64Array for trainKernels.dpoLoss.chosenTokens but received undefined');
    expectThrowExact(() => tk().dpoLoss({ B: 2, policyChosen: a, policyRejected: a, refChosen: a, refRejected: a, chosenTokens: BigInt64Array.from([4n, 0n]), dChosen: a, dRejected: a, sftNorm: 'mean' }), RangeError,
      'trainKernels.dpoLoss: chosenTokens[1] is 0 but a chosen response has at least 1 token');
    expectThrowExact(() => tk().dpoLoss({ B: 2, policyChosen: a, policyRejected: a, refChosen: a, refRejected: a, dChosen: a, dRejected: a, loss: 'kto' as 'ipo' }), TypeError,
      'Expected \'sigmoid\', \'hinge\' or \'ipo\' for trainKernels.dpoLoss.loss but received a string "kto"');
  });
});

describe('trainKernels: SFT loss and sequence helpers (cpu)', () => {
  it('masked mean cross-entropy over targets >= 0, with its gradient; meanOver for accumulation', async () => {
    const T = 13;
    const logp = Float32Array.from({ length: T }, () => -Math.abs(3 * rng.normal()));
    const targets = BigInt64Array.from({ length: T }, (_, t) => (t < 4 || t === 9 ? -100n : BigInt(t)));
    const dlogp = rng.normalArray(T);
    const on = Array.from(targets, (x) => x >= 0), N = on.filter(Boolean).length;
    const loss = await tk().sftLoss({ dlogp, logp, targets, T });
    expect(loss).to.be.closeTo(-Array.from(logp).reduce((s, v, t) => s + (on[t] ? v : 0), 0) / N, 1e-6);
    expect(Array.from(dlogp)).to.deep.equal(on.map((x) => (x ? Math.fround(-1 / N) : 0)));
    const half = await tk().sftLoss({ dlogp, logp, targets, T, meanOver: 2 * N });
    expect(half).to.be.closeTo(loss / 2, 1e-6);
  });

  it('sums token log-probs per sequence and sends each sequence gradient back to its tokens', async () => {
    const T = 11, B = 3;
    const seq = BigInt64Array.from([-1n, 0n, 0n, 0n, -1n, 2n, 2n, 1n, 1n, 1n, 1n]);
    const logp = rng.normalArray(T), sums = new Float32Array(B);
    await tk().sumBySequence({ sums, logp, seq, T, B });
    const ref = [0, 0, 0];
    seq.forEach((s, t) => { if (s >= 0) ref[Number(s)] += logp[t]; });
    expectGrad(sums, ref, 'sums', 1e-6, 1e-7);
    const dseq = f32([0.5, -2, 3]), dlogp = rng.normalArray(T);
    await tk().sequenceGradToTokens({ dlogp, dseq, seq, T, B });
    expect(Array.from(dlogp)).to.deep.equal(Array.from(seq, (s) => (s >= 0 ? dseq[Number(s)] : 0)));
  });
});
