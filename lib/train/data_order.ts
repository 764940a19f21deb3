// Which examples each optimizer step trains on. Each epoch visits every example once in an order
// drawn from (seed, epoch) alone, so step s always sees the same examples: a resumed run, or a run
// with another checkpoint interval, trains on exactly what an uninterrupted one would. A global
// batch of B examples is split into micro-batches of B / gradAccum; the last batch of an epoch may
// be smaller (nothing is dropped, as the Hugging Face Trainer does by default).
import { chunks } from '../generate/batching.ts';
import { seededRandom } from '../util/seeded.ts';

export interface OrderOptions {
  examples: number;
  batchSize: number;
  gradAccum: number;
  epochs: number;
  seed: number;
}

export interface StepSlice {
  epoch: number;
  /** Position of the step's first example in the epoch's shuffled order. */
  start: number;
  /** Example indices (into the tokenised list) of the step, split into micro-batches. */
  micro: number[][];
}

export class DataOrder {
  readonly stepsPerEpoch: number;
  readonly totalSteps: number;
  readonly microSize: number;
  private readonly perms = new Map<number, Uint32Array>();

  constructor(readonly o: OrderOptions) {
    if (o.examples < 1) throw new RangeError(`Expected at least one training example but received ${o.examples}`);
    if (o.batchSize % o.gradAccum !== 0) throw new RangeError(`Expected gradAccum to divide batchSize (${o.batchSize}) but received ${o.gradAccum}`);
    this.stepsPerEpoch = Math.ceil(o.examples / o.batchSize);
    this.totalSteps = this.stepsPerEpoch * o.epochs;
    this.microSize = o.batchSize / o.gradAccum;
  }

  /** Fisher-Yates over 0..n-1 with the (seed, epoch) stream. */
  permutation(epoch: number): Uint32Array {
    let p = this.perms.get(epoch);
    if (!p) {
      const n = this.o.examples;
      p = new Uint32Array(n);
      for (let i = 0; i < n; i++) p[i] = i;
      const rng = seededRandom(this.o.seed, 'train-order', epoch);
      for (let i = n - 1; i > 0; i--) {
        const j = rng.int(i + 1);
        const t = p[i];
        p[i] = p[j];
        p[j] = t;
      }
      this.perms.clear(); // one epoch at a time is all a run needs
      this.perms.set(epoch, p);
    }
    return p;
  }

  step(s: number): StepSlice {
    if (!Number.isInteger(s) || s < 0 || s >= this.totalSteps) throw new RangeError(`Expected a step in [0, ${this.totalSteps}) but received ${s}`);
    const epoch = Math.floor(s / this.stepsPerEpoch);
    const start = (s % this.stepsPerEpoch) * this.o.batchSize;
    const end = Math.min(this.o.examples, start + this.o.batchSize);
    const ids = Array.from(this.permutation(epoch).subarray(start, end));
    return { epoch, start, micro: chunks(ids, this.microSize) };
  }

  /** Data position after `stepsDone` steps (what a checkpoint records). */
  position(stepsDone: number): { epoch: number; index: number } {
    if (stepsDone >= this.totalSteps) return { epoch: this.o.epochs, index: 0 };
    const s = this.step(stepsDone);
    return { epoch: s.epoch, index: s.start };
  }
}
