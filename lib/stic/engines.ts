// Where the pipeline finds the real engines: inference and images adapted in engine_adapters.ts,
// the trainer lib/train's (it imports nothing of lib/stic, so the import is a plain one).
import { sticTrainingEngine } from '../train/index.ts';
import type { ImageApi, InferenceEngine, InferenceOpenOptions, TrainingEngine } from './engine_api.ts';
import { llavaImages, openLlavaInference } from './engine_adapters.ts';

export function openInference(options: InferenceOpenOptions): Promise<InferenceEngine> {
  return openLlavaInference(options);
}

export async function openImages(): Promise<ImageApi> {
  return llavaImages;
}

export function openTraining(): Promise<TrainingEngine> {
  return sticTrainingEngine();
}
