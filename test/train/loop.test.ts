// The loop on the fake trainer: schedule, micro-batching and accumulation scales, checkpoints, and
// kill-and-resume giving the bit-identical final adapter; the reference pre-pass cache.
import { expect } from 'chai';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { learningRateAt } from '../../lib/util/lr_schedule.ts';
import type { MetricsRow } from '../../lib/util/metrics_log.ts';
import type { CommonTrainOptions } from '../../lib/stic/train_options.ts';
import type { TrainHooks } from '../../lib/stic/engine_api.ts';
import { LORA_TARGETS } from '../../lib/stic/train_options.ts';
import { latestCheckpoint } from '../../lib/train/checkpoint.ts';
import { LORA_CHECKPOINTS } from '../../lib/train/lora_checkpoint.ts';
import type { PixelLoader, TokenizedPair, TokenizedSft } from '../../lib/train/collate.ts';
import { type LoopJob, runLoop } from '../../lib/train/loop.ts';
import { referenceLogps } from '../../lib/train/reference.ts';
import { dpoTask, sftTask } from '../../lib/train/tasks.ts';
import type { ProgressFactory } from '../../lib/util/progress.ts';
import { makeRng } from '../helpers/rng.ts';
import { FAKE_DECODER, FakeTrainer } from './fake_trainer.ts';

const FLOATS = 3 * 2 * 2; // 3 x S x S with S = 2

/** Pixels: every value of image "img-k" is k + 1 (so a sum tells which images were sent). */
function fakePixels(): { loader: PixelLoader; loads: string[][] } {
  const loads: string[][] = [];
  const loader: PixelLoader = async (files) => {
    loads.push(files);
    const ok = files.map((f, i) => [f, i] as const).filter(([f]) => !f.includes('broken'));
    const images = ok.map(([f]) => ({ pixels: new Float32Array(FLOATS).fill(Number(/img-(\d+)/.exec(f)?.[1] ?? 0) + 1), layout: null, tokens: 4 }));
    return { images, rows: ok.map(([, i]) => i), failures: files.flatMap((f, i) => (f.includes('broken') ? [{ index: i, file: f, reason: 'unsupported image format' }] : [])) };
  };
  return { loader, loads };
}

function pairs(n: number, seed: number, images = 4): TokenizedPair[] {
  const rng = makeRng(seed);
  const ids = (k: number) => Int32Array.from({ length: k }, () => rng.int(3, 300));
  return Array.from({ length: n }, (_, index) => ({ index, id: `p${index}`, image: `/imgs/img-${index % images}.png`, promptIds: ids(5 + (index % 3)), chosenIds: ids(3 + (index % 4)), rejectedIds: ids(4 + (index % 2)), refChosen: -20 - index, refRejected: -25 - index }));
}

const OPTIONS: CommonTrainOptions = {
  imageAspect: 'anyres', loraR: 2, loraAlpha: 4, loraDropout: 0.1, loraTargets: [...LORA_TARGETS], lr: 1e-2, trainProjector: true, projectorLr: 3e-3, schedule: 'cosine',
  warmupRatio: 0.2, epochs: 2, batchSize: 4, gradAccum: 2, maxLength: 2048, weightDecay: 0.01, maxGradNorm: 1, adamBeta1: 0.9, adamBeta2: 0.999, adamEps: 1e-8, checkpointEvery: 2, saveTotalLimit: 2, maxSteps: 0, minKept: 0.95, seed: 7,
  gradCheckpointing: 'auto', memoryBudget: 0,
};

function job<E extends { id: string; image: string | null }>(out: string, examples: E[], o: Partial<CommonTrainOptions> = {}, loader = fakePixels().loader): LoopJob<E> {
  const options = { ...OPTIONS, ...o };
  return {
    out, resume: true, baseModel: '/models/base', decoder: FAKE_DECODER, examples, fingerprint: 'f1', options, runOptions: { lr: options.lr, batchSize: options.batchSize, epochs: options.epochs },
    lora: { r: options.loraR, alpha: options.loraAlpha, dropout: options.loraDropout, targets: options.loraTargets }, trainProjector: options.trainProjector, pixels: loader,
  };
}

function newTrainer(o: CommonTrainOptions = OPTIONS): FakeTrainer {
  return new FakeTrainer({ lora: { r: o.loraR, alpha: o.loraAlpha, dropout: o.loraDropout, targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'], seed: o.seed }, trainProjector: o.trainProjector });
}

function recorder(stopAt?: number): { hooks: TrainHooks; rows: MetricsRow[]; starts: [number, number][] } {
  const rows: MetricsRow[] = [];
  const starts: [number, number][] = [];
  return {
    rows,
    starts,
    hooks: {
      onStart: (a, b) => void starts.push([a, b]),
      onStep: (r) => {
        rows.push(r);
        if (stopAt !== undefined && r.step + 1 === stopAt) throw new Error('killed');
      },
    },
  };
}

const dpo = () => dpoTask({ options: { loss: 'sigmoid', beta: 0.1, sftWeight: 1 / 1024, sftNorm: 'sum', rejectedLogp: 'label', reproduceReferenceDrift: false }, refs: null, gradCheckpointing: false });

describe('training loop (fake trainer)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'stic-loop-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  // Issue 19: with the default 3% warm-up, a one-step run trained at learning rate 0, silently.
  it('warns when the warm-up covers every step, before anything trains; not otherwise', async () => {
    const notes: string[] = [];
    const rec = recorder();
    await runLoop(newTrainer(), job(dir, pairs(4, 1), { epochs: 1, warmupRatio: 0.03 }), dpo(), { ...rec.hooks, onNote: (t) => notes.push(`${notes.length}:${rec.starts.length}:${t}`) });
    expect(notes).to.deep.equal([
      '0:0:--warmup-ratio 0.03 of 1 step warms up for 1: the learning rate starts at 0 and never reaches --lr (this run changes nothing). ' +
        'Lower --warmup-ratio (0 turns warm-up off), or train more steps (more data, --epochs, a smaller --batch-size)',
    ]);
    const quiet: string[] = [];
    rmSync(dir, { recursive: true, force: true });
    const ok = await runLoop(newTrainer(), job(dir, pairs(4, 1), { epochs: 1, warmupRatio: 0 }), dpo(), { ...recorder().hooks, onNote: (t) => quiet.push(t) });
    expect(ok.steps).to.equal(1);
    expect(quiet).to.deep.equal([]);
  });

  it('--max-steps stops early with the schedule spanning the steps run; --save-total-limit keeps that many checkpoints', async () => {
    const rec = recorder();
    const r = await runLoop(newTrainer(), job(dir, pairs(10, 1), { maxSteps: 4, saveTotalLimit: 3, checkpointEvery: 1, warmupRatio: 0 }), dpo(), rec.hooks);
    expect(r.steps).to.equal(4); // 2 epochs of 3 steps would be 6
    expect(rec.starts).to.deep.equal([[0, 4]]);
    expect(rec.rows.map((row) => row.step)).to.deep.equal([0, 1, 2, 3]);
    // cosine over 4 steps: the last step's rate is the schedule's value at 3 of 4
    expect(rec.rows[3].lr).to.be.closeTo(learningRateAt({ kind: 'cosine', lr: OPTIONS.lr, totalSteps: 4, warmupRatio: 0 }, 3), 1e-15);
    expect(readdirSync(path.join(dir, 'work', 'checkpoints'))).to.deep.equal(['step-00000002', 'step-00000003', 'step-00000004']);
  });

  it('runs every step with the scheduled learning rates, micro-batch keys and scales that sum to one', async () => {
    const t = newTrainer();
    const ex = pairs(10, 1);
    const rec = recorder();
    const r = await runLoop(t, job(dir, ex), dpo(), rec.hooks);
    const total = 2 * Math.ceil(10 / 4); // 3 steps per epoch (4, 4, 2 pairs), 2 epochs
    expect(r.steps).to.equal(total);
    expect(rec.starts).to.deep.equal([[0, total]]);
    expect(rec.rows.map((x) => x.step)).to.deep.equal([0, 1, 2, 3, 4, 5]);
    const opts = t.calls.filter((c) => c.op === 'opt');
    opts.forEach((c, s) => {
      expect(c.lr).to.equal(learningRateAt({ kind: 'cosine', lr: 1e-2, totalSteps: total, warmupRatio: 0.2 }, s));
      expect(c.projectorLr).to.equal(learningRateAt({ kind: 'cosine', lr: 3e-3, totalSteps: total, warmupRatio: 0.2 }, s));
      expect(rec.rows[s].lr).to.equal(c.lr);
    });
    const dpoCalls = t.calls.filter((c) => c.op === 'dpo');
    // Steps of 4 pairs: two micro-batches of 2; the last step of an epoch has 2 pairs: one micro-batch.
    expect(dpoCalls.map((c) => `${c.key?.step}.${c.key?.micro}`)).to.deep.equal(['0.0', '0.1', '1.0', '1.1', '2.0', '3.0', '3.1', '4.0', '4.1', '5.0']);
    for (let s = 0; s < total; s++) {
      const scales = dpoCalls.filter((c) => c.key?.step === s).map((c) => c.gradScale as number);
      expect(scales.reduce((a, b) => a + b, 0)).to.be.closeTo(1, 1e-12);
    }
    // Each epoch sees every pair exactly once, in a different order.
    const epoch = (e: number) => dpoCalls.filter((c) => Math.floor((c.key?.step as number) / 3) === e).flatMap((c) => c.ids as string[]);
    const all = ex.map((p) => String(p.chosenIds.reduce((s, v) => (s * 31 + v) | 0, 0)));
    expect([...epoch(0)].sort()).to.deep.equal([...all].sort());
    expect([...epoch(1)].sort()).to.deep.equal([...all].sort());
    expect(epoch(0)).to.not.deep.equal(epoch(1));
    expect(readdirSync(path.join(dir, 'work', 'checkpoints'))).to.deep.equal(['step-00000004', 'step-00000006']);
    expect(existsSync(path.join(dir, 'adapter_model.safetensors'))).to.equal(true);
    expect(r.projector).to.equal(true);
    expect(existsSync(path.join(dir, 'projector.safetensors'))).to.equal(false);
    expect(JSON.parse(readFileSync(path.join(dir, 'adapter_config.json'), 'utf8')).modules_to_save).to.deep.equal(['multi_modal_projector']);
  });

  it('loads each distinct image of a step once and sends a micro-batch only its own images', async () => {
    const t = newTrainer();
    const px = fakePixels();
    await runLoop(t, job(dir, pairs(8, 2, 2), { epochs: 1, batchSize: 8, gradAccum: 4, warmupRatio: 0 }, px.loader), dpo(), recorder().hooks);
    expect(px.loads).to.have.length(1);
    expect([...px.loads[0]].sort()).to.deep.equal(['/imgs/img-0.png', '/imgs/img-1.png']);
    for (const c of t.calls.filter((x) => x.op === 'dpo')) expect(c.images).to.be.oneOf([1, 2]);
    // pixels hold the right images: each micro-batch's sum is 12 * (sum over its distinct images of k + 1)
    for (const s of t.pixelSums) expect([12, 24, 36]).to.include(s);
  });

  it('a killed run resumed from its last checkpoint ends with the same adapter, bit for bit, and the same metrics', async () => {
    const ex = pairs(11, 3);
    const whole = path.join(dir, 'whole');
    const cut = path.join(dir, 'cut');
    const full = recorder();
    await runLoop(newTrainer(), job(whole, ex), dpo(), full.hooks);
    // Killed during step 5 (after its update, before its checkpoint): the step-4 checkpoint is the newest.
    const first = recorder(5);
    let err: Error | null = null;
    await runLoop(newTrainer(), job(cut, ex), dpo(), first.hooks).catch((e: Error) => (err = e));
    expect(err).to.be.an('error');
    expect((await latestCheckpoint(cut, LORA_CHECKPOINTS))?.state.step).to.equal(4);
    const second = recorder();
    const t2 = newTrainer();
    await runLoop(t2, job(cut, ex), dpo(), second.hooks);
    expect(second.starts).to.deep.equal([[4, 6]]);
    expect(t2.calls.find((c) => c.op === 'dpo')?.key).to.deep.equal({ step: 4, micro: 0 });
    for (const f of ['adapter_model.safetensors', 'adapter_config.json']) {
      expect(readFileSync(path.join(cut, f)).equals(readFileSync(path.join(whole, f))), f).to.equal(true);
    }
    const strip = (r: MetricsRow) => ({ ...r, tokens_per_s: 0 });
    expect([...first.rows.slice(0, 4), ...second.rows].map(strip)).to.deep.equal(full.rows.map(strip));
    // The final checkpoints hold the same optimizer state too.
    const opt = (d: string) => readFileSync(path.join(d, 'work', 'checkpoints', 'step-00000006', 'optimizer.safetensors'));
    expect(opt(cut).equals(opt(whole))).to.equal(true);
  });

  it('a resume that changes the run is refused, naming each difference', async () => {
    const ex = pairs(6, 4);
    await runLoop(newTrainer(), job(dir, ex, { epochs: 1, checkpointEvery: 1 }), dpo(), recorder(2).hooks).catch(() => undefined);
    const err = await runLoop(newTrainer(), job(dir, ex, { epochs: 1, batchSize: 2, gradAccum: 1 }), dpo(), recorder().hooks).catch((e: Error) => e);
    expect((err as Error).message).to.equal(
      `${path.join(dir, 'work', 'checkpoints', 'step-00000001')}: this checkpoint belongs to a different run (total steps: checkpoint 2, now 3; batchSize: checkpoint 4, now 2); train into another --out, or move ${path.join(dir, 'work', 'checkpoints')} away to start over`,
    );
  });

  it('resumes a checkpoint written before the AdamW options existed at their defaults, and only at them', async () => {
    const ex = pairs(6, 4);
    // This version records the AdamW options among the run's options; the earlier one did not.
    const now = (o: Partial<CommonTrainOptions>) => {
      const j = job(dir, ex, { epochs: 1, checkpointEvery: 1, ...o });
      return { ...j, runOptions: { ...j.runOptions, adamBeta1: j.options.adamBeta1, adamBeta2: j.options.adamBeta2, adamEps: j.options.adamEps } };
    };
    await runLoop(newTrainer(), job(dir, ex, { epochs: 1, checkpointEvery: 1 }), dpo(), recorder(2).hooks).catch(() => undefined);
    const err = await runLoop(newTrainer(), now({ adamBeta2: 0.99 }), dpo(), recorder().hooks).catch((e: Error) => e);
    expect((err as Error).message).to.contain('this checkpoint belongs to a different run (adamBeta2: checkpoint 0.999, now 0.99)');
    const rec = recorder();
    await runLoop(newTrainer(), now({}), dpo(), rec.hooks);
    expect(rec.starts).to.deep.equal([[1, 2]]);
  });

  it('ignores the temporary folder of a killed checkpoint writer and starts over when resume is off', async () => {
    const ex = pairs(4, 5);
    await runLoop(newTrainer(), job(dir, ex, { epochs: 1, batchSize: 2, gradAccum: 1, checkpointEvery: 1 }), dpo(), recorder(2).hooks).catch(() => undefined);
    // A writer killed mid-checkpoint leaves a hidden temp folder with some files and no state.json.
    const tmp = path.join(dir, 'work', 'checkpoints', '.tmp-step-00000002-999999-abcd');
    mkdirSync(tmp);
    writeFileSync(path.join(tmp, 'adapter_config.json'), '{');
    expect((await latestCheckpoint(dir, LORA_CHECKPOINTS))?.state.step).to.equal(1);
    const rec = recorder();
    await runLoop(newTrainer(), job(dir, ex, { epochs: 1, batchSize: 2, gradAccum: 1, checkpointEvery: 1 }), dpo(), rec.hooks);
    expect(rec.starts).to.deep.equal([[1, 2]]);
    expect(readdirSync(path.join(dir, 'work', 'checkpoints'))).to.deep.equal(['step-00000001', 'step-00000002']);
    const fresh = recorder();
    await runLoop(newTrainer(), { ...job(dir, ex, { epochs: 1, batchSize: 2, gradAccum: 1, checkpointEvery: 1 }), resume: false }, dpo(), fresh.hooks);
    expect(fresh.starts).to.deep.equal([[0, 2]]);
  });

  it('a resume with nothing left to train drops the checkpoint a kill before pruning left over', async () => {
    const ex = pairs(4, 5);
    const o = { epochs: 1, batchSize: 2, gradAccum: 1, checkpointEvery: 1 };
    await runLoop(newTrainer(), job(dir, ex, o), dpo(), recorder().hooks);
    const root = path.join(dir, 'work', 'checkpoints');
    // A writer killed after renaming step 2 into place and before pruning: steps 0 (as a stand-in), 1 and 2 remain.
    cpSync(path.join(root, 'step-00000001'), path.join(root, 'step-00000000'), { recursive: true });
    const rec = recorder();
    await runLoop(newTrainer(), job(dir, ex, o), dpo(), rec.hooks);
    expect(rec.starts).to.deep.equal([[2, 2]]);
    expect(readdirSync(root)).to.deep.equal(['step-00000001', 'step-00000002']);
  });

  it('leaves an example whose image cannot be loaded out of its step and reports it', async () => {
    const ex = pairs(4, 6);
    ex[2] = { ...ex[2], image: '/imgs/broken.png' };
    const t = newTrainer();
    const r = await runLoop(t, job(dir, ex, { epochs: 1, warmupRatio: 0 }), dpo(), recorder().hooks);
    expect(r.skips).to.deep.equal([{ id: 'p2', kind: 'image unreadable', reason: 'image /imgs/broken.png could not be loaded at step 0: unsupported image format' }]);
    const scales = t.calls.filter((c) => c.op === 'dpo').map((c) => c.gradScale as number);
    expect(scales.reduce((a, b) => a + b, 0)).to.be.closeTo(1, 1e-12);
    expect(t.calls.filter((c) => c.op === 'dpo').flatMap((c) => c.ids as string[])).to.have.length(3);
  });

  it('SFT: every micro-batch is averaged over the step\'s target tokens', async () => {
    const rng = makeRng(9);
    const ex: TokenizedSft[] = Array.from({ length: 6 }, (_, index) => {
      const n = 6 + index;
      const mask = Uint8Array.from({ length: n }, (_, t) => (t >= 3 && rng.next() < 0.7 ? 1 : 0));
      return { index, id: `s${index}`, image: index % 2 ? null : `/imgs/img-${index}.png`, ids: Int32Array.from({ length: n }, () => rng.int(3, 99)), mask, targets: mask.reduce((a, b) => a + b, 0) };
    });
    const t = newTrainer();
    const rec = recorder();
    await runLoop(t, job(dir, ex, { epochs: 1, batchSize: 6, gradAccum: 3, warmupRatio: 0 }), sftTask(false), rec.hooks);
    const calls = t.calls.filter((c) => c.op === 'sft');
    const totalTargets = ex.reduce((n, e) => n + e.targets, 0);
    expect(calls.map((c) => c.meanOver)).to.deep.equal([totalTargets, totalTargets, totalTargets]);
    expect(rec.rows[0].loss).to.be.closeTo(1, 1e-12); // the fake's loss is tokens / meanOver per call
    expect(rec.rows[0].target_tokens).to.equal(totalTargets);
  });

  it('reference pre-pass: computed once in batches, then read back from the cache (also after a torn write)', async () => {
    const ex = pairs(7, 8).map(({ refChosen: _c, refRejected: _r, ...p }) => p);
    const file = path.join(dir, 'reference_logps.jsonl');
    const bars: { label: string; total: number; done: number; unit?: string; ticks: number[]; stopped: boolean }[] = [];
    const progress: ProgressFactory = (label, total, done = 0, unit) => {
      const bar = { label, total, done, unit, ticks: [] as number[], stopped: false };
      bars.push(bar);
      return { tick: (n = 1) => void bar.ticks.push(n), stop: () => void (bar.stopped = true) };
    };
    const o = { file, batch: 3, pixels: fakePixels().loader, rejectedMode: 'label' as const, model: '/models/base', progress };
    const t = newTrainer();
    const first = await referenceLogps(t, ex, o);
    expect(t.calls.filter((c) => c.op === 'ref').map((c) => c.ids?.length)).to.deep.equal([3, 3, 1]);
    expect(bars).to.deep.equal([{ label: 'reference log-probs', total: 7, done: 0, unit: 'pairs', ticks: [3, 3, 1], stopped: true }]);
    expect(first.size).to.equal(7);
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    writeFileSync(file, `${lines.slice(0, 4).join('\n')}\n${lines[4].slice(0, 10)}`); // a kill mid-append
    const t2 = newTrainer();
    const second = await referenceLogps(t2, ex, o);
    expect(t2.calls.filter((c) => c.op === 'ref').map((c) => c.ids?.length)).to.deep.equal([3]);
    expect(bars.slice(1)).to.deep.equal([{ label: 'reference log-probs', total: 7, done: 4, unit: 'pairs', ticks: [3], stopped: true }]);
    expect([...second.entries()]).to.deep.equal([...first.entries()]);
    const t3 = newTrainer();
    await referenceLogps(t3, ex, o);
    expect(t3.calls).to.have.length(0);
    expect(bars).to.have.length(2); // nothing to compute: no bar
    const other = await referenceLogps(newTrainer(), ex, { ...o, rejectedMode: 'top-alt' });
    expect(other.get(0)).to.deep.equal(first.get(0)); // the fake ignores the mode, but it was recomputed:
    expect(readFileSync(file, 'utf8').trimEnd().split('\n')).to.have.length(14);
  });
});
