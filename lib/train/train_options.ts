// The options of the two training stages as the trainer takes them (lib/train): their tables, with
// defaults, flags and checks, are lib/stic/train_options.ts's, one level up.
import type { ImageAspect } from '../data/model_image.ts';
import type { ScheduleKind } from '../util/lr_schedule.ts';

export const LORA_TARGETS = ['q', 'k', 'v', 'o', 'gate', 'up', 'down'] as const;
export type LoraTarget = (typeof LORA_TARGETS)[number];

export const GRAD_CHECKPOINTING = ['auto', 'on', 'off'] as const;
export type GradCheckpointing = (typeof GRAD_CHECKPOINTING)[number];

/**
 * AdamW's moment decays and epsilon (torch's): the option tables' defaults of --adam-beta1,
 * --adam-beta2 and --adam-eps (lib/stic/train_options.ts), and what a run ran with before they were
 * options, so that its checkpoints, which do not record them, still resume (loop.ts).
 */
export const ADAMW_DEFAULTS = { adamBeta1: 0.9, adamBeta2: 0.999, adamEps: 1e-8 } as const;

/** Options both training stages share. */
export interface CommonTrainOptions {
  imageRoot?: string;
  imageAspect: ImageAspect;
  loraR: number;
  loraAlpha: number;
  loraDropout: number;
  loraTargets: LoraTarget[];
  lr: number;
  trainProjector: boolean;
  projectorLr: number;
  schedule: ScheduleKind;
  warmupRatio: number;
  epochs: number;
  batchSize: number;
  gradAccum: number;
  maxLength: number;
  weightDecay: number;
  maxGradNorm: number;
  adamBeta1: number;
  adamBeta2: number;
  adamEps: number;
  checkpointEvery: number;
  saveTotalLimit: number;
  maxSteps: number;
  minKept: number;
  seed: number;
  gradCheckpointing: GradCheckpointing;
  memoryBudget: number;
}

export interface DpoOptions extends CommonTrainOptions {
  prefs: string;
  evalPrefs?: string;
  evalEvery: number;
  beta: number;
  loss: 'sigmoid' | 'hinge' | 'ipo';
  sftWeight: number;
  sftNorm: 'sum' | 'mean';
  rejectedLogp: 'label' | 'top-alt';
  refLogps: 'auto' | 'stored' | 'compute';
  reproduceMissingImageToken: boolean;
  reproduceReferenceDrift: boolean;
}

export interface SftOptions extends CommonTrainOptions {
  data: string;
  initAdapter?: string;
}
