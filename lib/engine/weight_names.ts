// Checkpoint tensor names -> the engine's names. The engine names every weight as a transformers 5
// llava-hf checkpoint does (`language_model.model.*`, `vision_tower.embeddings.*`,
// `multi_modal_projector.linear_{1,2}.*`, see native llavaTensorSpecs); other layouts are mapped
// here, so native code only ever sees one naming:
//   - llava-hf checkpoints from earlier transformers (the llava-1.5-*-hf hub models) keep the tower
//     under `vision_tower.vision_model.*`;
//   - the original LLaVA layout (haotian-liu/LLaVA) has `model.layers.*`, `model.embed_tokens`,
//     `lm_head`, `model.mm_projector.{0,2}.*` (or `model.mm_projector.*` for a linear projector),
//     and the tower in a separate CLIP checkpoint as `vision_model.*` (or, in some exports, inside
//     the model as `model.vision_tower.vision_tower.vision_model.*`).
import type { LlavaTensorSpec, TensorSourceEntry } from '../native/contract.ts';
import type { EngineConfig } from '../model/engine_config.ts';
import type { Checkpoint } from '../model/safetensors.ts';

/** A weight that is missing from the checkpoint or has the wrong shape; the message names the tensor and the file(s). */
export class WeightError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WeightError';
  }
}

const VISION = 'vision_tower.';

/** Names a checkpoint of this layout may use for an engine name, most likely first. */
export function checkpointNames(engineName: string, config: Pick<EngineConfig, 'weights' | 'projector'>): string[] {
  if (config.weights.naming === 'llava-hf') {
    if (engineName.startsWith(VISION)) return [engineName, `${VISION}vision_model.${engineName.slice(VISION.length)}`];
    return [engineName];
  }
  if (engineName.startsWith(VISION)) {
    const rest = engineName.slice(VISION.length);
    return [`vision_model.${rest}`, `model.vision_tower.vision_tower.vision_model.${rest}`];
  }
  if (engineName.startsWith('language_model.model.')) return [`model.${engineName.slice('language_model.model.'.length)}`];
  if (engineName === 'language_model.lm_head.weight') return ['lm_head.weight'];
  const projector = /^multi_modal_projector\.linear_([12])\.(weight|bias)$/.exec(engineName);
  if (projector) {
    // nn.Sequential(Linear, GELU, Linear) numbers its linears 0 and 2; a linear projector is a bare Linear.
    if (config.projector.type === 'linear') return [`model.mm_projector.${projector[2]}`];
    return [`model.mm_projector.${projector[1] === '1' ? 0 : 2}.${projector[2]}`];
  }
  return [engineName];
}

function shapeString(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/**
 * For every weight the engine needs (specs, from native llavaTensorSpecs), the checkpoint tensor
 * that holds it, renamed to the engine name. `checkpoints` are searched in order (the model's own
 * files first, then a separate vision tower). Throws WeightError for a missing tensor (naming the
 * names looked for and the files searched) or a shape mismatch (naming both shapes).
 */
export function resolveWeights(
  specs: LlavaTensorSpec[],
  checkpoints: Checkpoint[],
  config: Pick<EngineConfig, 'weights' | 'projector'>,
): TensorSourceEntry[] {
  const out: TensorSourceEntry[] = [];
  for (const spec of specs) {
    const names = checkpointNames(spec.name, config);
    let found: TensorSourceEntry | undefined;
    for (const name of names) {
      for (const ckpt of checkpoints) {
        const entry = ckpt.tensors.get(name);
        if (entry) {
          found = entry;
          break;
        }
      }
      if (found) break;
    }
    if (!found) {
      const files = checkpoints.flatMap((c) => c.files);
      throw new WeightError(
        `missing weight ${spec.name}: looked for ${names.map((n) => `"${n}"`).join(' or ')} in ${files.join(', ')}`,
      );
    }
    if (found.shape.length !== spec.shape.length || found.shape.some((d, i) => d !== spec.shape[i])) {
      throw new WeightError(
        `weight ${spec.name} ("${found.name}" in ${found.file}): expected shape ${shapeString(spec.shape)} but the checkpoint has ${shapeString(found.shape)}`,
      );
    }
    out.push({ name: spec.name, file: found.file, dtype: found.dtype, shape: found.shape, offset: found.offset, nbytes: found.nbytes });
  }
  return out;
}
