// The package's public API: `import { ... } from 'stic'` (package.json "exports", compiled to
// dist/lib/index.js with declarations beside it). What the CLI does, as functions: a whole run from a
// config (loadRunConfig + runPipeline with the real engines), one stage at a time (execute*), the
// engines themselves, and the adapter files. Everything here is re-exported from the layer that owns
// it; nothing is defined in this file.
export { BUILTIN_MODEL } from './demo/options.ts';
export { AddonLoadError } from './native/loader.ts';
export { openImages, openInference, openTraining } from './stic/engines.ts';
export type {
  ChatGenerateRequest,
  ChatGenerateResult,
  DpoExample,
  DpoJob,
  ImageApi,
  InferenceEngine,
  InferenceOpenOptions,
  RequestSampling,
  SftExample,
  SftJob,
  TrainHooks,
  TrainResult,
  TrainingEngine,
} from './stic/engine_api.ts';
export { type PlannedStage, type RunDeps, type RunOptions, runPipeline, stageOutputs } from './stic/pipeline.ts';
export { type RunConfig, STAGES, type StageName, loadRunConfig, parseRunConfig } from './stic/run_config.ts';
export { executeDescribe } from './stic/stages/describe.ts';
export { executeDpo } from './stic/stages/dpo.ts';
export { executeInfuse } from './stic/stages/infuse.ts';
export { executePref } from './stic/stages/pref.ts';
export { executeSft } from './stic/stages/sft.ts';
export type { StageEnv, StageResult } from './stic/stages/stage_io.ts';
export {
  type DescribeOptions,
  type InfuseOptions,
  type PrefOptions,
  validateDescribeOptions,
  validateInfuseOptions,
  validatePrefOptions,
} from './stic/stage_options.ts';
export { type DpoOptions, type SftOptions, validateDpoOptions, validateSftOptions } from './stic/train_options.ts';
export { ADAPTER_CONFIG, ADAPTER_WEIGHTS, type Adapter, AdapterError, PROJECTOR_WEIGHTS, adapterProjector, readAdapter, writeAdapter } from './train/adapter_io.ts';
export { type ChatModel, type ChatModelOptions, imagePixels, loadChatModel, userPromptIds } from './engine/chat_input.ts';
export { type InMemoryAdapter, type LoadModelOptions, type LogprobResult, LlavaModel, loadModel } from './engine/llava_model.ts';
export { adapterForLoad } from './train/adapted_model.ts';
export { exportMerged } from './train/merge_export.ts';
