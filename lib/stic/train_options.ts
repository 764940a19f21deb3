// Every hyperparameter of the two training stages, with the paper's / official recipe's default
// (STIC.md): DPO (stage 1b) and description-infused SFT (stage 2b). One table per stage feeds the
// `stic dpo` / `stic sft` flags and the `dpo:` / `sft:` sections of a `stic run` config.
import { SCHEDULE_KINDS } from '../util/lr_schedule.ts';
import { ADAMW_DEFAULTS, type CommonTrainOptions, type DpoOptions, GRAD_CHECKPOINTING, LORA_TARGETS, type SftOptions } from '../train/train_options.ts';
import { type OptionSpec, type OptionTable, validateOptions } from './options.ts';
import { IMAGE_ASPECT_OPTION } from './stage_options.ts';
import { DEFAULT_SEED } from '../util/seeded.ts';

/** LoRA shape options in SFT: a continued adapter keeps its own rank, alpha and targets. */
export const ADAPTER_SHAPE_KEYS = ['loraR', 'loraAlpha', 'loraTargets'] as const;

function commonTable(lr: number, batchSize: number): OptionTable<CommonTrainOptions> {
  return {
    imageRoot: { type: 'string', path: true, describe: 'Folder that relative image paths of the data are resolved against (default: the data file\'s folder)' },
    imageAspect: IMAGE_ASPECT_OPTION,
    loraR: { type: 'integer', min: 1, default: 128, describe: 'LoRA rank r' },
    loraAlpha: { type: 'number', min: 0, minExclusive: true, default: 256, describe: 'LoRA alpha (the update is scaled by alpha / r)' },
    loraDropout: { type: 'number', min: 0, max: 1, maxExclusive: true, default: 0.05, describe: 'Dropout on the LoRA input' },
    loraTargets: { type: 'list', choices: LORA_TARGETS, default: [...LORA_TARGETS], describe: 'Decoder linear layers that get LoRA' },
    lr: { type: 'number', min: 0, minExclusive: true, default: lr, describe: 'Peak learning rate of the LoRA weights' },
    trainProjector: { type: 'boolean', default: true, describe: 'Also train the vision-language projector (with --projector-lr); --no-train-projector freezes it' },
    projectorLr: { type: 'number', min: 0, minExclusive: true, default: 2e-5, describe: 'Peak learning rate of the projector' },
    schedule: { type: 'string', choices: SCHEDULE_KINDS, default: 'cosine', describe: 'Learning-rate schedule after warmup' },
    warmupRatio: { type: 'number', min: 0, max: 1, default: 0.03, describe: 'Fraction of the optimizer steps spent in linear warmup' },
    epochs: { type: 'integer', min: 1, default: 1, describe: 'Passes over the data' },
    batchSize: { type: 'integer', min: 1, default: batchSize, describe: 'Global batch size (examples per optimizer step)' },
    gradAccum: { type: 'integer', min: 1, default: 1, describe: 'Micro-batches per optimizer step (must divide --batch-size)' },
    maxLength: { type: 'integer', min: 16, default: 2048, describe: 'Maximum tokens per sequence (prompt, image tokens and answer); longer examples are cut at the end of the answer (DPO) or conversation (SFT), as TRL does, and counted; never inside the prompt' },
    weightDecay: { type: 'number', min: 0, default: 0, describe: 'AdamW decoupled weight decay' },
    maxGradNorm: { type: 'number', min: 0, default: 1, describe: 'Clip the global gradient norm to this (0: no clipping)' },
    adamBeta1: { type: 'number', min: 0, max: 1, maxExclusive: true, default: ADAMW_DEFAULTS.adamBeta1, describe: 'AdamW beta1: decay of the running mean of the gradient' },
    adamBeta2: { type: 'number', min: 0, max: 1, maxExclusive: true, default: ADAMW_DEFAULTS.adamBeta2, describe: 'AdamW beta2: decay of the running mean of the squared gradient' },
    adamEps: { type: 'number', min: 0, minExclusive: true, default: ADAMW_DEFAULTS.adamEps, describe: 'AdamW epsilon: added to the root of the second moment in the update\'s denominator' },
    checkpointEvery: { type: 'integer', min: 1, default: 50, describe: 'Optimizer steps between resumable checkpoints' },
    saveTotalLimit: { type: 'integer', min: 1, default: 2, describe: 'Checkpoints kept in <out>/work/checkpoints, the newest ones (as TRL\'s save_total_limit)' },
    maxSteps: { type: 'integer', min: 0, default: 0, describe: 'Stop after this many optimizer steps, the learning-rate schedule spanning them (as TRL\'s max_steps, but never beyond --epochs; 0: no limit)' },
    minKept: { type: 'number', min: 0, max: 1, default: 0.95, describe: 'Stop before training when fewer than this fraction of the records read would be trained on (the rest skipped: unreadable, image not found, too long), with the counts by reason' },
    seed: { type: 'integer', min: 0, default: DEFAULT_SEED, describe: 'Seed of data order and dropout' },
    gradCheckpointing: { type: 'string', choices: GRAD_CHECKPOINTING, default: 'auto', describe: 'Gradient checkpointing: keep only each decoder layer\'s input and recompute the layer in the backward (the same gradients, less memory, about a third more compute). auto: only when the step would not fit --memory-budget otherwise (the memory plan is printed before the first step)' },
    memoryBudget: { type: 'number', min: 0, default: 0, describe: 'Memory in GiB the training may use (weights, trainable tensors and AdamW moments, activations); a run that does not fit is refused before it starts (0: what /proc/meminfo calls MemAvailable plus what the process already holds for the model and the trainer)' },
  };
}

export const DPO_OPTIONS: OptionTable<DpoOptions> = {
  prefs: { type: 'string', path: true, required: true, wired: true, describe: 'Preference pairs: our JSONL (stic pref), the public STIC release (JSONL or JSON array) or TRL\'s DPO format ({prompt, chosen, rejected, images} per line, standard or conversational)' },
  evalPrefs: { type: 'string', path: true, describe: 'Held-out preference pairs (any --prefs format): every --eval-every steps and at the end, their DPO loss, reward accuracy and margin (no gradient) go into metrics.jsonl as eval_* fields, the chart and summary.txt (default: none, no evaluation)' },
  evalEvery: { type: 'integer', min: 0, default: 0, describe: 'Optimizer steps between evaluations on --eval-prefs (0: a quarter of the run\'s steps, rounded up, so four evaluations; the last step is always evaluated)' },
  ...commonTable(1e-7, 8),
  beta: { type: 'number', min: 0, minExclusive: true, default: 0.1, describe: 'DPO beta (strength of the KL anchor to the reference)' },
  loss: { type: 'string', choices: ['sigmoid', 'hinge', 'ipo'], default: 'sigmoid', describe: 'Preference loss: sigmoid (DPO), hinge (SLiC), ipo' },
  sftWeight: { type: 'number', min: 0, default: 1 / 1024, describe: 'Weight of the preferred-response regulariser -log p(chosen) (STIC: 1/1024)' },
  sftNorm: { type: 'string', choices: ['sum', 'mean'], default: 'sum', describe: 'Regulariser on the summed (official code) or per-token mean chosen log-prob' },
  rejectedLogp: { type: 'string', choices: ['label', 'top-alt'], default: 'label', describe: 'Rejected log-prob from its tokens (paper) or from the model\'s best other token (official code)' },
  refLogps: { type: 'string', choices: ['auto', 'stored', 'compute'], default: 'auto', describe: 'Reference log-probs: stored in the pairs (stic pref --ref-logps), computed in a pre-pass, or auto (stored when every pair has them)' },
  reproduceMissingImageToken: { type: 'boolean', default: false, describe: 'Reproduce public defect (b): train on prompts that lost the image token as they are (default: put the token back)' },
  reproduceReferenceDrift: { type: 'boolean', default: false, describe: 'Reproduce public defect (c): the reference uses the trained projector (default: the original one)' },
};

export const SFT_OPTIONS: OptionTable<SftOptions> = {
  data: { type: 'string', path: true, required: true, wired: true, describe: 'Description-infused instruction data in LLaVA format (stic infuse output)' },
  initAdapter: { type: 'string', path: true, wired: true, describe: 'Stage-1 adapter to continue training, as STIC does (default: none, a new adapter)' },
  ...withAdapterShape(commonTable(2e-5, 32)),
};

function withAdapterShape(t: OptionTable<CommonTrainOptions>): OptionTable<CommonTrainOptions> {
  const out = { ...t };
  for (const k of ADAPTER_SHAPE_KEYS) out[k] = { ...t[k], describe: `${t[k].describe} of a new adapter (with --init-adapter, the adapter's own is kept)` };
  return out;
}

type ProblemFormat = (p: { flag: string; expected: string; received: unknown }) => string;

/** Typed, range-checked DPO options; cross-option rules included. */
export function validateDpoOptions(values: Record<string, unknown>, format: ProblemFormat): DpoOptions {
  const o = validateOptions(DPO_OPTIONS, values, format);
  checkTrainOptions(o, format);
  return o;
}

export function validateSftOptions(values: Record<string, unknown>, format: ProblemFormat): SftOptions {
  const o = validateOptions(SFT_OPTIONS, values, format);
  checkTrainOptions(o, format);
  return o;
}

/** The rules across options of both training stages (--grad-accum divides --batch-size). */
export function checkTrainOptions(o: CommonTrainOptions, format: ProblemFormat): void {
  if (o.batchSize % o.gradAccum !== 0) {
    throw new Error(format({ flag: 'grad-accum', expected: `a divisor of --batch-size (${o.batchSize})`, received: o.gradAccum }));
  }
}

export type { OptionSpec };
export { GRAD_CHECKPOINTING, LORA_TARGETS };
export type { CommonTrainOptions, DpoOptions, GradCheckpointing, LoraTarget, SftOptions } from '../train/train_options.ts';
