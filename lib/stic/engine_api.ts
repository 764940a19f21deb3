// The engines as the pipeline sees them: inference and images (lib/engine/inference_api.ts) and
// training (lib/train/training_api.ts), listed in one place for the stages, the CLI and the tests'
// fakes; lib/stic/engine_adapters.ts binds them to the real engines.
export type {
  ChatGenerateRequest, ChatGenerateResult, ChatLogprobItem, ChatLogprobResult, CorruptedImage, CorruptionSpec, ImageApi, InferenceDeps, InferenceEngine, InferenceOpenOptions,
  OpenInference, RequestSampling, RgbImage,
} from '../engine/inference_api.ts';
export type { DpoExample, DpoJob, OpenTraining, SftExample, SftJob, TrainDataReport, TrainHooks, TrainJobBase, TrainResult, TrainingEngine } from '../train/training_api.ts';
