// The model a training run (or an export) works on: the config, the native weights, and the
// tokenizer + chat template that turn examples into ids. Its weights' sources come from
// lib/engine/model_sources.ts, as the engine's LlavaModel's do (the trainer needs the native model
// object itself, so it loads them here), with one addition: a trained projector
// (the one a stage-1 adapter carries, adapter_io.ts adapterProjector) can stand in for the
// checkpoint's, so that stage 2 continues the stage-1 model and an export merges it.

import { type ImageProcessor, type ImageProcessorOptions, imageProcessor, imageTokenCounts } from '../data/image_processor.ts';
import { modelSources, withReplacements } from '../engine/model_sources.ts';
import { selectChatTemplate } from '../model/chat_template.ts';
import type { EngineConfig } from '../model/engine_config.ts';
import type { Checkpoint, TensorEntry } from '../model/safetensors.ts';
import { loadTokenizer } from '../model/tokenizer.ts';
import { native } from '../native/index.ts';
import type { LlavaModelNative, TensorSourceEntry } from '../native/contract.ts';
import { AdapterError, isProjectorName } from './adapter_io.ts';
import type { ChatEncoder } from './collate.ts';
import { type PixelLoader, pixelLoader } from './collate.ts';

export interface LoadedWeights {
  dir: string;
  config: EngineConfig;
  /** The checkpoint (not the tower's) and the engine-name sources read from it. */
  checkpoint: Checkpoint;
  sources: TensorSourceEntry[];
  model: LlavaModelNative;
}

export interface TrainingModel extends LoadedWeights {
  encoder: ChatEncoder;
  processor: ImageProcessor;
  pixels: PixelLoader;
}

/** Config, weights (with an optional projector override: an adapter's, engine names) on the native side. */
export async function loadWeights(dir: string, projector: TensorEntry[] = []): Promise<LoadedWeights> {
  const { root, config, checkpoint, sources: own } = await modelSources(dir);
  const sources = projector.length > 0 ? withReplacements(own, checkedProjector(projector, own)) : own;
  const model = await native().loadLlava(config, sources);
  return { dir: root, config, checkpoint, sources, model };
}

/**
 * An adapter's projector tensors as engine sources, checked against the model's (`wanted`: its
 * specs or sources): every projector tensor present, each of the model's shape, nothing else.
 */
export function checkedProjector(entries: TensorEntry[], wanted: { name: string; shape: number[] }[]): TensorSourceEntry[] {
  const want = wanted.filter((s) => isProjectorName(s.name));
  const file = entries[0]?.file ?? '(no file)';
  for (const e of entries) {
    if (!want.some((s) => s.name === e.name)) throw new AdapterError(e.file, `expected projector tensors (${want.map((s) => s.name).join(', ')}) but found "${e.name}"`);
  }
  return want.map((s) => {
    const e = entries.find((x) => x.name === s.name);
    if (!e) throw new AdapterError(file, `expected projector tensor "${s.name}" but it is missing`);
    if (e.shape.join(',') !== s.shape.join(',')) throw new AdapterError(e.file, `tensor "${s.name}": expected shape [${s.shape.join(', ')}] (the model's projector) but found [${e.shape.join(', ')}]`);
    return { name: s.name, file: e.file, dtype: e.dtype, shape: e.shape, offset: e.offset, nbytes: e.nbytes };
  });
}

/** Weights plus what training needs to tokenise examples and process images (images: the aspect of a LLaVA-NeXT model). */
export async function loadTrainingModel(dir: string, projector: TensorEntry[] = [], images: ImageProcessorOptions = {}): Promise<TrainingModel> {
  const w = await loadWeights(dir, projector);
  const tokenizer = loadTokenizer(w.dir);
  const template = selectChatTemplate({ checkpoint: tokenizer.chatTemplate, family: w.config.decoder.family });
  const processor = imageProcessor(w.config, images);
  return {
    ...w,
    encoder: { tokenizer, template, config: w.config },
    processor,
    pixels: pixelLoader(processor),
  };
}

/**
 * The encoder for these image files: with anyres images, each file's token count read from its
 * header first (prompts are tokenised once, before the first step).
 */
export async function encoderForImages(m: TrainingModel, files: readonly (string | null | undefined)[]): Promise<ChatEncoder> {
  if (m.processor.kind !== 'anyres') return m.encoder;
  const list = files.filter((f): f is string => typeof f === 'string');
  return { ...m.encoder, imageTokens: await imageTokenCounts(list, m.processor) };
}
