// The memory plan of a training run, made before the first step (and before the reference pre-pass)
// and printed: what the largest step the run can draw needs, by lifetime class (the model's weights;
// the trainable parameters with their gradients and AdamW moments; the activations the forward keeps
// for the backward; the step's scratch), with and without gradient checkpointing, against a memory
// budget. --grad-checkpointing auto keeps every activation when that fits and checkpoints otherwise;
// a run that does not fit even so is refused before it starts, with the numbers.
// The activation bytes are the native trainer's own plan (memoryPlan: the arithmetic the step
// allocates by) for a bound on the largest pass: a micro-batch of k examples packs into passes of at
// most trainPassRowBudget rows, unless one example is longer, so a pass has at most
// max(longest example, min(budget, the k longest together)) rows.
// Legend: k examples per micro-batch, Ti image tokens per crop.
import { readFileSync } from 'node:fs';
import os from 'node:os';

import { formatBytes } from '../model/memory_estimate.ts';
import type { LlavaModelNative, LlavaTrainerNative, NativeStepMemory, NativeStepShape } from '../native/contract.ts';
import type { GradCheckpointing } from './train_options.ts';
import type { TokenizedPair, TokenizedSft } from './collate.ts';
import type { TrainingModel } from './model_load.ts';

const GIB = 1024 ** 3;

/** One example's pass: its rows, the keys of its longest attention segment, its scored tokens. */
export interface ExampleExtent {
  rows: number;
  keys: number;
  entries: number;
  image: boolean;
}

/** A preference pair as the step lays it out: the prompt once, the two responses as branches over it. */
export function pairExtent(e: Pick<TokenizedPair, 'promptIds' | 'chosenIds' | 'rejectedIds' | 'image'>): ExampleExtent {
  const P = e.promptIds.length;
  const C = e.chosenIds.length;
  const R = e.rejectedIds.length;
  return { rows: P + C + R - 2, keys: P + Math.max(C, R) - 1, entries: C + R, image: e.image !== null };
}

/** An SFT item: its ids up to the last target (later tokens predict nothing). */
export function sftExtent(e: Pick<TokenizedSft, 'mask' | 'targets' | 'image'>): ExampleExtent {
  const last = e.mask.lastIndexOf(1);
  return { rows: last, keys: last, entries: e.targets, image: e.image !== null };
}

/** The largest pass any micro-batch of k examples can make (see the header), and its image feature rows. */
export function largestStep(examples: ExampleExtent[], k: number, passRows: number, featureRowsPerImage: number): NativeStepShape {
  const topSum = (f: (e: ExampleExtent) => number) =>
    examples
      .map(f)
      .sort((a, b) => b - a)
      .slice(0, k)
      .reduce((s, x) => s + x, 0);
  const longest = Math.max(0, ...examples.map((e) => e.rows));
  const withImage = examples.filter((e) => e.image).length;
  return {
    featureRows: Math.min(k, withImage) * featureRowsPerImage,
    rows: Math.max(longest, Math.min(passRows, topSum((e) => e.rows))),
    keys: Math.max(0, ...examples.map((e) => e.keys)),
    entries: topSum((e) => e.entries),
  };
}

/** Feature rows of one image at most: Ti per crop, one crop for a single tile, 1 + the largest anyres grid otherwise. */
export function featureRowsPerImage(m: Pick<TrainingModel, 'config' | 'processor'>): number {
  const c = m.config;
  if (m.processor.kind !== 'anyres' || !c.anyres) return c.imageTokenCount;
  const S = c.vision.preprocess?.cropSize ?? c.vision.imageSize;
  const tiles = Math.max(...c.anyres.gridPinpoints.map(([h, w]) => Math.ceil(h / S) * Math.ceil(w / S)));
  return (1 + tiles) * c.imageTokenCount;
}

export interface MemoryBudget {
  bytes: number;
  /** Where the number comes from, for the printed plan. */
  source: string;
}

/** /proc/meminfo's MemAvailable (os.freemem() where there is none), in bytes. */
export function memAvailable(meminfo = '/proc/meminfo'): number {
  try {
    const m = /^MemAvailable:\s+(\d+)\s+kB$/m.exec(readFileSync(meminfo, 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch {
    // not Linux: fall through
  }
  return os.freemem();
}

/** --memory-budget GiB, or (0) MemAvailable plus what the process already holds of the plan (its copied weights, the trainer's tensors). */
export function memoryBudget(gib: number, held: number, available: () => number = memAvailable): MemoryBudget {
  if (gib > 0) return { bytes: gib * GIB, source: `--memory-budget ${gib}` };
  const free = available();
  return { bytes: free + held, source: `MemAvailable ${formatBytes(free)} + ${formatBytes(held)} already held for the weights and the trainer` };
}

export interface MemoryPlan {
  step: NativeStepShape;
  /** Every weight of the model, mapped or copied. */
  weights: number;
  /** Trainable parameters, their gradients and AdamW moments. */
  trainable: number;
  full: NativeStepMemory;
  checkpointed: NativeStepMemory;
  budget: MemoryBudget;
  mode: GradCheckpointing;
  /** The choice: true = gradient checkpointing on. */
  checkpointing: boolean;
}

export function planTotal(p: Pick<MemoryPlan, 'weights' | 'trainable'>, a: NativeStepMemory): number {
  return p.weights + p.trainable + a.savedBytes + a.scratchBytes;
}

/** Picks the mode (auto: keep everything when it fits) or throws, naming every size, when the chosen one does not fit. */
export function choosePlan(p: Omit<MemoryPlan, 'checkpointing'>): MemoryPlan {
  const fullFits = planTotal(p, p.full) <= p.budget.bytes;
  const checkpointing = p.mode === 'on' || (p.mode === 'auto' && !fullFits);
  const plan = { ...p, checkpointing };
  const used = checkpointing ? p.checkpointed : p.full;
  if (planTotal(p, used) <= p.budget.bytes) return plan;
  const other = checkpointing ? '' : `; with gradient checkpointing it would need ${formatBytes(planTotal(p, p.checkpointed))} (--grad-checkpointing on)`;
  throw new Error(
    `the largest training step does not fit in the memory budget ${checkpointing ? 'even with' : 'without'} gradient checkpointing: ` +
      `weights ${formatBytes(p.weights)} + trainable parameters, gradients and AdamW moments ${formatBytes(p.trainable)} + ` +
      `saved activations ${formatBytes(used.savedBytes)} + scratch ${formatBytes(used.scratchBytes)} = ${formatBytes(planTotal(p, used))}, ` +
      `but the budget is ${formatBytes(p.budget.bytes)} (${p.budget.source})${other}. ` +
      `Lower --max-length, or the examples per micro-batch (--batch-size / --grad-accum), or --lora-r, or give a larger --memory-budget`,
  );
}

/** The plan as the lines printed before the first step. */
export function formatPlan(p: MemoryPlan): string[] {
  const col = (a: NativeStepMemory) => [a.savedBytes, a.scratchBytes, planTotal(p, a)].map(formatBytes);
  const [fs, fx, ft] = col(p.full);
  const [cs, cx, ct] = col(p.checkpointed);
  const s = p.step;
  const why = p.mode === 'auto' ? (p.checkpointing ? 'auto: the full plan exceeds the budget' : 'auto: the full plan fits') : `--grad-checkpointing ${p.mode}`;
  return [
    `memory plan of the largest step (${s.rows} rows, ${s.keys} keys, ${s.entries} scored tokens, ${s.featureRows} image feature rows):`,
    `  weights                      ${formatBytes(p.weights)}`,
    `  trainable + grads + AdamW    ${formatBytes(p.trainable)}`,
    `                               without checkpointing | with`,
    `  saved activations            ${fs} | ${cs}`,
    `  scratch                      ${fx} | ${cx}`,
    `  total                        ${ft} | ${ct}`,
    `  budget                       ${formatBytes(p.budget.bytes)} (${p.budget.source})`,
    `  gradient checkpointing: ${p.checkpointing ? 'on' : 'off'} (${why})`,
  ];
}

export interface PlanOptions {
  gradCheckpointing: GradCheckpointing;
  memoryBudget: number;
}

/** The run's plan from the trainer's own sizes and its largest step; throws when it does not fit. */
export function trainingMemoryPlan(trainer: Pick<LlavaTrainerNative, 'memory' | 'memoryPlan'>, model: Pick<LlavaModelNative, 'memory'>, step: NativeStepShape, o: PlanOptions, available?: () => number): MemoryPlan {
  const t = trainer.memory();
  const w = model.memory();
  const trainable = t.parameterBytes + t.gradientBytes + t.optimizerBytes;
  const { full, checkpointed } = trainer.memoryPlan(step);
  const budget = memoryBudget(o.memoryBudget, w.weightBytes - w.mappedWeightBytes + trainable, available);
  return choosePlan({ step, weights: w.weightBytes, trainable, full, checkpointed, budget, mode: o.gradCheckpointing });
}
