// Base + adapter in the inference engine (stage 2a describes images with the stage-1 model; a second
// STIC round generates pairs with it; `stic generate`/`score --adapter`): the adapter folder read
// into what the engine applies in memory at load (LoadModelOptions.adapter): every LoRA-targeted
// linear merged to W + (alpha / r) B A in the base's dtype, and the trained projector the adapter
// carries (adapter_io.ts adapterProjector) in place of the checkpoint's. Nothing is written to disk.
import path from 'node:path';

import type { InMemoryAdapter } from '../engine/llava_model.ts';
import { loadModelConfig } from '../model/config.ts';
import { native } from '../native/index.ts';
import { AdapterError, TARGET_MODULES, adapterProjector, loraTensorName, readAdapter } from './adapter_io.ts';
import { checkedProjector } from './model_load.ts';

/** The adapter folder `adapter` (PEFT LoRA, optionally with a trained projector) for the base model folder `model`. */
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
  const projector = await adapterProjector(adapter);
  return { alpha: a.spec.alpha, tensors, projector: projector.length === 0 ? [] : checkedProjector(projector, native().llavaTensorSpecs(config)) };
}
