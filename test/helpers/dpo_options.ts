// The native DPO step's loss hyperparameters at the option tables' defaults (lib/stic/train_options.ts,
// the one place they are defaulted: native requires them), with the given options over them.
import type { NativeDpoStepOptions } from '../../lib/native/contract.ts';
import { DPO_OPTIONS } from '../../lib/stic/train_options.ts';

type LossKey = 'loss' | 'beta' | 'sftWeight' | 'sftNorm' | 'rejectedMode';

export function dpoStepOptions(o: Omit<NativeDpoStepOptions, LossKey> & Partial<Pick<NativeDpoStepOptions, LossKey>>): NativeDpoStepOptions {
  const given = Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as typeof o;
  return {
    loss: DPO_OPTIONS.loss.default as NativeDpoStepOptions['loss'],
    beta: DPO_OPTIONS.beta.default as number,
    sftWeight: DPO_OPTIONS.sftWeight.default as number,
    sftNorm: DPO_OPTIONS.sftNorm.default as NativeDpoStepOptions['sftNorm'],
    rejectedMode: DPO_OPTIONS.rejectedLogp.default as NativeDpoStepOptions['rejectedMode'],
    ...given,
  };
}
