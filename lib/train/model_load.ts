// The model a training run (or an export) works on: the config, the native weights, and the
// tokenizer + chat template that turn examples into ids. Loaded the way lib/engine's LlavaModel
// loads it (the trainer needs the native model object itself), with one addition: a projector file
// (a stage-1 projector.safetensors) can stand in for the checkpoint's projector, so that stage 2
// continues the stage-1 model and an export merges the trained projector.
import path from 'node:path';

import { type ImageProcessor, type ImageProcessorOptions, imageProcessor, imageTokenCounts } from '../data/image_processor.ts';
import { resolveWeights } from '../engine/weight_names.ts';
import { assertRunnable, loadModelConfig } from '../model/config.ts';
import { selectChatTemplate } from '../model/chat_template.ts';
import type { EngineConfig } from '../model/engine_config.ts';
import { type Checkpoint, openCheckpoint, openSafetensors } from '../model/safetensors.ts';
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

/** Config, weights (with an optional projector override) on the native side. */
export async function loadWeights(dir: string, projectorFile?: string): Promise<LoadedWeights> {
  const root = path.resolve(dir);
  const config = loadModelConfig(root);
  assertRunnable(config);
  const checkpoint = await openCheckpoint(root);
  const checkpoints = [checkpoint];
  const towerDir = config.weights.visionTowerPath;
  if (towerDir !== null && ![...checkpoint.tensors.keys()].some((n) => n.startsWith('model.vision_tower.'))) checkpoints.push(await openCheckpoint(towerDir));
  let sources = resolveWeights(native().llavaTensorSpecs(config), checkpoints, config);
  if (projectorFile !== undefined) sources = await withProjector(sources, projectorFile);
  const model = await native().loadLlava(config, sources);
  return { dir: root, config, checkpoint, sources, model };
}

/** The sources with every projector tensor taken from `file` (engine names, same shapes). */
async function withProjector(sources: TensorSourceEntry[], file: string): Promise<TensorSourceEntry[]> {
  const st = await openSafetensors(file);
  const wanted = sources.filter((s) => isProjectorName(s.name));
  for (const name of st.tensors.keys()) {
    if (!wanted.some((s) => s.name === name)) throw new AdapterError(file, `expected projector tensors (${wanted.map((s) => s.name).join(', ')}) but found "${name}"`);
  }
  return sources.map((s) => {
    if (!isProjectorName(s.name)) return s;
    const e = st.tensors.get(s.name);
    if (!e) throw new AdapterError(file, `expected tensor "${s.name}" but it is missing`);
    if (e.shape.join(',') !== s.shape.join(',')) throw new AdapterError(file, `tensor "${s.name}": expected shape [${s.shape.join(', ')}] (the model's projector) but found [${e.shape.join(', ')}]`);
    return { name: s.name, file: e.file, dtype: e.dtype, shape: e.shape, offset: e.offset, nbytes: e.nbytes };
  });
}

/** Weights plus what training needs to tokenise examples and process images (images: the aspect of a LLaVA-NeXT model). */
export async function loadTrainingModel(dir: string, projectorFile?: string, images: ImageProcessorOptions = {}): Promise<TrainingModel> {
  const w = await loadWeights(dir, projectorFile);
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
