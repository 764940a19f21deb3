// One merged view of a Hugging Face checkpoint's tensors, whether it is one .safetensors file or
// shards listed by `model.safetensors.index.json` ({metadata, weight_map: {tensor: shard file}}).
import { readFile, readdir, stat } from 'node:fs/promises';
import path from 'node:path';

import { SafetensorsError, type SafetensorsFile, type TensorEntry, describeJson, openSafetensors } from './safetensors_header.ts';

export interface Checkpoint {
  /** What was opened: the .safetensors file or the index file. */
  path: string;
  /** Every file read, in the order opened. */
  files: string[];
  /** `__metadata__` of the single file, or of the shards merged (the first shard's value wins). */
  metadata: Record<string, string>;
  /** Every tensor of every file, by name. */
  tensors: Map<string, TensorEntry>;
}

export const INDEX_FILE = 'model.safetensors.index.json';
export const SINGLE_FILE = 'model.safetensors';

/**
 * Opens a checkpoint: a .safetensors file, an index .json file, or a directory holding
 * model.safetensors.index.json, model.safetensors, or exactly one other *.safetensors file.
 */
export async function openCheckpoint(pathOrDir: string): Promise<Checkpoint> {
  const target = path.resolve(pathOrDir);
  const info = await stat(target).catch(() => null);
  if (!info) throw new SafetensorsError(target, 'no such file or directory');
  if (info.isFile()) return target.endsWith('.json') ? openSharded(target) : fromFiles(target, [await openSafetensors(target)]);
  const names = await readdir(target);
  if (names.includes(INDEX_FILE)) return openSharded(path.join(target, INDEX_FILE));
  if (names.includes(SINGLE_FILE)) return openCheckpoint(path.join(target, SINGLE_FILE));
  const candidates = names.filter((n) => n.endsWith('.safetensors')).sort();
  if (candidates.length === 1) return openCheckpoint(path.join(target, candidates[0]));
  const found = candidates.length === 0 ? 'no .safetensors file' : `${candidates.length} .safetensors files (${candidates.join(', ')}) and no index`;
  throw new SafetensorsError(target, `expected ${INDEX_FILE}, ${SINGLE_FILE} or a single *.safetensors file but found ${found}`);
}

async function openSharded(indexFile: string): Promise<Checkpoint> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(indexFile, 'utf8'));
  } catch (err) {
    throw new SafetensorsError(indexFile, `index is not valid JSON (${(err as Error).message})`);
  }
  const weightMap = (json as { weight_map?: unknown } | null)?.weight_map;
  if (typeof weightMap !== 'object' || weightMap === null || Array.isArray(weightMap)) {
    const found = weightMap === undefined ? 'the index has none' : `found ${describeJson(weightMap)}`;
    throw new SafetensorsError(indexFile, `expected "weight_map" to be an object of tensor name -> shard file but ${found}`);
  }
  const byShard = new Map<string, string[]>();
  for (const [tensor, shard] of Object.entries(weightMap)) {
    if (typeof shard !== 'string') {
      throw new SafetensorsError(indexFile, `weight_map["${tensor}"] must be a shard file name but is ${describeJson(shard)}`);
    }
    const list = byShard.get(shard) ?? [];
    list.push(tensor);
    byShard.set(shard, list);
  }
  const dir = path.dirname(indexFile);
  const shards: SafetensorsFile[] = [];
  for (const [shard, tensors] of byShard) {
    const file = path.resolve(dir, shard);
    const exists = await stat(file).then((s) => s.isFile(), () => false);
    if (!exists) {
      throw new SafetensorsError(indexFile, `shard "${shard}" (listed in weight_map for tensor "${tensors[0]}") does not exist at ${file}`);
    }
    const opened = await openSafetensors(file);
    for (const t of tensors) {
      if (!opened.tensors.has(t)) {
        throw new SafetensorsError(indexFile, `weight_map puts tensor "${t}" in shard "${shard}", but ${file} has no tensor "${t}"`);
      }
    }
    shards.push(opened);
  }
  return fromFiles(indexFile, shards);
}

// Merges the files' tensors; one name in two files is an error (which copy would be loaded?).
function fromFiles(what: string, files: SafetensorsFile[]): Checkpoint {
  const tensors = new Map<string, TensorEntry>();
  const metadata: Record<string, string> = {};
  for (const f of files) {
    for (const [name, entry] of f.tensors) {
      const prev = tensors.get(name);
      if (prev) throw new SafetensorsError(what, `duplicate tensor name "${name}": in ${prev.file} and ${entry.file}`);
      tensors.set(name, entry);
    }
    for (const [k, v] of Object.entries(f.metadata)) if (!(k in metadata)) metadata[k] = v;
  }
  return { path: what, files: files.map((f) => f.file), metadata, tensors };
}
