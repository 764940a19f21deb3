// Merged full weights: base model + LoRA adapter (+ the trained projector it carries) as an ordinary
// Hugging Face checkpoint that needs no PEFT to load. Every LoRA-targeted linear becomes
// W + (alpha / r) B A (computed natively, trainer.mergedWeights), the projector is the trained one
// when the adapter carries one (adapter_io.ts adapterProjector), every other tensor is copied unchanged. Tensor
// names, dtypes (a bf16 base stays bf16: merged values are rounded once, at the end) and the
// layout (llava-hf or original LLaVA) are the base checkpoint's, the dtype too unless options.dtype
// names one (config.json's torch_dtype follows). The base folder's config, processor and tokenizer
// files are copied, nothing else (its README describes another model, and stray files are not the
// model's): the folder gets its own model card (export_card.ts). Output: model.safetensors, or
// shards + model.safetensors.index.json when over maxShardBytes.
import { existsSync, readFileSync } from 'node:fs';
import { copyFile, mkdir, readFile, readdir, stat } from 'node:fs/promises';
import path from 'node:path';

import { checkpointNames } from '../engine/weight_names.ts';
import { type DTypeName, dtypeSize, typedArrayView } from '../model/dtype.ts';
import { INDEX_FILE, SINGLE_FILE, type TensorEntry, type TensorToWrite, readTensors, writeSafetensors } from '../model/safetensors.ts';
import { native } from '../native/index.ts';
import { writeFileAtomic, writeJsonAtomic } from '../util/atomic_write.ts';
import { type ProgressFactory, silentProgress } from '../util/progress.ts';
import { baseModelName } from '../model/model_name.ts';
import { packageRoot } from '../native/loader.ts';
import { TARGET_MODULES, adapterProjector, isProjectorName, readAdapter, targetModule } from './adapter_io.ts';
import { exportCard } from './export_card.ts';
import { type LoadedWeights, loadWeights } from './model_load.ts';

export interface ExportOptions {
  model: string;
  adapter: string;
  out: string;
  /** Largest shard in bytes (default 5 GB, transformers' save_pretrained default). */
  maxShardBytes?: number;
  /** The floating-point tensors' dtype: the base's (stored, the default) or one for all. */
  dtype?: ExportDtype;
  /** A bar over the tensors written. */
  progress?: ProgressFactory;
}

/** --dtype of stic export: the base's own dtype per tensor, or one for every floating-point tensor. */
export const EXPORT_DTYPES = ['stored', 'bf16', 'f16', 'fp32'] as const;
export type ExportDtype = (typeof EXPORT_DTYPES)[number];

const OUT_DTYPE: Record<Exclude<ExportDtype, 'stored'>, { st: DTypeName; torch: string }> = {
  bf16: { st: 'BF16', torch: 'bfloat16' },
  f16: { st: 'F16', torch: 'float16' },
  fp32: { st: 'F32', torch: 'float32' },
};
const FLOAT_DTYPES: readonly DTypeName[] = ['F32', 'F16', 'BF16', 'F64'];

/** The files of a model folder that belong to the model: its configs, processor and tokenizer. */
const MODEL_FILES = /^(config|generation_config|preprocessor_config|processor_config|video_preprocessor_config|tokenizer_config|tokenizer|special_tokens_map|added_tokens|chat_template|vocab)\.json$|^(tokenizer\.model|merges\.txt|chat_template\.jinja)$/;

export interface ExportReport {
  files: string[];
  merged: number;
  copied: number;
  projector: boolean;
  /** Files of the model folder left out (neither weights nor config, processor or tokenizer files). */
  notCopied: string[];
}

const WEIGHT_FILE = /\.(safetensors|bin|pt|pth|ckpt|msgpack|h5)$/;
const CARD_FILE = 'README.md';

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
    lora: { r: adapter.spec.r, alpha: adapter.spec.alpha, dropout: 0, targets: adapter.spec.targets.map(targetModule), seed: 0 },
    trainProjector: false,
  });
  await trainer.setTensors('param', adapter.tensors.map((t) => ({ name: t.name, data: t.data })));
  const targeted = new Set<string>();
  for (let l = 0; l < w.config.decoder.numLayers; l++) for (const t of adapter.spec.targets) targeted.add(`language_model.model.layers.${l}.${TARGET_MODULES[t]}.weight`);
  const dtype = o.dtype ?? 'stored';
  const plan = exportPlan(w, targeted, hasProjector).map((t) => withDtype(t, dtype));
  // Merged a tensor at a time, as the writer reaches it (lazyTensors).
  const merge = async (names: string[]) => new Map((await trainer.mergedWeights(names)).map((t) => [t.name, t.data]));
  await mkdir(out, { recursive: true });
  const adapterName = path.basename(path.resolve(o.adapter));
  const bar = (o.progress ?? silentProgress)('export', plan.length, 0, 'tensors');
  let files: string[];
  try {
    files = await writeShards(out, plan, o.maxShardBytes ?? 5e9, { stic_adapter: adapterName }, merge, () => bar.tick(1));
  } finally {
    bar.stop();
  }
  const notCopied: string[] = [];
  for (const name of (await readdir(model)).sort()) {
    const from = path.join(model, name);
    if (WEIGHT_FILE.test(name) || name === INDEX_FILE || !(await stat(from)).isFile()) continue;
    if (!MODEL_FILES.test(name)) {
      if (name !== CARD_FILE) notCopied.push(name); // the base's card is replaced by ours
      continue;
    }
    if (name === 'config.json' && dtype !== 'stored') await writeJsonAtomic(path.join(out, name), withTorchDtype(JSON.parse(await readFile(from, 'utf8')), OUT_DTYPE[dtype].torch));
    else await copyFile(from, path.join(out, name));
    files.push(path.join(out, name));
  }
  const card = exportCard({
    baseModel: baseModelName(model),
    architecture: w.config.architecture,
    adapter: { name: adapterName, spec: adapter.spec, projector: hasProjector },
    dtypes: [...new Set(plan.filter((t) => FLOAT_DTYPES.includes(t.dtype)).map((t) => t.dtype))],
    summary: existsSync(path.join(o.adapter, 'summary.txt')) ? await readFile(path.join(o.adapter, 'summary.txt'), 'utf8') : null,
    version: sticVersion(),
  });
  await writeFileAtomic(path.join(out, CARD_FILE), card);
  files.push(path.join(out, CARD_FILE));
  return { files, merged: plan.filter((p) => p.kind === 'merged').length, copied: plan.filter((p) => p.kind === 'copy').length, projector: hasProjector, notCopied };
}

// The planned tensor written in `dtype` (floating-point tensors only; the rest as stored).
function withDtype(t: PlannedTensor, dtype: ExportDtype): PlannedTensor {
  if (dtype === 'stored' || !FLOAT_DTYPES.includes(t.dtype)) return t;
  const to = OUT_DTYPE[dtype].st;
  const n = t.shape.reduce((a, b) => a * b, 1);
  if (t.kind === 'copy' && t.dtype !== to) return { ...t, kind: 'convert', dtype: to, nbytes: n * dtypeSize(to) };
  return { ...t, dtype: to, nbytes: n * dtypeSize(to) };
}

// config.json with torch_dtype (and transformers 5's dtype, and the sub-configs') set to `torch`.
function withTorchDtype(cfg: Record<string, unknown>, torch: string): Record<string, unknown> {
  const out: Record<string, unknown> = { ...cfg, torch_dtype: torch };
  if ('dtype' in cfg) out.dtype = torch;
  for (const sub of ['text_config', 'vision_config']) {
    const c = cfg[sub];
    if (c && typeof c === 'object' && ('torch_dtype' in c || 'dtype' in c)) out[sub] = withTorchDtype(c as Record<string, unknown>, torch);
  }
  return out;
}

function sticVersion(): string {
  return (JSON.parse(readFileSync(path.join(packageRoot, 'package.json'), 'utf8')) as { version: string }).version;
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
  written: () => void,
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
    const file = path.join(out, names[i]);
    await writeSafetensors(file, lazyTensors(shards[i], merge, written), { format: 'pt', ...metadata });
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

// The shard's tensors, each produced in its output dtype only when the writer reaches it: one
// tensor's values are in memory at a time (a 7B model's 500 MB embedding, not a 5 GB shard).
function lazyTensors(shard: PlannedTensor[], merge: (engineNames: string[]) => Promise<Map<string, Float32Array>>, written: () => void): TensorToWrite[] {
  return shard.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape, data: async () => {
    const data = await tensorBytes(t, merge);
    written();
    return data;
  } }));
}

// One planned tensor's bytes in its output dtype.
async function tensorBytes(t: PlannedTensor, merge: (engineNames: string[]) => Promise<Map<string, Float32Array>>): Promise<ArrayBufferView> {
  if (t.kind === 'merged') {
    const values = (await merge([t.engine])).get(t.engine);
    if (!values) throw new Error(`internal: the trainer returned no merged weight for ${t.engine}`);
    return toDtype(values, 'F32', t.dtype);
  }
  const [raw] = await readTensors([t.entry]);
  return toDtype(raw, t.kind === 'convert' ? t.entry.dtype : t.dtype, t.dtype);
}

async function toDtype(src: ArrayBufferView, from: DTypeName, to: DTypeName): Promise<ArrayBufferView> {
  if (from === to) return src;
  const n = src.byteLength / dtypeSize(from);
  const buf = new ArrayBuffer(n * dtypeSize(to));
  const dst = typedArrayView(to, buf);
  await native().convertDType(src as never, from, dst, to);
  return dst;
}

