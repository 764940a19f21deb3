// Merged full weights: base model + LoRA adapter (+ the trained projector it carries) as an ordinary
// Hugging Face checkpoint that needs no PEFT to load. Every LoRA-targeted linear becomes
// W + (alpha / r) B A (computed natively, trainer.mergedWeights), the projector is the trained one
// when the adapter carries one (adapter_io.ts adapterProjector), every other tensor is copied unchanged. Tensor
// names, dtypes (a bf16 base stays bf16: merged values are rounded once, at the end) and the
// layout (llava-hf or original LLaVA) are the base checkpoint's; config, tokenizer and other
// non-weight files are copied. Output: model.safetensors, or shards + model.safetensors.index.json
// when over maxShardBytes.
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readdir, stat } from 'node:fs/promises';
import path from 'node:path';

import { checkpointNames } from '../engine/weight_names.ts';
import { type DTypeName, dtypeSize, typedArrayView } from '../model/dtype.ts';
import { INDEX_FILE, SINGLE_FILE, type TensorEntry, type TensorToWrite, readTensors, writeSafetensors } from '../model/safetensors.ts';
import { native } from '../native/index.ts';
import type { LoraTargetModule } from '../native/contract.ts';
import { writeJsonAtomic } from '../util/atomic_write.ts';
import { TARGET_MODULES, adapterProjector, isProjectorName, readAdapter } from './adapter_io.ts';
import { type LoadedWeights, loadWeights } from './model_load.ts';

export interface ExportOptions {
  model: string;
  adapter: string;
  out: string;
  /** Largest shard in bytes (default 4 GB, as transformers' save_pretrained shards). */
  maxShardBytes?: number;
}

export interface ExportReport {
  files: string[];
  merged: number;
  copied: number;
  projector: boolean;
}

const WEIGHT_FILE = /\.(safetensors|bin|pt|pth|ckpt|msgpack|h5)$/;

/** Writes the merged checkpoint into options.out and returns what it wrote. */
export async function exportMerged(o: ExportOptions): Promise<ExportReport> {
  const model = path.resolve(o.model);
  const out = path.resolve(o.out);
  if (out === model) throw new Error(`Expected --out to be a new folder but it is the model folder ${model}`);
  await checkOutFolder(out);
  const projector = await adapterProjector(o.adapter);
  const hasProjector = projector.length > 0;
  const w = await loadWeights(model, projector);
  const adapter = await readAdapter(o.adapter, w.config.decoder);
  const trainer = await native().createTrainer(w.model, {
    lora: { r: adapter.spec.r, alpha: adapter.spec.alpha, dropout: 0, targets: adapter.spec.targets.map((t) => TARGET_MODULES[t].split('.')[1] as LoraTargetModule), seed: 0 },
    trainProjector: false,
  });
  await trainer.setTensors('param', adapter.tensors.map((t) => ({ name: t.name, data: t.data })));
  const targeted = new Set<string>();
  for (let l = 0; l < w.config.decoder.numLayers; l++) for (const t of adapter.spec.targets) targeted.add(`language_model.model.layers.${l}.${TARGET_MODULES[t]}.weight`);
  const plan = exportPlan(w, targeted, hasProjector);
  // Merged a shard at a time: a 7B model's merged linears never sit in memory all at once.
  const merge = async (names: string[]) => new Map((await trainer.mergedWeights(names)).map((t) => [t.name, t.data]));
  await mkdir(out, { recursive: true });
  const files = await writeShards(out, plan, o.maxShardBytes ?? 4e9, { stic_adapter: path.basename(path.resolve(o.adapter)) }, merge);
  for (const name of await readdir(model)) {
    const from = path.join(model, name);
    if (WEIGHT_FILE.test(name) || name === INDEX_FILE || !(await stat(from)).isFile()) continue;
    await copyFile(from, path.join(out, name));
    files.push(path.join(out, name));
  }
  return { files, merged: plan.filter((p) => p.kind === 'merged').length, copied: plan.filter((p) => p.kind === 'copy').length, projector: hasProjector };
}

async function checkOutFolder(out: string): Promise<void> {
  if (!existsSync(out)) return;
  const weights = (await readdir(out)).filter((n) => WEIGHT_FILE.test(n) || n === INDEX_FILE);
  if (weights.length > 0) throw new Error(`Expected --out to be a new or weight-free folder but ${out} holds ${weights.join(', ')}`);
}

/** One output tensor: the base checkpoint's name and dtype, its values from merged or from a file. */
type PlannedTensor = { name: string; dtype: DTypeName; shape: number[]; nbytes: number } & ({ kind: 'merged'; engine: string } | { kind: 'copy' | 'convert'; entry: TensorEntry });

// Every tensor of the base checkpoint, in its order, with where its values come from.
function exportPlan(w: LoadedWeights, targeted: Set<string>, projector: boolean): PlannedTensor[] {
  const engineOf = new Map<string, string>();
  for (const s of w.sources) {
    const ckptName = checkpointNames(s.name, w.config).find((n) => w.checkpoint.tensors.has(n));
    if (ckptName !== undefined) engineOf.set(ckptName, s.name);
  }
  const sourceOf = new Map(w.sources.map((s) => [s.name, s]));
  const plan: PlannedTensor[] = [];
  for (const [name, e] of w.checkpoint.tensors) {
    const engine = engineOf.get(name);
    const base = { name, dtype: e.dtype, shape: e.shape, nbytes: e.nbytes };
    if (engine !== undefined && targeted.has(engine)) plan.push({ ...base, kind: 'merged', engine });
    else if (projector && engine !== undefined && isProjectorName(engine)) plan.push({ ...base, kind: 'convert', entry: sourceOf.get(engine) as TensorEntry });
    else plan.push({ ...base, kind: 'copy', entry: e });
  }
  return plan;
}

// Writes the plan in shards of at most maxBytes (one tensor may exceed it alone), reading each
// shard's source tensors only while it is written.
async function writeShards(
  out: string,
  plan: PlannedTensor[],
  maxBytes: number,
  metadata: Record<string, string>,
  merge: (engineNames: string[]) => Promise<Map<string, Float32Array>>,
): Promise<string[]> {
  const shards: PlannedTensor[][] = [[]];
  let size = 0;
  for (const t of plan) {
    if (size > 0 && size + t.nbytes > maxBytes) {
      shards.push([]);
      size = 0;
    }
    shards[shards.length - 1].push(t);
    size += t.nbytes;
  }
  const names = shards.length === 1 ? [SINGLE_FILE] : shards.map((_, i) => `model-${String(i + 1).padStart(5, '0')}-of-${String(shards.length).padStart(5, '0')}.safetensors`);
  const files: string[] = [];
  const weightMap: Record<string, string> = {};
  for (let i = 0; i < shards.length; i++) {
    const tensors = await materialise(shards[i], merge);
    const file = path.join(out, names[i]);
    await writeSafetensors(file, tensors, { format: 'pt', ...metadata });
    files.push(file);
    for (const t of shards[i]) weightMap[t.name] = names[i];
  }
  if (shards.length > 1) {
    const index = path.join(out, INDEX_FILE);
    await writeJsonAtomic(index, { metadata: { total_size: plan.reduce((n, t) => n + t.nbytes, 0) }, weight_map: weightMap });
    files.push(index);
  }
  return files;
}

// The shard's tensors as bytes in their output dtype.
async function materialise(shard: PlannedTensor[], merge: (engineNames: string[]) => Promise<Map<string, Float32Array>>): Promise<TensorToWrite[]> {
  const merged = await merge(shard.flatMap((t) => (t.kind === 'merged' ? [t.engine] : [])));
  const copies = shard.filter((t) => t.kind !== 'merged') as (PlannedTensor & { entry: TensorEntry })[];
  const raw = await readTensors(copies.map((t) => t.entry));
  const byName = new Map(copies.map((t, i) => [t.name, raw[i]]));
  const out: TensorToWrite[] = [];
  for (const t of shard) {
    let data: ArrayBufferView;
    if (t.kind === 'merged') {
      const values = merged.get(t.engine);
      if (!values) throw new Error(`internal: the trainer returned no merged weight for ${t.engine}`);
      data = await toDtype(values, 'F32', t.dtype);
    }
    else data = await toDtype(byName.get(t.name) as ArrayBufferView, t.kind === 'convert' ? (t.entry as TensorEntry).dtype : t.dtype, t.dtype);
    out.push({ name: t.name, dtype: t.dtype, shape: t.shape, data });
  }
  return out;
}

async function toDtype(src: ArrayBufferView, from: DTypeName, to: DTypeName): Promise<ArrayBufferView> {
  if (from === to) return src;
  const n = src.byteLength / dtypeSize(from);
  const buf = new ArrayBuffer(n * dtypeSize(to));
  const dst = typedArrayView(to, buf);
  await native().convertDType(src as never, from, dst, to);
  return dst;
}

