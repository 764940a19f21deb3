// What the training loop needs from a trainer: the native one (lib/native/contract.ts, "model-level
// training") implements it; tests drive the loop, checkpoints and resume with a small fake of the
// same shape. Keeping the loop on this subset is what lets them run without a model.
import type { LlavaTrainerNative } from '../native/contract.ts';

export type Trainer = Pick<
  LlavaTrainerNative,
  'spec' | 'tensorInfo' | 'getTensors' | 'setTensors' | 'getStep' | 'setStep' | 'pairLogprobs' | 'dpoStep' | 'sftStep' | 'optimizerStep' | 'zeroGrad'
>;

export type {
  LlavaTrainerNative,
  NativeDpoStepResult,
  NativePreferencePair,
  NativeSftItem,
  NativeTrainTensorInfo,
  NativeTrainerSpec,
} from '../native/contract.ts';
