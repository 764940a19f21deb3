// Hugging Face LLaVA configs -> one EngineConfig (engine_config.ts). Three layouts:
//   - llava-hf LlavaForConditionalGeneration: text_config (llama|mistral) + vision_config (CLIP);
//   - llava-hf LlavaNextForConditionalGeneration: the same plus anyres tiling (image_grid_pinpoints,
//     the image_newline weight);
//   - original LLaVA LlavaLlamaForCausalLM / LlavaMistralForCausalLM (config_original.ts).
// Absent fields take transformers' defaults (config_defaults.ts); every error names the file, the
// field, what was expected and what was found.
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

import type { EngineConfig, ProjectorAct } from './engine_config.ts';
import { LLAVA_DEFAULTS, LLAVA_DEFAULT_VISION } from './config_defaults.ts';
import { parseDecoder } from './config_decoder.ts';
import { FieldReader, type JsonDoc, ModelConfigError, showJsonValue, readJsonFile } from './config_json.ts';
import {
  type LocateOptions,
  type OriginalArchitecture,
  type VisionTowerDocs,
  locateVisionTower,
  parseGridPinpoints,
  parseOriginalLlava,
} from './config_original.ts';
import { checkFeatureLayer, clipImageSize, imageTokenCount, parseClipVision, parsePreprocessor } from './config_vision.ts';

export { ModelConfigError } from './config_json.ts';
export type { JsonDoc } from './config_json.ts';
export type { VisionTowerDocs } from './config_original.ts';

export const SUPPORTED_ARCHITECTURES = [
  'LlavaForConditionalGeneration',
  'LlavaNextForConditionalGeneration',
  'LlavaLlamaForCausalLM',
  'LlavaMistralForCausalLM',
] as const;
export type Architecture = (typeof SUPPORTED_ARCHITECTURES)[number];

/** model_type values that identify the architecture when `architectures` is absent. */
const ARCHITECTURE_BY_MODEL_TYPE: Record<string, Architecture> = {
  llava: 'LlavaForConditionalGeneration',
  llava_next: 'LlavaNextForConditionalGeneration',
  llava_llama: 'LlavaLlamaForCausalLM',
  llava_mistral: 'LlavaMistralForCausalLM',
};

const PROJECTOR_ACTS: readonly ProjectorAct[] = ['gelu', 'gelu_pytorch_tanh', 'quick_gelu', 'relu', 'silu'];

/** Files beside config.json that complete the description. */
export interface ParseExtras {
  /** preprocessor_config.json of a llava-hf checkpoint (image mean/std, resize and crop). */
  preprocessor?: JsonDoc | null;
  /** Original layout only: the separate CLIP checkpoint named by mm_vision_tower. */
  visionTower?: VisionTowerDocs;
  /** generation_config.json: its eos_token_id values join the decoder's stop ids. */
  generation?: JsonDoc | null;
}

/** The architecture a config.json declares (first supported entry of `architectures`, else its model_type). */
export function detectArchitecture(json: unknown, source: string): Architecture {
  const r = new FieldReader(json, source);
  const expected = `one of ${SUPPORTED_ARCHITECTURES.map((a) => `"${a}"`).join(', ')}`;
  const list = r.raw('architectures');
  if (list !== undefined && list !== null) {
    if (!Array.isArray(list) || list.length === 0 || !list.every((a) => typeof a === 'string')) {
      r.fail('architectures', 'a non-empty list of strings');
    }
    const found = (list as string[]).find((a): a is Architecture => (SUPPORTED_ARCHITECTURES as readonly string[]).includes(a));
    return found ?? r.fail('architectures', `a list containing ${expected}`);
  }
  const modelType = r.raw('model_type');
  if (typeof modelType === 'string' && ARCHITECTURE_BY_MODEL_TYPE[modelType] !== undefined) {
    return ARCHITECTURE_BY_MODEL_TYPE[modelType];
  }
  const known = Object.keys(ARCHITECTURE_BY_MODEL_TYPE).map((t) => `"${t}"`).join(', ');
  throw new ModelConfigError(
    source,
    'architectures',
    `expected an architectures list with ${expected} (or a model_type among ${known}) but found architectures ${showJsonValue(list)} and model_type ${showJsonValue(modelType)}`,
  );
}

/** Normalises a parsed config.json (`source` is its path, for messages). */
export function parseModelConfig(json: unknown, source: string, extras: ParseExtras = {}): EngineConfig {
  const architecture = detectArchitecture(json, source);
  const r = new FieldReader(json, source);
  const config =
    architecture === 'LlavaForConditionalGeneration' || architecture === 'LlavaNextForConditionalGeneration'
      ? parseLlavaHf(r, architecture, extras.preprocessor ?? null)
      : parseOriginalLlava(r, architecture as OriginalArchitecture, extras.visionTower);
  if (extras.generation) addGenerationStops(config, extras.generation);
  return config;
}

/** llava-hf: LlavaConfig / LlavaNextConfig with nested text_config and vision_config. */
function parseLlavaHf(r: FieldReader, architecture: Architecture, preprocessor: JsonDoc | null): EngineConfig {
  const text = r.optionalSection('text_config');
  const family = text.oneOf('model_type', ['llama', 'mistral'] as const, 'llama');
  const decoder = parseDecoder(text, family, {
    tieWordEmbeddings: r.has('tie_word_embeddings') ? r.bool('tie_word_embeddings') : undefined,
    padTokenId: r.intOrNull('pad_token_id'),
  });
  // LlavaConfig builds CLIP ViT-L/14-336 when vision_config is absent altogether.
  const visionSection = r.has('vision_config') ? r.section('vision_config') : new FieldReader({ ...LLAVA_DEFAULT_VISION }, r.file, 'vision_config');
  const featureLayerValue = r.raw('vision_feature_layer');
  if (Array.isArray(featureLayerValue)) r.fail('vision_feature_layer', 'one integer (several concatenated layers are not supported)');
  const featureLayer = r.int('vision_feature_layer', LLAVA_DEFAULTS.visionFeatureLayer);
  const selectStrategy = r.oneOf('vision_feature_select_strategy', ['default', 'full'] as const, LLAVA_DEFAULTS.visionFeatureSelectStrategy);
  if (architecture === 'LlavaNextForConditionalGeneration' && selectStrategy === 'full') {
    // transformers' pack_image_features reshapes each crop's features into a square grid.
    r.fail('vision_feature_select_strategy', '"default" for LlavaNextForConditionalGeneration (anyres needs the CLS row dropped)');
  }
  const pre = preprocessor ? new FieldReader(preprocessor.json, preprocessor.source) : null;
  const vision = parseClipVision(visionSection, { featureLayer, selectStrategy }, parsePreprocessor(pre, clipImageSize(visionSection)));
  checkFeatureLayer(r, 'vision_feature_layer', featureLayer, vision.numLayers);

  // transformers 5 also spells the field image_token_id.
  const tokenField = r.has('image_token_index') || !r.has('image_token_id') ? 'image_token_index' : 'image_token_id';
  const imageTokenId = r.int(tokenField, LLAVA_DEFAULTS.imageTokenIndex);
  // vocabSize itself is allowed: the engine treats it as the placeholder one past the embedding
  // table (as for the original layout), and transformers' bare defaults (32000 / 32000) produce it.
  if (imageTokenId < 0 || imageTokenId > decoder.vocabSize) {
    r.fail(tokenField, `an id in [0, ${decoder.vocabSize}] (${text.path('vocab_size')} is ${decoder.vocabSize})`, imageTokenId);
  }
  return {
    architecture,
    vision,
    projector: {
      type: 'mlp2x_gelu',
      act: r.oneOf('projector_hidden_act', PROJECTOR_ACTS, LLAVA_DEFAULTS.projectorHiddenAct),
      bias: r.bool('multimodal_projector_bias', LLAVA_DEFAULTS.multimodalProjectorBias),
    },
    decoder,
    imageTokenId,
    // For anyres checkpoints this is the count of one tile; a tiled image has more (lib/data/anyres.ts).
    imageTokenCount: imageTokenCount(vision),
    weights: { naming: 'llava-hf', visionTowerPath: null },
    anyres: architecture === 'LlavaNextForConditionalGeneration' ? { gridPinpoints: parseGridPinpoints(r) } : null,
    source: r.file,
  };
}

/** generation_config.json may list extra stop ids (e.g. an end-of-turn token); keep the decoder's first. */
function addGenerationStops(config: EngineConfig, doc: JsonDoc): void {
  const g = new FieldReader(doc.json, doc.source);
  for (const id of g.intList('eos_token_id', [])) {
    if (!config.decoder.eosTokenIds.includes(id)) config.decoder.eosTokenIds.push(id);
  }
}

/**
 * Throws when the engine cannot run this (recognised) configuration. LLaVA-NeXT runs in the llava-hf
 * layout (LlavaNextForConditionalGeneration); the original layout's anyres (image_aspect_ratio
 * "anyres", mm_patch_merge_type variants) is not implemented.
 */
export function assertRunnable(config: EngineConfig): void {
  if (config.anyres && config.architecture !== 'LlavaNextForConditionalGeneration') {
    const where = config.source ? `${config.source}: ` : '';
    throw new Error(
      `${where}${config.architecture} with image_aspect_ratio "anyres" (the original LLaVA-NeXT layout) is recognised but not supported: ` +
        'use the llava-hf conversion of the checkpoint (LlavaNextForConditionalGeneration, e.g. llava-hf/llava-v1.6-mistral-7b-hf), or set image_aspect_ratio to "pad"',
    );
  }
}

export type LoadConfigOptions = LocateOptions;

/**
 * Reads `dir`/config.json and the files that complete it: preprocessor_config.json and
 * generation_config.json when present, and for the original layout the CLIP checkpoint named by
 * mm_vision_tower (or given as visionTowerPath), with its own preprocessor_config.json.
 */
// "owner/name" that is not a folder here is most likely a Hugging Face hub id.
function hubIdHint(dir: string): string {
  if (!/^[A-Za-z0-9][\w.-]*\/[\w.-]+$/.test(dir)) return '';
  const local = `models/${dir.split('/')[1]}`;
  return `. "${dir}" looks like a Hugging Face hub id: stic does not download models. Get the folder first, e.g. \`huggingface-cli download ${dir} --local-dir ${local}\` (or git clone https://huggingface.co/${dir} ${local}), then pass --model ${local}`;
}

/**
 * Throws unless `dir` is a folder holding config.json, saying which of the two it is not: the first
 * thing to tell a user who named the wrong folder (before any tokenizer or weight file is looked for).
 */
export function requireModelFolder(dir: string): void {
  let isDir: boolean;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    throw new ModelConfigError(dir, null, `expected a model folder (config.json, *.safetensors, tokenizer.json) but it does not exist${hubIdHint(dir)}`);
  }
  if (!isDir) throw new ModelConfigError(dir, null, 'expected a model folder (config.json, *.safetensors, tokenizer.json) but it is a file');
  if (existsSync(path.join(dir, 'config.json'))) return;
  const names = readdirSync(dir).sort();
  const shown = names.length === 0 ? 'it is empty' : `it holds ${names.slice(0, 5).join(', ')}${names.length > 5 ? `, ... (${names.length} entries)` : ''}`;
  throw new ModelConfigError(dir, null, `expected a model folder with a config.json (Hugging Face layout) but there is none: ${shown}`);
}

export function loadModelConfig(dir: string, opts: LoadConfigOptions = {}): EngineConfig {
  const configFile = path.join(dir, 'config.json');
  const json = readJsonFile(configFile, 'a model config (config.json)');
  const architecture = detectArchitecture(json, configFile);
  const extras: ParseExtras = { generation: optionalDoc(path.join(dir, 'generation_config.json'), 'a generation config') };
  if (architecture === 'LlavaLlamaForCausalLM' || architecture === 'LlavaMistralForCausalLM') {
    const towerName = new FieldReader(json, configFile).string('mm_vision_tower');
    const towerDir = locateVisionTower(dir, towerName, configFile, opts);
    const towerConfig = path.join(towerDir, 'config.json');
    extras.visionTower = {
      dir: towerDir,
      config: { json: readJsonFile(towerConfig, 'a CLIP config (config.json)'), source: towerConfig },
      preprocessor: optionalDoc(path.join(towerDir, 'preprocessor_config.json'), 'an image preprocessor config'),
    };
  } else {
    extras.preprocessor = optionalDoc(path.join(dir, 'preprocessor_config.json'), 'an image preprocessor config');
  }
  return parseModelConfig(json, configFile, extras);
}

function optionalDoc(file: string, what: string): JsonDoc | null {
  return existsSync(file) ? { json: readJsonFile(file, what), source: file } : null;
}

/** The side of the square image the model's preprocessor hands its vision tower, in pixels. */
export function modelImageSide(dir: string): number {
  const vision = loadModelConfig(dir).vision;
  return vision.preprocess?.cropSize ?? vision.imageSize;
}
