// Where a model folder's weights come from, worked out once for every path that loads a model (the
// inference engine's loadModel, the trainer's and the export's lib/train/model_load.ts): its config
// (checked runnable), its checkpoint (single file or shards), the separate CLIP checkpoint of the
// original LLaVA layout when the tower is not inside, and the engine's source for every weight
// (weight_names.ts), with replacements (an adapter's trained projector) put in by name.
import path from 'node:path';

import { assertRunnable, loadModelConfig } from '../model/config.ts';
import type { EngineConfig } from '../model/engine_config.ts';
import { type Checkpoint, openCheckpoint } from '../model/safetensors.ts';
import { native } from '../native/index.ts';
import type { TensorSourceEntry } from '../native/contract.ts';
import { resolveWeights } from './weight_names.ts';

export interface ModelSources {
  /** The model folder, absolute. */
  root: string;
  config: EngineConfig;
  /** The model's own checkpoint (not the separate tower's). */
  checkpoint: Checkpoint;
  /** A source for every weight the engine loads (llavaTensorSpecs order). */
  sources: TensorSourceEntry[];
}

export interface ModelSourceOptions {
  /** A CLIP checkpoint folder for an original-layout model whose config names none that exists. */
  visionTowerPath?: string;
  /** Weights from this file or folder instead of the model folder's. */
  weights?: string;
  /** Sources put in place of the model's of the same engine name (and shape). */
  replacements?: TensorSourceEntry[];
}

export async function modelSources(dir: string, opts: ModelSourceOptions = {}): Promise<ModelSources> {
  const root = path.resolve(dir);
  const config = loadModelConfig(root, opts.visionTowerPath === undefined ? {} : { visionTowerPath: opts.visionTowerPath });
  assertRunnable(config);
  const checkpoint = await openCheckpoint(opts.weights ?? root);
  const checkpoints: Checkpoint[] = [checkpoint];
  const towerDir = config.weights.visionTowerPath;
  const towerInside = [...checkpoint.tensors.keys()].some((n) => n.startsWith('model.vision_tower.'));
  if (towerDir !== null && !towerInside) checkpoints.push(await openCheckpoint(towerDir));
  const sources = resolveWeights(native().llavaTensorSpecs(config), checkpoints, config);
  return { root, config, checkpoint, sources: opts.replacements?.length ? withReplacements(sources, opts.replacements) : sources };
}

/** The sources with each of `replacements` in place of the source of the same engine name and shape. */
export function withReplacements(sources: TensorSourceEntry[], replacements: TensorSourceEntry[]): TensorSourceEntry[] {
  const byName = new Map(replacements.map((r) => [r.name, r]));
  const out = sources.map((s) => {
    const r = byName.get(s.name);
    if (r === undefined) return s;
    if (r.shape.join(',') !== s.shape.join(',')) throw new Error(`${r.file}: tensor "${r.name}": expected shape [${s.shape.join(', ')}] (the model's) but found [${r.shape.join(', ')}]`);
    byName.delete(s.name);
    return r;
  });
  for (const r of byName.values()) throw new Error(`${r.file}: tensor "${r.name}" is not a weight of this model`);
  return out;
}
