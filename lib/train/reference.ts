// Reference log-probs for DPO when the pairs do not carry them: one pre-pass before the first step
// with the reference model (LoRA off, the original projector: STIC.md stage 1b), appended per batch
// to <out>/work/reference_logps.jsonl so a killed pre-pass resumes where it stopped and a resumed
// training run reuses them. Each line is keyed by a hash of what determines the value (model,
// rejected log-prob mode, image, prompt and response tokens): a line that no longer matches any pair
// is simply not used. JSON keeps a double exactly, so a value read back equals the one computed.
// Under several ranks the batches are sharded (lib/dist/shard.ts): rank 0 reads and writes the file.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';

import { currentWorld, isWriter } from '../dist/launch.ts';
import { forEachBatchSharded } from '../dist/shard.ts';
import { chunks } from '../generate/batching.ts';
import type { RejectedLogpMode } from '../native/contract.ts';
import { JsonlWriter } from '../util/jsonl_writer.ts';
import { type ProgressFactory, silentProgress } from '../util/progress.ts';
import { portablePath } from '../util/portable_path.ts';
import { type PixelLoader, StepImages, type TokenizedPair } from './collate.ts';
import type { DpoOptions } from './train_options.ts';
import type { Trainer } from './trainer_api.ts';

export const REFERENCE_FILE = 'reference_logps.jsonl';

export interface ReferenceOptions {
  file: string;
  /** Pairs per native call. */
  batch: number;
  pixels: PixelLoader;
  rejectedMode: RejectedLogpMode;
  /** Identity of the reference model (its directory). */
  model: string;
  /** A bar over the pairs scored (the cached ones count as done). */
  progress?: ProgressFactory;
}

export type ReferenceMap = Map<number, { chosen: number; rejected: number }>;

/** The cache key of one pair's reference log-probs. */
export function referenceKey(p: TokenizedPair, o: Pick<ReferenceOptions, 'model' | 'rejectedMode'>): string {
  const h = createHash('sha256');
  h.update(`${o.model}\u0000${o.rejectedMode}\u0000${p.image ?? ''}\u0000`);
  for (const ids of [p.promptIds, p.chosenIds, p.rejectedIds]) h.update(new Uint8Array(ids.buffer, ids.byteOffset, ids.byteLength)).update('|');
  return h.digest('hex').slice(0, 32);
}

/**
 * Reference log-probs of every pair (by example index), from the cache file where present, the rest
 * computed in batches with trainer.pairLogprobs. Pairs whose image cannot be loaded are left out
 * (the loop skips them too).
 */
export async function referenceLogps(trainer: Trainer, pairs: TokenizedPair[], o: ReferenceOptions): Promise<ReferenceMap> {
  const world = currentWorld();
  const cached = new Map(await world.comm.broadcastJson(0, isWriter() ? [...(await readCache(o.file)).entries()] : []));
  // Keyed by paths relative to the cache's folder, so a moved run folder keeps its cache.
  const base = path.dirname(o.file);
  const keys = pairs.map((p) => referenceKey({ ...p, image: portablePath(p.image, base) }, { model: portablePath(o.model, base), rejectedMode: o.rejectedMode }));
  const todo = new Map<string, TokenizedPair>();
  pairs.forEach((p, i) => {
    if (!cached.has(keys[i]) && !todo.has(keys[i])) todo.set(keys[i], p);
  });
  if (todo.size > 0) {
    const writer = isWriter() ? await JsonlWriter.open(o.file, { idField: 'key' }) : null;
    const distinct = new Set(keys).size;
    const bar = isWriter() ? (o.progress ?? silentProgress)('reference log-probs', distinct, distinct - todo.size, 'pairs') : null;
    const batches = chunks([...todo.entries()], o.batch);
    try {
      await forEachBatchSharded(world, batches, (chunk) => scoreBatch(trainer, chunk, o), async (lines, chunk) => {
        await writer?.append(lines);
        for (const l of lines) cached.set(l.key, { chosen: l.chosen, rejected: l.rejected });
        bar?.tick(chunk.length);
      });
    } finally {
      bar?.stop();
      await writer?.close();
    }
    if (world.size > 1) for (const [k, v] of await world.comm.broadcastJson(0, [...cached.entries()])) cached.set(k, v);
  }
  const out: ReferenceMap = new Map();
  pairs.forEach((p, i) => {
    const v = cached.get(keys[i]);
    if (v) out.set(p.index, v);
  });
  return out;
}

// One batch's reference log-probs as cache lines; pairs whose image cannot be loaded are left out.
async function scoreBatch(trainer: Trainer, chunk: [string, TokenizedPair][], o: ReferenceOptions): Promise<{ key: string; id: string; chosen: number; rejected: number }[]> {
  const images = await StepImages.load(chunk.map(([, p]) => p.image), o.pixels);
  const ok = chunk.filter(([, p]) => images.has(p.image));
  if (ok.length === 0) return [];
  const g = images.gather(ok.map(([, p]) => p.image));
  const r = await trainer.pairLogprobs(
    g.pixels,
    g.layouts,
    ok.map(([, p], i) => ({ images: g.images[i], promptIds: p.promptIds, chosenIds: p.chosenIds, rejectedIds: p.rejectedIds })),
    { model: 'reference', rejectedMode: o.rejectedMode, refProjector: 'original' },
  );
  return ok.map(([key, p], i) => ({ key, id: p.id, chosen: r.chosen[i], rejected: r.rejected[i] }));
}

// The complete lines of the cache (a torn last line is ignored; the writer cuts it off).
async function readCache(file: string): Promise<Map<string, { chosen: number; rejected: number }>> {
  const map = new Map<string, { chosen: number; rejected: number }>();
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return map;
    throw err;
  }
  const lines = text.slice(0, text.lastIndexOf('\n') + 1).split('\n').filter((l) => l.length > 0);
  lines.forEach((l, i) => {
    let r: { key?: unknown; chosen?: unknown; rejected?: unknown };
    try {
      r = JSON.parse(l);
    } catch (err) {
      throw new Error(`${file}:${i + 1}: expected a JSON line {key, id, chosen, rejected} but it does not parse (${(err as Error).message}); delete the file to recompute the reference log-probs`);
    }
    if (typeof r.key !== 'string' || typeof r.chosen !== 'number' || typeof r.rejected !== 'number') {
      throw new Error(`${file}:${i + 1}: expected {key: string, chosen: number, rejected: number} but received ${l.slice(0, 80)}; delete the file to recompute the reference log-probs`);
    }
    map.set(r.key, { chosen: r.chosen, rejected: r.rejected });
  });
  return map;
}

/**
 * Where the reference log-probs of DPO pairs come from: the pairs (stored at generation time, label
 * mode only: `stic pref --ref-logps` scores the rejected labels), a cached pre-pass, or, when the
 * reference must follow the trained projector (--reproduce-reference-drift), every step (map null).
 * Training pairs and held-out pairs (dpo_eval.ts) both get theirs here, from the same reference.
 */
export async function dpoReferences(
  trainer: Trainer,
  examples: TokenizedPair[],
  o: Pick<DpoOptions, 'reproduceReferenceDrift' | 'rejectedLogp'>,
  at: Omit<ReferenceOptions, 'rejectedMode'>,
): Promise<{ map: ReferenceMap | null; source: string }> {
  if (o.reproduceReferenceDrift) return { map: null, source: 'every step (trained projector)' };
  const stored = examples.every((e) => e.refChosen !== undefined && e.refRejected !== undefined);
  if (stored && o.rejectedLogp === 'label') {
    return { map: new Map(examples.map((e) => [e.index, { chosen: e.refChosen as number, rejected: e.refRejected as number }])), source: 'stored' };
  }
  const map = await referenceLogps(trainer, examples, { ...at, rejectedMode: o.rejectedLogp });
  return { map, source: 'pre-pass' };
}
