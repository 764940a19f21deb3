// The native trainers' hyperparameters at the TypeScript defaults (native requires every one): the
// LoRA trainer's from the option tables (lib/stic/train_options.ts) and lib/train, the pretrainer's
// from TOY_PRETRAIN_DEFAULTS (lib/pretrain/toy_pretrain.ts), with the given options over them.
import type { NativeAdamWOptions, NativeDpoStepOptions, NativePairLogprobsOptions, NativeSftStepOptions, PretrainOptimizerOptions } from '../../lib/native/contract.ts';
import { DPO_OPTIONS } from '../../lib/stic/train_options.ts';
import { TOY_PRETRAIN_DEFAULTS } from '../../lib/pretrain/toy_pretrain.ts';
import { SHARED_PREFIX } from '../../lib/train/tasks.ts';

type LossKey = 'loss' | 'beta' | 'sftWeight' | 'sftNorm' | 'rejectedMode' | 'sharedPrefix' | 'gradCheckpointing' | 'refProjector';

/** Without gradient checkpointing unless asked: the tables' 'auto' is decided per run by the memory plan. */
const GRAD_CHECKPOINTING = false;

const REJECTED_MODE = DPO_OPTIONS.rejectedLogp.default as NativeDpoStepOptions['rejectedMode'];
const REF_PROJECTOR: NativeDpoStepOptions['refProjector'] = DPO_OPTIONS.reproduceReferenceDrift.default ? 'trained' : 'original';

function given<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

export function dpoStepOptions(o: Omit<NativeDpoStepOptions, LossKey> & Partial<Pick<NativeDpoStepOptions, LossKey>>): NativeDpoStepOptions {
  return {
    loss: DPO_OPTIONS.loss.default as NativeDpoStepOptions['loss'],
    beta: DPO_OPTIONS.beta.default as number,
    sftWeight: DPO_OPTIONS.sftWeight.default as number,
    sftNorm: DPO_OPTIONS.sftNorm.default as NativeDpoStepOptions['sftNorm'],
    rejectedMode: REJECTED_MODE,
    sharedPrefix: SHARED_PREFIX,
    gradCheckpointing: GRAD_CHECKPOINTING,
    refProjector: REF_PROJECTOR,
    ...given(o),
  };
}

export function sftStepOptions(o: Omit<NativeSftStepOptions, 'gradCheckpointing'> & Partial<Pick<NativeSftStepOptions, 'gradCheckpointing'>>): NativeSftStepOptions {
  return { gradCheckpointing: GRAD_CHECKPOINTING, ...given(o) };
}

/** pairLogprobs options of `model` (the reference with the original projector), rejectedMode at the table's default. */
export function pairLogprobsOptions(model: 'reference' | 'policy', o: { rejectedMode?: NativeDpoStepOptions['rejectedMode']; refProjector?: NativeDpoStepOptions['refProjector'] } = {}): NativePairLogprobsOptions {
  const rejectedMode = o.rejectedMode ?? REJECTED_MODE;
  return model === 'policy' ? { model, rejectedMode } : { model, rejectedMode, refProjector: o.refProjector ?? REF_PROJECTOR };
}

type AdamKey = 'beta1' | 'beta2' | 'eps';

/** The LoRA trainer's AdamW options: beta1, beta2 and eps at the tables' defaults unless given (maxGradNorm always is). */
export function adamWOptions(o: Omit<NativeAdamWOptions, AdamKey> & Partial<Pick<NativeAdamWOptions, AdamKey>>): NativeAdamWOptions {
  return { beta1: DPO_OPTIONS.adamBeta1.default as number, beta2: DPO_OPTIONS.adamBeta2.default as number, eps: DPO_OPTIONS.adamEps.default as number, ...given(o) };
}

/** The pretrainer's AdamW options: beta1, beta2 and eps at TOY_PRETRAIN_DEFAULTS and nothing frozen unless given. */
export function pretrainOptimizerOptions(o: Omit<PretrainOptimizerOptions, AdamKey | 'frozen'> & Partial<Pick<PretrainOptimizerOptions, AdamKey | 'frozen'>>): PretrainOptimizerOptions {
  const d = TOY_PRETRAIN_DEFAULTS;
  return { beta1: d.adamBeta1, beta2: d.adamBeta2, eps: d.adamEps, frozen: [], ...given(o) };
}
