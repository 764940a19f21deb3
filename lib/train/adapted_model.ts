// Base + adapter in the inference engine (stage 2a describes images with the stage-1 model; a second
// STIC round generates pairs with it; `stic generate`/`score --adapter`): the adapter folder read
// into what the engine applies in memory at load (LoadModelOptions.adapter): every LoRA-targeted
// linear merged to W + (alpha / r) B A in the base's dtype, and the trained projector beside the
// adapter (projector.safetensors) in place of the checkpoint's. Nothing is written to disk.
import { existsSync } from 'node:fs';
import path from 'node:path';

import type { InMemoryAdapter } from '../engine/llava_model.ts';
import { loadModelConfig } from '../model/config.ts';
import { openSafetensors } from '../model/safetensors.ts';
import { native } from '../native/index.ts';
import { AdapterError, PROJECTOR_WEIGHTS, TARGET_MODULES, isProjectorName, loraTensorName, readAdapter } from './adapter_io.ts';

/** The adapter folder `adapter` (PEFT LoRA, optional projector.safetensors) for the base model folder `model`. */
export async function adapterForLoad(model: string, adapter: string): Promise<InMemoryAdapter> {
  const config = loadModelConfig(path.resolve(model));
  const a = await readAdapter(adapter, config.decoder);
  const byName = new Map(a.tensors.map((t) => [t.name, t.data]));
  const tensors: InMemoryAdapter['tensors'] = [];
  for (let l = 0; l < config.decoder.numLayers; l++) {
    for (const t of a.spec.targets) {
      const A = byName.get(loraTensorName(l, t, 'A'));
      const B = byName.get(loraTensorName(l, t, 'B'));
      if (A === undefined || B === undefined) throw new AdapterError(adapter, `internal: layer ${l} ${t} has no A or B`);
      tensors.push({ weight: `language_model.model.layers.${l}.${TARGET_MODULES[t]}.weight`, r: a.spec.r, A, B });
    }
  }
  return { alpha: a.spec.alpha, tensors, projector: await projectorSources(path.join(adapter, PROJECTOR_WEIGHTS), config) };
}

// The projector tensors of a trained projector file as engine sources (none when there is no file).
async function projectorSources(file: string, config: ReturnType<typeof loadModelConfig>): Promise<InMemoryAdapter['projector']> {
  if (!existsSync(file)) return [];
  const wanted = native().llavaTensorSpecs(config).filter((s) => isProjectorName(s.name));
  const st = await openSafetensors(file);
  for (const name of st.tensors.keys()) {
    if (!wanted.some((s) => s.name === name)) throw new AdapterError(file, `expected projector tensors (${wanted.map((s) => s.name).join(', ')}) but found "${name}"`);
  }
  return wanted.map((s) => {
    const e = st.tensors.get(s.name);
    if (!e) throw new AdapterError(file, `expected tensor "${s.name}" but it is missing`);
    return { name: s.name, file: e.file, dtype: e.dtype, shape: e.shape, offset: e.offset, nbytes: e.nbytes };
  });
}
