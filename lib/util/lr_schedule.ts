// Learning-rate schedules with linear warmup, with the semantics of Hugging Face transformers'
// get_{cosine,linear,constant}_schedule_with_warmup (what the public STIC recipes ran with), so a
// run here and a run there use the same learning rate at every optimizer step:
//   warmup steps  = ceil(warmupRatio * totalSteps)            (TrainingArguments.get_warmup_steps)
//   step < warmup : lr * step / warmup                        (so step 0 trains with lr 0 when warmup > 0)
//   cosine        : lr * max(0, 0.5 * (1 + cos(pi * p)))      p = (step - warmup) / (total - warmup)
//   linear        : lr * max(0, (total - step) / (total - warmup))
//   constant      : lr
// `step` counts optimizer steps already taken (0 for the first update).

export const SCHEDULE_KINDS = ['cosine', 'linear', 'constant'] as const;
export type ScheduleKind = (typeof SCHEDULE_KINDS)[number];

export interface ScheduleOptions {
  kind: ScheduleKind;
  /** Peak learning rate, reached at the end of warmup. */
  lr: number;
  /** Total optimizer steps of the run. */
  totalSteps: number;
  /** Fraction of totalSteps spent warming up linearly from 0 (STIC: 0.03). */
  warmupRatio: number;
}

/** The warmup length in optimizer steps. */
export function warmupSteps(o: Pick<ScheduleOptions, 'totalSteps' | 'warmupRatio'>): number {
  return Math.ceil(o.totalSteps * o.warmupRatio);
}

/** The learning rate for optimizer step `step` (0-based). */
export function learningRateAt(o: ScheduleOptions, step: number): number {
  checkSchedule(o);
  if (!Number.isInteger(step) || step < 0) throw new RangeError(`Expected a non-negative integer for step but received ${step}`);
  const warm = warmupSteps(o);
  if (step < warm) return (o.lr * step) / Math.max(1, warm);
  const span = Math.max(1, o.totalSteps - warm);
  switch (o.kind) {
    case 'constant':
      return o.lr;
    case 'linear':
      return o.lr * Math.max(0, (o.totalSteps - step) / span);
    case 'cosine':
      return o.lr * Math.max(0, 0.5 * (1 + Math.cos((Math.PI * (step - warm)) / span)));
  }
}

/** Every learning rate of the run, step 0 .. totalSteps-1 (for charts and for the trainer's table). */
export function learningRates(o: ScheduleOptions): Float64Array {
  const out = new Float64Array(o.totalSteps);
  for (let s = 0; s < o.totalSteps; s++) out[s] = learningRateAt(o, s);
  return out;
}

function checkSchedule(o: ScheduleOptions): void {
  if (!(SCHEDULE_KINDS as readonly string[]).includes(o.kind)) {
    throw new RangeError(`Expected one of ${SCHEDULE_KINDS.join(', ')} for schedule but received ${JSON.stringify(o.kind)}`);
  }
  if (!(Number.isFinite(o.lr) && o.lr >= 0)) throw new RangeError(`Expected a non-negative number for lr but received ${o.lr}`);
  if (!Number.isInteger(o.totalSteps) || o.totalSteps < 1) {
    throw new RangeError(`Expected a positive integer for totalSteps but received ${o.totalSteps}`);
  }
  if (!(o.warmupRatio >= 0 && o.warmupRatio <= 1)) throw new RangeError(`Expected a number in [0, 1] for warmupRatio but received ${o.warmupRatio}`);
}
