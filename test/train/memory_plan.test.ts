// The training memory plan (lib/train/memory_plan.ts): the mode choice and the refusal on made-up
// sizes; the bound on the largest step against what real steps of the native trainer allocate (a
// bound, reached by the longest micro-batch, and exact for one pair); MemAvailable read from a
// meminfo file. The CLI side (printed plan, choice, refusal, same adapter either way) is in
// memory_plan_cli.test.ts.
import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { native } from '../../lib/native/index.ts';
import type { LlavaTrainerNative, NativeStepMemory } from '../../lib/native/contract.ts';
import { type MemoryPlan, choosePlan, formatPlan, largestStep, memAvailable, memoryBudget, pairExtent, planTotal, sftExtent, trainingMemoryPlan } from '../../lib/train/memory_plan.ts';
import { makeRng } from '../helpers/rng.ts';
import { ALL_TARGETS, TINY_TI, type TinyModel, makeTinyModel, randomPair, removeTinyModel } from '../model/trainer_util.ts';
import { dpoStepOptions } from '../helpers/dpo_options.ts';

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
const mem = (saved: number, scratch: number): NativeStepMemory => ({ savedBytes: saved * MiB, scratchBytes: scratch * MiB });

function sizes(budgetMiB: number, mode: MemoryPlan['mode']): Omit<MemoryPlan, 'checkpointing'> {
  // totals: full 100 + 20 + 300 + 30 = 450 MiB, checkpointed 100 + 20 + 20 + 40 = 180 MiB
  return { step: { featureRows: 4, rows: 10, keys: 8, entries: 5 }, weights: 100 * MiB, trainable: 20 * MiB, full: mem(300, 30), checkpointed: mem(20, 40), budget: { bytes: budgetMiB * MiB, source: 'test' }, mode };
}

describe('training memory plan: the choice', () => {
  it('auto keeps every activation when the full plan fits, and checkpoints when only the checkpointed one does', () => {
    expect(choosePlan(sizes(450, 'auto')).checkpointing).to.equal(false);
    expect(choosePlan(sizes(449, 'auto')).checkpointing).to.equal(true);
    expect(choosePlan(sizes(180, 'auto')).checkpointing).to.equal(true);
    expect(choosePlan(sizes(10_000, 'on')).checkpointing).to.equal(true);
    expect(choosePlan(sizes(450, 'off')).checkpointing).to.equal(false);
  });

  it('refuses a step that does not fit even with checkpointing, naming every size and the budget', () => {
    expect(() => choosePlan(sizes(179, 'auto'))).to.throw(
      'the largest training step does not fit in the memory budget even with gradient checkpointing: weights 100.00 MiB + trainable parameters, gradients and AdamW moments 20.00 MiB + saved activations 20.00 MiB + scratch 40.00 MiB = 180.00 MiB, but the budget is 179.00 MiB (test)',
    );
  });

  it('--grad-checkpointing off is refused when only checkpointing fits, saying what it would need', () => {
    expect(() => choosePlan(sizes(449, 'off'))).to.throw(/without gradient checkpointing: .*saved activations 300\.00 MiB \+ scratch 30\.00 MiB = 450\.00 MiB, but the budget is 449\.00 MiB \(test\); with gradient checkpointing it would need 180\.00 MiB \(--grad-checkpointing on\)/);
  });

  it('prints both columns and the choice', () => {
    const lines = formatPlan(choosePlan(sizes(300, 'auto')));
    expect(lines[0]).to.equal('memory plan of the largest step (10 rows, 8 keys, 5 scored tokens, 4 image feature rows):');
    expect(lines).to.include('  saved activations            300.00 MiB | 20.00 MiB');
    expect(lines).to.include('  total                        450.00 MiB | 180.00 MiB');
    expect(lines[lines.length - 1]).to.equal('  gradient checkpointing: on (auto: the full plan exceeds the budget)');
  });

  it('the budget: --memory-budget in GiB, else MemAvailable plus what is already held', () => {
    expect(memoryBudget(2.5, 123).bytes).to.equal(2.5 * GiB);
    const b = memoryBudget(0, 3 * MiB, () => 5 * MiB);
    expect(b.bytes).to.equal(8 * MiB);
    expect(b.source).to.equal('MemAvailable 5.00 MiB + 3.00 MiB already held for the weights and the trainer');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'stic-meminfo-'));
    try {
      writeFileSync(path.join(dir, 'meminfo'), 'MemTotal:       24000000 kB\nMemFree:          100000 kB\nMemAvailable:   17000000 kB\n');
      expect(memAvailable(path.join(dir, 'meminfo'))).to.equal(17_000_000 * 1024);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('training memory plan: the largest step against the native trainer', function () {
  this.timeout(120_000);
  let m: TinyModel;
  let trainer: LlavaTrainerNative;
  const rng = makeRng(31);

  before(async () => {
    m = await makeTinyModel();
    trainer = await native().createTrainer(m.model, { lora: { r: 2, alpha: 4, dropout: 0.1, targets: [...ALL_TARGETS], seed: 1 }, trainProjector: true });
  });
  after(() => removeTinyModel(m));

  const asTokenized = (p: ReturnType<typeof randomPair>) => ({ promptIds: Int32Array.from(p.promptIds), chosenIds: Int32Array.from(p.chosenIds), rejectedIds: Int32Array.from(p.rejectedIds), image: 'x' });

  /** One micro-batch as the DPO task sends it: each pair on its own image (all distinct), refs given. */
  async function stepBytes(pairs: ReturnType<typeof randomPair>[], gradCheckpointing: boolean): Promise<number> {
    const pixels = rng.normalArray(pairs.length * m.pixelsPerImage);
    const withRefs = pairs.map((p, i) => ({ ...p, images: [i], refChosen: -3, refRejected: -4 }));
    await trainer.dpoStep(pixels, pairs.length, withRefs, dpoStepOptions({ key: { step: 0, micro: 0 }, gradCheckpointing }));
    return trainer.memory().lastStepActivationBytes;
  }

  it('is exact for a single pair and bounds every micro-batch of k pairs (one pass, and several)', async () => {
    const one = randomPair(rng, m, 0, 5, 4, 6);
    const single = trainer.memoryPlan(largestStep([pairExtent(asTokenized(one))], 1, native().trainPassRowBudget, TINY_TI));
    expect(await stepBytes([one], false)).to.equal(single.full.savedBytes + single.full.scratchBytes);
    expect(await stepBytes([one], true)).to.equal(single.checkpointed.savedBytes + single.checkpointed.scratchBytes);

    // Pairs of 200-450 rows: 3 of them may or may not share a pass under the 2048-row budget.
    const pairs = Array.from({ length: 9 }, (_, i) => randomPair(rng, m, 0, 150 + 40 * i, 20 + 7 * i, 30 + (i % 4) * 30));
    const k = 3;
    const plan = trainer.memoryPlan(largestStep(pairs.map((p) => pairExtent(asTokenized(p))), k, native().trainPassRowBudget, TINY_TI));
    for (const ckpt of [false, true]) {
      const want = ckpt ? plan.checkpointed : plan.full;
      let worst = 0;
      for (let trial = 0; trial < 2; trial++) {
        const order = pairs.map((p) => ({ p, r: rng.next() })).sort((a, b) => a.r - b.r).map((x) => x.p);
        worst = Math.max(worst, await stepBytes(order.slice(0, k), ckpt));
      }
      worst = Math.max(worst, await stepBytes(pairs.slice(-k), ckpt)); // the three longest
      expect(worst, `checkpointed ${ckpt}`).to.be.at.most(want.savedBytes + want.scratchBytes);
      expect(worst, `checkpointed ${ckpt}: the bound is not loose`).to.be.at.least(0.8 * (want.savedBytes + want.scratchBytes));
    }
  });

  it('an SFT item\'s rows end at its last target; the plan of one item is what its step allocates', async () => {
    const ids = [1, ...Array(TINY_TI).fill(m.imageTokenId), ...Array.from({ length: 20 }, () => rng.int(3, m.vocab - 1))];
    const mask = Uint8Array.from(ids.map((_, t) => (t >= 8 && t < 18 ? 1 : 0)));
    const extent = sftExtent({ mask, targets: 10, image: 'x' });
    expect(extent).to.deep.equal({ rows: 17, keys: 17, entries: 10, image: true });
    const plan = trainer.memoryPlan(largestStep([extent], 1, native().trainPassRowBudget, TINY_TI));
    await trainer.sftStep(rng.normalArray(m.pixelsPerImage), 1, [{ images: [0], ids, mask }], { key: { step: 0, micro: 0 }, gradCheckpointing: true });
    expect(trainer.memory().lastStepActivationBytes).to.equal(plan.checkpointed.savedBytes + plan.checkpointed.scratchBytes);
  });

  it('trainingMemoryPlan adds the weights and the trainer\'s tensors, and auto picks checkpointing under a budget between the totals', () => {
    const step = largestStep([pairExtent(asTokenized(randomPair(rng, m, 0, 30, 20, 20)))], 1, native().trainPassRowBudget, TINY_TI);
    const t = trainer.memory();
    const free = () => 1e12;
    const roomy = trainingMemoryPlan(trainer, m.model, step, { gradCheckpointing: 'auto', memoryBudget: 0 }, free);
    expect(roomy.weights).to.equal(m.model.memory().weightBytes);
    expect(roomy.trainable).to.equal(t.parameterBytes + t.gradientBytes + t.optimizerBytes);
    expect(roomy.checkpointing).to.equal(false);
    const between = (planTotal(roomy, roomy.full) + planTotal(roomy, roomy.checkpointed)) / 2 / GiB;
    expect(trainingMemoryPlan(trainer, m.model, step, { gradCheckpointing: 'auto', memoryBudget: between }).checkpointing).to.equal(true);
    expect(() => trainingMemoryPlan(trainer, m.model, step, { gradCheckpointing: 'auto', memoryBudget: 1e-6 })).to.throw(/does not fit in the memory budget even with gradient checkpointing: weights [\d.]+ KiB \+ .* \(--memory-budget 0\.000001\)/);
  });
});
