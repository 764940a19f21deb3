// Stage completion manifests. When a stage finishes, `<output>.done.json` is written atomically
// beside its output with the hashes of its inputs and options, the hash of the output, and its
// counts. `stic run` decides from it:
//   complete  manifest present, same inputs and options, output unchanged  -> skip the stage
//   stale     manifest present but something differs                       -> refuse, say what
//   partial   output present, no manifest (a killed run)                   -> run it (it resumes)
//   absent    nothing there                                                -> run it
// Folders (like an image folder) are hashed by their sorted file list and sizes, not by content:
// cheap on thousands of images, and enough to notice files added, removed or replaced by others.
// A stage output folder is hashed by content, without the merged-model cache that earlier versions
// of inference with an adapter left in it (now applied in memory, lib/train/adapted_model.ts): it
// was derived from the folder's own files, and runs made then must still resume.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, readdir, stat } from 'node:fs/promises';
import path from 'node:path';

import { changedFields } from './output_settings.ts';

import { writeJsonAtomic } from '../util/atomic_write.ts';

export interface StageManifest {
  stage: string;
  version: 1;
  /** sha256 of each named input. */
  inputs: Record<string, string>;
  /** sha256 of the canonical JSON of the options. */
  options: string;
  /** The options themselves (paths relative to the run folder); absent in older manifests. */
  optionValues?: Record<string, unknown>;
  /** sha256 of the output (file content, or a folder's files and contents). */
  output: string;
  counts: Record<string, number>;
  finishedAt: string;
}

export type StageState =
  | { state: 'complete'; manifest: StageManifest }
  | { state: 'stale'; reason: string }
  | { state: 'partial' }
  | { state: 'absent' };

export function manifestPath(output: string): string {
  return `${output.replace(/[\\/]+$/, '')}.done.json`;
}

/** sha256 of a file's bytes, streamed. */
export async function hashFile(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

const MERGED_DIR = 'merged-model';

/** True for an earlier version's merged-model cache (or an export of it in progress) at the top of an output folder. */
function isDerivedCache(rel: string): boolean {
  const top = rel.split('/')[0];
  return top === MERGED_DIR || top.startsWith(`${MERGED_DIR}.tmp-`);
}

/**
 * A folder's hash: every file (sorted relative path) with its content hash, or with its size only.
 * By content (stage outputs), the merged-model cache is left out.
 */
export async function hashFolder(dir: string, by: 'content' | 'size'): Promise<string> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const files = entries
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath ?? (e as unknown as { path: string }).path, e.name)).split(path.sep).join('/'))
    .filter((rel) => by === 'size' || !isDerivedCache(rel))
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const h = createHash('sha256');
  for (const rel of files) {
    const full = path.join(dir, rel);
    h.update(`${rel}\u0000${by === 'content' ? await hashFile(full) : (await stat(full)).size}\n`);
  }
  return h.digest('hex');
}

/** Hash of a file (content) or a folder (file list and sizes, or contents for stage outputs). */
export async function hashPath(p: string, folderBy: 'content' | 'size' = 'content'): Promise<string> {
  return (await stat(p)).isDirectory() ? hashFolder(p, folderBy) : hashFile(p);
}

/** sha256 of JSON with sorted keys (so key order in a config never changes a hash). */
export function hashOptions(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex');
}

export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonicalJson(x)}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}

/** The state of a stage whose output is `output`, given its current inputs and options hashes. */
export async function stageState(output: string, inputs: Record<string, string>, options: string, values?: Record<string, unknown>): Promise<StageState> {
  const mpath = manifestPath(output);
  if (!(await exists(mpath))) return (await exists(output)) ? { state: 'partial' } : { state: 'absent' };
  let m: StageManifest;
  try {
    m = JSON.parse(await readFile(mpath, 'utf8')) as StageManifest;
  } catch (err) {
    return { state: 'stale', reason: `its manifest ${mpath} is not valid JSON (${(err as Error).message})` };
  }
  const changed = Object.keys({ ...inputs, ...m.inputs }).filter((k) => inputs[k] !== m.inputs?.[k]);
  if (changed.length) return { state: 'stale', reason: `its input${changed.length > 1 ? 's' : ''} ${changed.join(', ')} changed since it finished` };
  if (m.options !== options) {
    const changed = m.optionValues && values ? changedFields(m.optionValues, values) : [];
    return { state: 'stale', reason: `its options changed since it finished${changed.length ? `: ${changed.join('; ')}` : ''}` };
  }
  if (!(await exists(output))) return { state: 'stale', reason: `its output ${output} is gone` };
  if ((await hashPath(output)) !== m.output) return { state: 'stale', reason: `its output ${output} was modified after it finished` };
  return { state: 'complete', manifest: m };
}

export async function writeManifest(output: string, stage: string, inputs: Record<string, string>, options: { hash: string; values: Record<string, unknown> }, counts: Record<string, number>): Promise<StageManifest> {
  const m: StageManifest = { stage, version: 1, inputs, options: options.hash, optionValues: options.values, output: await hashPath(output), counts, finishedAt: new Date().toISOString() };
  await writeJsonAtomic(manifestPath(output), m);
  return m;
}
