// A model directory that runs base + adapter in the inference engine (stage 2a describes images with
// the stage-1 model): the merged checkpoint (merge_export.ts) exported once into
// <adapter>/merged-model/ and reused while the adapter files and the base model are unchanged. The
// inference engine then loads it like any checkpoint; generation pays nothing for LoRA. The folder
// is written under a temporary name and renamed into place, so a killed export is never reused.
import { existsSync } from 'node:fs';
import { readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';

import { writeJsonAtomic } from '../util/atomic_write.ts';
import { ADAPTER_CONFIG, ADAPTER_WEIGHTS, PROJECTOR_WEIGHTS } from './adapter_io.ts';
import { exportMerged } from './merge_export.ts';

export const MERGED_DIR = 'merged-model';
const STAMP = 'stic_merged.json';

// What the merged weights depend on: the base model folder and the adapter files (size, mtime).
async function stampOf(model: string, adapter: string): Promise<Record<string, unknown>> {
  const files: Record<string, [number, number] | null> = {};
  for (const f of [ADAPTER_CONFIG, ADAPTER_WEIGHTS, PROJECTOR_WEIGHTS]) {
    const s = await stat(path.join(adapter, f)).catch(() => null);
    files[f] = s ? [s.size, s.mtimeMs] : null;
  }
  return { model: path.resolve(model), files };
}

/** The folder of base `model` merged with `adapter` (exported on first use). */
export async function adaptedModelDir(model: string, adapter: string): Promise<string> {
  const dir = path.join(path.resolve(adapter), MERGED_DIR);
  const want = await stampOf(model, adapter);
  const stampFile = path.join(dir, STAMP);
  if (existsSync(stampFile)) {
    // A stamp that does not parse (a damaged file) marks the cache as unusable: it is exported again.
    const had = await readFile(stampFile, 'utf8').then((t) => JSON.parse(t) as unknown).catch(() => null);
    if (JSON.stringify(had) === JSON.stringify(want)) return dir;
  }
  const tmp = `${dir}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await exportMerged({ model, adapter, out: tmp });
  await writeJsonAtomic(path.join(tmp, STAMP), want);
  await rm(dir, { recursive: true, force: true });
  await rename(tmp, dir);
  return dir;
}
