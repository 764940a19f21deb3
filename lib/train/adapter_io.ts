// LoRA adapters in the PEFT layout, so what we train loads in transformers/PEFT
// (`PeftModel.from_pretrained(LlavaForConditionalGeneration...)`) and in vLLM, and what PEFT saved
// loads here:
//   <dir>/adapter_config.json       LoraConfig as PEFT writes it (peft_type "LORA", r, lora_alpha, ...)
//   <dir>/adapter_model.safetensors lora_A / lora_B per targeted module, Hugging Face module names,
//                                   and the trained projector (STIC.md stage 1b) as PEFT saves a
//                                   `modules_to_save` module: base_model.model.model.multi_modal_projector.*
//                                   (the config names "multi_modal_projector" in modules_to_save), so
//                                   PeftModel.from_pretrained restores it
// Adapters written before stic 0.2 kept the projector in <dir>/projector.safetensors (engine names):
// still read.
// Tensor names are those of transformers >= 4.52 (the fixture adapter's), e.g.
//   base_model.model.model.language_model.layers.3.self_attn.q_proj.lora_A.weight
// Reading also accepts the older llava-hf layout (base_model.model.language_model.model.layers.N...),
// the original LLaVA one (base_model.model.model.layers.N...) and PEFT's in-memory ".default." names;
// every tensor is converted to float32 (the fixture adapter is float64).
// Legend: r rank, K in features, N out features, L decoder layers, D hidden, F MLP size, Hq/Hkv heads, hd head dim.
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';

import type { DecoderConfig } from '../model/engine_config.ts';
import { loraTargetDims } from '../model/memory_estimate.ts';
import type { LoraTargetModule } from '../native/contract.ts';
import { type SafetensorsFile, type TensorEntry, openSafetensors, readTensors, writeSafetensors } from '../model/safetensors.ts';
import { writeJsonAtomic } from '../util/atomic_write.ts';
import { LORA_TARGETS, type LoraTarget } from './train_options.ts';

export const ADAPTER_CONFIG = 'adapter_config.json';
export const ADAPTER_WEIGHTS = 'adapter_model.safetensors';
export const PROJECTOR_WEIGHTS = 'projector.safetensors';

/** Our short target names -> the Hugging Face module path inside a decoder layer. */
export const TARGET_MODULES: Record<LoraTarget, string> = {
  q: 'self_attn.q_proj',
  k: 'self_attn.k_proj',
  v: 'self_attn.v_proj',
  o: 'self_attn.o_proj',
  gate: 'mlp.gate_proj',
  up: 'mlp.up_proj',
  down: 'mlp.down_proj',
};

export interface LoraSpec {
  r: number;
  alpha: number;
  dropout: number;
  /** In LORA_TARGETS order. */
  targets: LoraTarget[];
}

/** A named float32 tensor (row-major). */
export interface NamedTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

export interface Adapter {
  spec: LoraSpec;
  /** Canonical PEFT names (see loraTensorName), every targeted module of every layer, A then B. */
  tensors: NamedTensor[];
  /** The base model recorded in the config (null when it names none). */
  baseModel: string | null;
  /** The trained projector (engine names, multi_modal_projector.*), empty when the adapter has none. */
  projector: NamedTensor[];
}

/** The module PEFT saves whole beside the LoRA tensors when the projector trains. */
export const PROJECTOR_MODULE = 'multi_modal_projector';

/** The PEFT name of a projector tensor (engine name multi_modal_projector.*) in adapter_model.safetensors. */
export function peftProjectorName(engineName: string): string {
  return `base_model.model.model.${engineName}`;
}

// A projector tensor of a PEFT file: the transformers >= 4.52 layout or the older llava-hf one.
const PROJECTOR_NAME = /^base_model\.model\.(?:model\.)?(multi_modal_projector\..+)$/;

/** The canonical PEFT name of one LoRA matrix. */
export function loraTensorName(layer: number, target: LoraTarget, which: 'A' | 'B'): string {
  return `base_model.model.model.language_model.layers.${layer}.${TARGET_MODULES[target]}.lora_${which}.weight`;
}

/** The PEFT module name of a target ('q' -> 'q_proj'), as the native trainer names it. */
export function targetModule(t: LoraTarget): LoraTargetModule {
  return TARGET_MODULES[t].split('.')[1] as LoraTargetModule;
}

/** (K, N) of a targeted linear layer: in and out features. */
export function targetDims(d: Pick<DecoderConfig, 'hiddenSize' | 'intermediateSize' | 'numHeads' | 'numKvHeads' | 'headDim'>, t: LoraTarget): [number, number] {
  return loraTargetDims(d, targetModule(t));
}

/** Every LoRA tensor name and shape of a spec on a decoder: A (r, K), B (N, r), layer by layer. */
export function loraTensorShapes(d: DecoderConfig, spec: Pick<LoraSpec, 'r' | 'targets'>): { name: string; shape: number[] }[] {
  const out: { name: string; shape: number[] }[] = [];
  for (let l = 0; l < d.numLayers; l++) {
    for (const t of spec.targets) {
      const [K, N] = targetDims(d, t);
      out.push({ name: loraTensorName(l, t, 'A'), shape: [spec.r, K] });
      out.push({ name: loraTensorName(l, t, 'B'), shape: [N, spec.r] });
    }
  }
  return out;
}

/**
 * PEFT's regular expression for the targets: only the language model's linear layers (the CLIP
 * tower has q_proj/k_proj/v_proj too, which must stay frozen). PEFT full-matches it against module
 * names such as "model.language_model.layers.0.self_attn.q_proj".
 */
export function targetModulesPattern(targets: readonly LoraTarget[]): string {
  const names = targets.map(targetModule);
  return `.*language_model.*\\.(${names.join('|')})`;
}

/** adapter_config.json as PEFT's LoraConfig writes it (the fields PEFT reads to rebuild the adapter). */
export function peftAdapterConfig(spec: LoraSpec, baseModel: string | null, withProjector = false): Record<string, unknown> {
  return {
    alpha_pattern: {},
    auto_mapping: null,
    base_model_name_or_path: baseModel,
    bias: 'none',
    exclude_modules: null,
    fan_in_fan_out: false,
    inference_mode: true,
    init_lora_weights: true,
    layer_replication: null,
    layers_pattern: null,
    layers_to_transform: null,
    loftq_config: {},
    lora_alpha: spec.alpha,
    lora_bias: false,
    lora_dropout: spec.dropout,
    megatron_config: null,
    megatron_core: 'megatron.core',
    modules_to_save: withProjector ? [PROJECTOR_MODULE] : null,
    peft_type: 'LORA',
    r: spec.r,
    rank_pattern: {},
    revision: null,
    target_modules: targetModulesPattern(spec.targets),
    task_type: 'CAUSAL_LM',
    use_dora: false,
    use_rslora: false,
  };
}

/**
 * Writes adapter_config.json and adapter_model.safetensors (float32: the LoRA tensors, then the
 * projector's under PEFT names) into `dir`, each atomically; removes a projector.safetensors of an
 * older version there (the projector now lives in the adapter file).
 */
export async function writeAdapter(dir: string, adapter: Pick<Adapter, 'spec' | 'tensors' | 'baseModel'> & { projector?: NamedTensor[] }): Promise<void> {
  const projector = adapter.projector ?? [];
  await writeSafetensors(
    path.join(dir, ADAPTER_WEIGHTS),
    [...adapter.tensors, ...projector.map((t) => ({ ...t, name: peftProjectorName(t.name) }))].map((t) => ({ name: t.name, dtype: 'F32' as const, shape: t.shape, data: t.data })),
    { format: 'pt' },
  );
  await writeJsonAtomic(path.join(dir, ADAPTER_CONFIG), peftAdapterConfig(adapter.spec, adapter.baseModel, projector.length > 0));
  await rm(path.join(dir, PROJECTOR_WEIGHTS), { force: true });
}

/** A malformed or unsupported adapter; the message names the file. */
export class AdapterError extends Error {
  constructor(file: string, message: string) {
    super(`${file}: ${message}`);
    this.name = 'AdapterError';
  }
}

// One tensor name of a LoRA file: any of the accepted prefixes, then layers.N.<module>.lora_X[.default].weight.
const LORA_NAME = /^base_model\.model\.(?:model\.language_model\.|language_model\.model\.|model\.)layers\.(\d+)\.(self_attn|mlp)\.(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)\.lora_(A|B)(?:\.default)?\.weight$/;

const TARGET_BY_MODULE = new Map<string, LoraTarget>(LORA_TARGETS.map((t) => [TARGET_MODULES[t], t]));

/**
 * Reads a PEFT LoRA adapter for this decoder: checks the config (plain LoRA: no DoRA, rsLoRA,
 * per-module ranks, biases) and that every targeted module of every layer has A (r, K) and B (N, r).
 */
export async function readAdapter(dir: string, decoder: DecoderConfig): Promise<Adapter> {
  const configFile = path.join(dir, ADAPTER_CONFIG);
  const weightsFile = path.join(dir, ADAPTER_WEIGHTS);
  const cfg = await readAdapterConfig(configFile);
  if (!existsSync(weightsFile)) throw new AdapterError(weightsFile, 'expected the adapter weights beside adapter_config.json but the file does not exist');
  const st = await openSafetensors(weightsFile);
  const found = new Map<string, { layer: number; target: LoraTarget; which: 'A' | 'B'; entry: TensorEntry }>();
  for (const [name, entry] of st.tensors) {
    if (PROJECTOR_NAME.test(name)) continue; // read by adapterProjector
    const m = LORA_NAME.exec(name);
    if (!m) throw new AdapterError(weightsFile, `expected LoRA tensors of the language model (e.g. ${loraTensorName(0, 'q', 'A')}) but found "${name}"`);
    const layer = Number(m[1]);
    const target = TARGET_BY_MODULE.get(`${m[2]}.${m[3]}`);
    if (target === undefined) throw new AdapterError(weightsFile, `tensor "${name}": ${m[3]} does not belong to ${m[2]} in a LLaVA decoder layer`);
    if (layer >= decoder.numLayers) throw new AdapterError(weightsFile, `tensor "${name}": expected a layer index below ${decoder.numLayers} (the model's decoder layers) but found ${layer}`);
    const canonical = loraTensorName(layer, target, m[4] as 'A' | 'B');
    if (found.has(canonical)) throw new AdapterError(weightsFile, `tensor "${name}" appears twice (under two naming layouts)`);
    found.set(canonical, { layer, target, which: m[4] as 'A' | 'B', entry });
  }
  const targets = LORA_TARGETS.filter((t) => [...found.values()].some((f) => f.target === t));
  if (targets.length === 0) throw new AdapterError(weightsFile, 'expected LoRA tensors but the file has none');
  const spec: LoraSpec = { r: cfg.r, alpha: cfg.alpha, dropout: cfg.dropout, targets };
  const shapes = loraTensorShapes(decoder, spec);
  for (const s of shapes) {
    const f = found.get(s.name);
    if (!f) throw new AdapterError(weightsFile, `expected tensor "${s.name}" (every layer of a targeted module) but it is missing`);
    if (f.entry.shape.join(',') !== s.shape.join(',')) {
      throw new AdapterError(weightsFile, `tensor "${f.entry.name}": expected shape [${s.shape.join(', ')}] (r = ${cfg.r} from ${ADAPTER_CONFIG}) but found [${f.entry.shape.join(', ')}]`);
    }
    if (!['F32', 'F64', 'BF16', 'F16'].includes(f.entry.dtype)) throw new AdapterError(weightsFile, `tensor "${f.entry.name}": expected a float dtype but found ${f.entry.dtype}`);
  }
  const data = await readTensors(shapes.map((s) => (found.get(s.name) as { entry: TensorEntry }).entry), { as: 'F32' });
  const projectorEntries = await projectorOf(st, dir);
  const projectorData = await readTensors(projectorEntries, { as: 'F32' });
  return {
    spec,
    tensors: shapes.map((s, i) => ({ name: s.name, shape: s.shape, data: data[i] })),
    baseModel: cfg.baseModel,
    projector: projectorEntries.map((e, i) => ({ name: e.name, shape: e.shape, data: projectorData[i] })),
  };
}

/**
 * The trained projector an adapter folder carries, as file ranges under engine names
 * (multi_modal_projector.*): PEFT's modules_to_save tensors of adapter_model.safetensors, else the
 * projector.safetensors of an older version beside it; [] when it has none. Names and shapes are
 * checked against the model by whoever loads them (lib/train/model_load.ts checkedProjector).
 */
export async function adapterProjector(dir: string): Promise<TensorEntry[]> {
  const weightsFile = path.join(dir, ADAPTER_WEIGHTS);
  return projectorOf(existsSync(weightsFile) ? await openSafetensors(weightsFile) : null, dir);
}

// The projector of the adapter file `weights` (already open), else the older file beside it.
async function projectorOf(weights: SafetensorsFile | null, dir: string): Promise<TensorEntry[]> {
  const inAdapter: TensorEntry[] = [];
  for (const [name, entry] of weights?.tensors ?? []) {
    const m = PROJECTOR_NAME.exec(name);
    if (m) inAdapter.push({ ...entry, name: m[1] });
  }
  if (inAdapter.length > 0) return inAdapter;
  const legacy = path.join(dir, PROJECTOR_WEIGHTS);
  if (!existsSync(legacy)) return [];
  return [...(await openSafetensors(legacy)).tensors.values()];
}

interface AdapterConfigFields {
  r: number;
  alpha: number;
  dropout: number;
  baseModel: string | null;
}

async function readAdapterConfig(file: string): Promise<AdapterConfigFields> {
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new AdapterError(file, e.code === 'ENOENT' ? 'expected a PEFT adapter config but the file does not exist' : `expected JSON but parsing failed: ${e.message}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new AdapterError(file, 'expected a JSON object');
  const want = (key: string, ok: boolean, expected: string) => {
    if (!ok) throw new AdapterError(file, `expected ${expected} for "${key}" but found ${JSON.stringify(json[key])}`);
  };
  want('peft_type', json.peft_type === 'LORA', '"LORA"');
  want('r', Number.isInteger(json.r) && (json.r as number) > 0, 'a positive integer');
  want('lora_alpha', typeof json.lora_alpha === 'number' && json.lora_alpha > 0, 'a positive number');
  const dropout = json.lora_dropout ?? 0;
  want('lora_dropout', typeof dropout === 'number' && dropout >= 0 && dropout < 1, 'a number in [0, 1)');
  // Variants whose forward is not y = x W^T + (alpha / r) x A^T B^T are refused rather than misread.
  want('use_dora', !json.use_dora, 'false (DoRA is not supported)');
  want('use_rslora', !json.use_rslora, 'false (rsLoRA scales by alpha / sqrt(r), not supported)');
  want('fan_in_fan_out', !json.fan_in_fan_out, 'false');
  want('bias', json.bias === undefined || json.bias === 'none', '"none"');
  want('lora_bias', !json.lora_bias, 'false');
  for (const key of ['rank_pattern', 'alpha_pattern']) {
    const v = json[key];
    want(key, v === undefined || v === null || (typeof v === 'object' && Object.keys(v as object).length === 0), '{} (per-module ranks are not supported)');
  }
  const base = json.base_model_name_or_path;
  return { r: json.r as number, alpha: json.lora_alpha as number, dropout: dropout as number, baseModel: typeof base === 'string' ? base : null };
}

/** Projector tensor names as in the llava-hf checkpoint (engine names). */
export function isProjectorName(name: string): boolean {
  return name.startsWith('multi_modal_projector.');
}
