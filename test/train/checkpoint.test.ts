// lib/train/checkpoint.ts, the checkpoint mechanics both formats use, on a small in-memory trainer:
// a written checkpoint restores every parameter, moment and the step count; the newest complete one
// is found (folders without a state are passed over, another format's state is refused); the
// `keep` newest survive, after a write and when pruned on its own (on resume); broken moments are
// refused naming the tensor; option differences fill in options added later. The formats themselves are tested through their runs (loop.test.ts,
// test/pretrain/toy_pretrain.test.ts).
import { expect } from 'chai';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { writeSafetensors } from '../../lib/model/safetensors.ts';
import type { NativeTrainTensorKind } from '../../lib/native/contract.ts';
import {
  type CheckpointFormat, type CheckpointState, type CheckpointTensor, type CheckpointTrainer, latestCheckpoint, momentEntries, optionDifferences, pruneCheckpoints, restoreTrainer,
  snapshotTrainer, writeCheckpoint,
} from '../../lib/train/checkpoint.ts';

const FORMAT: CheckpointFormat = { format: 'test-checkpoint', version: 3, root: (out) => path.join(out, 'ckpt') };

/** Two tensors, (2, 3) and (4), each kind filled from `seed`. */
class MemoryTrainer implements CheckpointTrainer<CheckpointTensor> {
  info = [{ name: 'a.weight', shape: [2, 3] }, { name: 'b.bias', shape: [4] }];
  kinds = new Map<NativeTrainTensorKind, Float32Array[]>();
  step = 0;
  constructor(seed: number) {
    (['param', 'grad', 'exp_avg', 'exp_avg_sq'] as const).forEach((k, j) => this.kinds.set(k, [6, 4].map((n, i) => Float32Array.from({ length: n }, (_, x) => seed + 0.5 * j + 0.25 * i + x / 8))));
  }
  tensorInfo() {
    return this.info;
  }
  async getTensors(kind: NativeTrainTensorKind) {
    return (this.kinds.get(kind) as Float32Array[]).map((a) => a.slice());
  }
  async setTensors(kind: NativeTrainTensorKind, tensors: { name: string; data: Float32Array }[]) {
    this.kinds.set(kind, tensors.map((t) => t.data.slice()));
  }
  getStep() {
    return this.step;
  }
  setStep(s: number) {
    this.step = s;
  }
  async zeroGrad() {
    this.kinds.set('grad', [new Float32Array(6), new Float32Array(4)]);
  }
}

const state = (step: number): CheckpointState => ({ format: FORMAT.format, version: FORMAT.version, step, adamStep: step, options: { lr: 0.1 } });

describe('checkpoint mechanics (lib/train/checkpoint.ts)', () => {
  let out: string;
  beforeEach(() => {
    out = mkdtempSync(path.join(tmpdir(), 'stic-ckpt-'));
  });
  afterEach(() => rmSync(out, { recursive: true, force: true }));

  const write = async (t: MemoryTrainer, step: number, keep = 2) => {
    t.step = step;
    const snap = await snapshotTrainer(t);
    return writeCheckpoint(out, FORMAT, state(step), snap, (dir) => writeSafetensors(path.join(dir, 'params.safetensors'), snap.info.map((x, i) => ({ name: x.name, dtype: 'F32' as const, shape: x.shape, data: snap.param[i] }))), keep);
  };

  it('restores the parameters, both moments and the step count it wrote, gradients zeroed', async () => {
    const a = new MemoryTrainer(1);
    const dir = await write(a, 5);
    expect(path.basename(dir)).to.equal('step-00000005');
    expect(readdirSync(dir).sort()).to.deep.equal(['optimizer.safetensors', 'params.safetensors', 'state.json']);
    const found = await latestCheckpoint<CheckpointState>(out, FORMAT);
    expect(found?.state).to.deep.equal(state(5));
    const moments = await momentEntries(dir, a.info);
    expect(moments.expAvg.map((e) => e.name)).to.deep.equal(['exp_avg/a.weight', 'exp_avg/b.bias']);
    expect(moments.expAvgSq.map((e) => e.name)).to.deep.equal(['exp_avg_sq/a.weight', 'exp_avg_sq/b.bias']);
    const b = new MemoryTrainer(7);
    await restoreTrainer(b, await snapshotTrainer(a));
    for (const k of ['param', 'exp_avg', 'exp_avg_sq'] as const) expect(await b.getTensors(k), k).to.deep.equal(await a.getTensors(k));
    expect(b.getStep()).to.equal(5);
    expect((await b.getTensors('grad')).every((g) => g.every((x) => x === 0))).to.equal(true);
  });

  it('keeps the `keep` newest, passes over a folder without a state and refuses another format', async () => {
    const t = new MemoryTrainer(2);
    for (const s of [1, 2, 3]) await write(t, s, 2);
    expect(readdirSync(FORMAT.root(out))).to.deep.equal(['step-00000002', 'step-00000003']);
    mkdirSync(path.join(FORMAT.root(out), 'step-00000004'));
    expect((await latestCheckpoint(out, FORMAT))?.state.step).to.equal(3);
    const file = path.join(FORMAT.root(out), 'step-00000004', 'state.json');
    writeFileSync(file, JSON.stringify({ ...state(4), format: 'other', version: 1 }));
    const err = await latestCheckpoint(out, FORMAT).catch((e: Error) => e);
    expect((err as Error).message).to.equal(`${file}: expected a test-checkpoint version 3 state but found format "other" version 1`);
    expect(await latestCheckpoint(path.join(out, 'none'), FORMAT)).to.equal(null);
  });

  it('prunes to the `keep` newest and drops the temporary folders of other writers, on its own too', async () => {
    const t = new MemoryTrainer(4);
    for (const s of [1, 2, 3]) await write(t, s, 3);
    mkdirSync(path.join(FORMAT.root(out), '.tmp-step-00000004-999999-abcd'));
    await pruneCheckpoints(out, FORMAT, 1);
    expect(readdirSync(FORMAT.root(out))).to.deep.equal(['step-00000003']);
  });

  it('refuses moments that are missing or of another shape, naming the file and the tensor', async () => {
    const t = new MemoryTrainer(3);
    const dir = await write(t, 1);
    const file = path.join(dir, 'optimizer.safetensors');
    const missing = await momentEntries(dir, [...t.info, { name: 'c', shape: [1] }]).catch((e: Error) => e);
    expect((missing as Error).message).to.equal(`${file}: expected tensor "exp_avg/c" but it is missing`);
    const shape = await momentEntries(dir, [{ name: 'b.bias', shape: [2, 2] }]).catch((e: Error) => e);
    expect((shape as Error).message).to.equal(`${file}: tensor "exp_avg/b.bias": expected shape [2, 2] but found [4]`);
  });

  it('compares options by name, an option added later taking its old value where the checkpoint lacks it', () => {
    expect(optionDifferences({ lr: 0.1, seed: 1 }, { lr: 0.1, seed: 1 })).to.deep.equal([]);
    expect(optionDifferences({ seed: 1, lr: 0.1 }, { lr: 0.2, seed: 1, beta: 0.5 })).to.deep.equal([
      { name: 'beta', saved: undefined, now: '0.5' },
      { name: 'lr', saved: '0.1', now: '0.2' },
    ]);
    expect(optionDifferences({ lr: 0.1 }, { lr: 0.1, beta: 0.5 }, { beta: 0.5 })).to.deep.equal([]);
    expect(optionDifferences({ lr: 0.1 }, { lr: 0.1, beta: 0.9 }, { beta: 0.5 })).to.deep.equal([{ name: 'beta', saved: '0.5', now: '0.9' }]);
    // Only an option this run has is filled in.
    expect(optionDifferences({ lr: 0.1 }, { lr: 0.1 }, { beta: 0.5 })).to.deep.equal([]);
  });
});
