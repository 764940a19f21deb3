// The LLaVA engine: load a model, generate, score. See llava_model.ts.
export { LlavaModel, loadModel } from './llava_model.ts';
export type { GenerateOptions, GenerateRequest, LoadModelOptions, LogprobItem, LogprobResult, ModelMemory, SequenceInput } from './llava_model.ts';
export { WeightError, checkpointNames, resolveWeights } from './weight_names.ts';
export type { FinishReason, GenerateResult, TokenDecoder } from '../generate/driver.ts';
export type { SamplingOptions } from '../generate/sampling.ts';
export { DEFAULT_SAMPLING } from '../generate/sampling.ts';
export { imagePixels, loadChatModel, preprocessFor, userPromptIds } from './chat_input.ts';
export type { ChatModel, ChatModelOptions } from './chat_input.ts';
export { randomLlavaConfigJson, writeRandomLlava } from './random_model.ts';
export type { RandomLlavaSpec } from './random_model.ts';
