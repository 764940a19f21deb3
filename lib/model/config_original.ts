// The original LLaVA layout (haotian-liu/LLaVA: LlavaLlamaForCausalLM / LlavaMistralForCausalLM):
// decoder fields flat at the top level, the projector and feature selection in mm_* fields, and the
// vision tower in a separate CLIP checkpoint named by mm_vision_tower (a hub name or a path).
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import type { EngineConfig, ProjectorConfig } from './engine_config.ts';
import { LLAVA_NEXT_DEFAULT_GRID_PINPOINTS } from './config_defaults.ts';
import { parseDecoder } from './config_decoder.ts';
import { FieldReader, type JsonDoc, ModelConfigError, showJsonValue } from './config_json.ts';
import { checkFeatureLayer, clipImageSize, imageTokenCount, parseClipVision, parsePreprocessor } from './config_vision.ts';

/** The separate CLIP checkpoint of an original-layout model. */
export interface VisionTowerDocs {
  dir: string;
  /** Its config.json: CLIPVisionModel (clip_vision_model) or CLIPModel (clip, with vision_config). */
  config: JsonDoc;
  /** Its preprocessor_config.json, when it has one. */
  preprocessor?: JsonDoc | null;
}

export type OriginalArchitecture = 'LlavaLlamaForCausalLM' | 'LlavaMistralForCausalLM';

/** Parses an original-layout config.json with the CLIP checkpoint it names. */
export function parseOriginalLlava(r: FieldReader, architecture: OriginalArchitecture, tower: VisionTowerDocs | undefined): EngineConfig {
  const decoder = parseDecoder(r, architecture === 'LlavaMistralForCausalLM' ? 'mistral' : 'llama');
  const towerName = r.string('mm_vision_tower');
  if (tower === undefined) {
    throw new ModelConfigError(
      r.file,
      'mm_vision_tower',
      `expected the config of the CLIP checkpoint named by mm_vision_tower (${showJsonValue(towerName)}) but none was given: ` +
        'load the model with loadModelConfig(dir, {visionTowerPath}) or pass extras.visionTower',
    );
  }
  // <im_start>/<im_end> wrap the image features in extra learned tokens (an early LLaVA variant).
  if (r.bool('mm_use_im_start_end', false)) r.fail('mm_use_im_start_end', 'false (image start/end tokens are not supported)');
  const aspect = r.oneOf('image_aspect_ratio', ['square', 'pad', 'anyres'] as const, 'square');
  const featureLayer = r.int('mm_vision_select_layer');
  const selectStrategy = r.oneOf('mm_vision_select_feature', ['patch', 'cls_patch'] as const, 'patch') === 'cls_patch' ? 'full' : 'default';

  const towerReader = clipVisionSection(tower.config);
  const pre = tower.preprocessor ? new FieldReader(tower.preprocessor.json, tower.preprocessor.source) : null;
  const norm = parsePreprocessor(pre, clipImageSize(towerReader), aspect === 'pad');
  const vision = parseClipVision(towerReader, { featureLayer, selectStrategy }, norm);
  checkFeatureLayer(r, 'mm_vision_select_layer', featureLayer, vision.numLayers);
  const mmHidden = r.positiveInt('mm_hidden_size');
  if (mmHidden !== vision.hiddenSize) {
    r.fail('mm_hidden_size', `the hidden_size of the vision tower in ${tower.config.source} (${vision.hiddenSize})`);
  }
  return {
    architecture,
    vision,
    projector: parseOriginalProjector(r),
    decoder,
    // The original code marks images with IMAGE_TOKEN_INDEX = -200, which is not an id. We use the
    // first id past the embedding table instead: never a text token, and a non-negative integer
    // that survives Int32 buffers; the engine substitutes image features at these positions.
    imageTokenId: decoder.vocabSize,
    imageTokenCount: imageTokenCount(vision),
    weights: { naming: 'llava-original', visionTowerPath: tower.dir },
    anyres: aspect === 'anyres' ? { gridPinpoints: parseGridPinpoints(r) } : null,
    source: r.file,
  };
}

/** mm_projector_type: LLaVA's builder defaults to 'linear'; mlp2x_gelu is Linear, exact GELU, Linear. */
function parseOriginalProjector(r: FieldReader): ProjectorConfig {
  const type = r.oneOf('mm_projector_type', ['linear', 'mlp2x_gelu'] as const, 'linear');
  // nn.Linear layers carry biases; 'act' is unused by the single linear layer.
  return { type, act: 'gelu', bias: true };
}

/** image_grid_pinpoints: [[height, width], ...] in pixels (LLaVA-NeXT anyres). */
export function parseGridPinpoints(r: FieldReader): [number, number][] {
  const v = r.raw('image_grid_pinpoints');
  if (v === undefined || v === null) return LLAVA_NEXT_DEFAULT_GRID_PINPOINTS.map(([h, w]) => [h, w]);
  const ok =
    Array.isArray(v) &&
    v.length > 0 &&
    v.every((p) => Array.isArray(p) && p.length === 2 && p.every((x) => typeof x === 'number' && Number.isInteger(x) && x > 0));
  if (!ok) r.fail('image_grid_pinpoints', 'a non-empty list of [height, width] pairs of positive integers');
  return (v as number[][]).map(([h, w]) => [h, w]);
}

/** A CLIP checkpoint's config.json: the vision part of CLIPModel, or a CLIPVisionModel as a whole. */
export function clipVisionSection(doc: JsonDoc): FieldReader {
  const r = new FieldReader(doc.json, doc.source);
  const modelType = r.oneOf('model_type', ['clip', 'clip_vision_model'] as const);
  if (modelType === 'clip_vision_model') return r;
  // Early CLIPModel configs carried vision_config_dict next to (or instead of) vision_config.
  return r.has('vision_config') ? r.section('vision_config') : r.section('vision_config_dict');
}

export interface LocateOptions {
  /** An explicit CLIP checkpoint directory; wins over everything else. */
  visionTowerPath?: string;
  /** Environment for the Hugging Face cache location (HF_HUB_CACHE, HF_HOME); defaults to process.env. */
  env?: NodeJS.ProcessEnv;
}

/**
 * Finds the CLIP checkpoint directory for mm_vision_tower. Tried in order: the explicit path;
 * mm_vision_tower as a path (absolute, or relative to the model directory); its last component
 * inside and next to the model directory; the Hugging Face hub cache snapshot of that repo id.
 * A directory counts when it has a config.json.
 */
export function locateVisionTower(modelDir: string, towerName: string, configFile: string, opts: LocateOptions = {}): string {
  if (opts.visionTowerPath !== undefined) {
    const dir = path.resolve(opts.visionTowerPath);
    if (!existsSync(path.join(dir, 'config.json'))) {
      throw new ModelConfigError(path.join(dir, 'config.json'), null, 'expected the CLIP checkpoint given as visionTowerPath to have a config.json but the file does not exist');
    }
    return dir;
  }
  const tried = visionTowerCandidates(modelDir, towerName, opts.env ?? process.env);
  const found = tried.find((dir) => existsSync(path.join(dir, 'config.json')));
  if (found !== undefined) return found;
  throw new ModelConfigError(
    configFile,
    'mm_vision_tower',
    [
      `expected a local CLIP checkpoint (a directory with config.json) for mm_vision_tower ${showJsonValue(towerName)} but found none. Places tried:`,
      ...tried.map((d) => `  - ${d}`),
      'Possible solutions: pass the CLIP directory as visionTowerPath (CLI: --vision-tower <dir>), or download it into one of the places above.',
    ].join('\n'),
  );
}

function visionTowerCandidates(modelDir: string, towerName: string, env: NodeJS.ProcessEnv): string[] {
  const base = path.basename(towerName);
  const out = [path.resolve(modelDir, towerName), path.join(modelDir, base), path.join(path.dirname(path.resolve(modelDir)), base)];
  // Hub repo ids look like "org/name"; the cache keeps them as models--org--name/snapshots/<rev>/.
  if (/^[\w.-]+\/[\w.-]+$/.test(towerName)) {
    const hub = env.HF_HUB_CACHE ?? path.join(env.HF_HOME ?? path.join(os.homedir(), '.cache', 'huggingface'), 'hub');
    const repo = path.join(hub, `models--${towerName.replace('/', '--')}`);
    out.push(...hubSnapshots(repo));
  }
  return [...new Set(out)];
}

/** The snapshot refs/main points at first, then any others; the bare snapshots dir when none exist. */
function hubSnapshots(repo: string): string[] {
  const snapshots = path.join(repo, 'snapshots');
  const refMain = path.join(repo, 'refs', 'main');
  const out: string[] = [];
  if (existsSync(refMain)) out.push(path.join(snapshots, readFileSync(refMain, 'utf8').trim()));
  if (existsSync(snapshots)) {
    for (const rev of readdirSync(snapshots).sort()) out.push(path.join(snapshots, rev));
  }
  if (out.length === 0) out.push(path.join(snapshots, '<revision>'));
  return out;
}
