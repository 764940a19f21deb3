// Pieces the stages share: the environment a stage runs in and what it returns (StageEnv,
// StageResult), the engines a generation stage uses, loading an image as a record-level fault when
// it fails, the stage report, and the `<output>.skipped.jsonl` file that lists every skipped record
// with its reason (so a summary line "3 records skipped" can always be followed up).
import { access, rm } from 'node:fs/promises';

import { type RecordFault, SkipLog, makeFault } from '../../data/records/faults.ts';
import { imageNotFoundProblem } from '../../data/records/image_root.ts';
import { writeFileAtomic } from '../../util/atomic_write.ts';
import type { PromptSet } from '../../data/prompts.ts';
import type { ProgressFactory } from '../../util/progress.ts';
import type { ImageApi, InferenceEngine, RgbImage } from '../engine_api.ts';

export interface StageEnv {
  model: string;
  threads?: number;
  prompts: PromptSet;
  progress?: ProgressFactory;
  /** Where messages for the user go (stderr in the CLI). */
  log: (text: string) => void;
}

export interface StageResult {
  report: string;
  counts: Record<string, number>;
}


export interface StageReport {
  stage: string;
  out: string;
  /** Inputs considered (after --limit). */
  total: number;
  /** Records the output already held when the stage started (a resumed run). */
  resumed: number;
  /** Records written by this run. */
  written: number;
  skips: SkipLog;
}

export interface ImageRef {
  id: string;
  /** Absolute path. */
  path: string;
  /** Where the image was listed (for messages). */
  file: string;
  line?: number;
  /** How `path` was found, for the not-found message (image_root.ts): the path as the record gives it and what it was resolved against. */
  resolved?: { image: string; against: string };
}

/** The decoded image, or the fault that skips its record ("image not found" / "image unreadable"). */
export async function loadRecordImage(api: ImageApi, ref: ImageRef): Promise<RgbImage | RecordFault> {
  try {
    await access(ref.path);
  } catch {
    const problem = ref.resolved ? imageNotFoundProblem(ref.resolved.image, { path: ref.path, against: ref.resolved.against }) : `image not found: ${ref.path}`;
    return makeFault('image not found', ref.file, ref.line, ref.id, problem);
  }
  try {
    return await api.load(ref.path);
  } catch (err) {
    // The loader's message names the file already ("Cannot load image X: ..."): not said twice.
    const m = (err as Error).message;
    return makeFault('image unreadable', ref.file, ref.line, ref.id, m.includes(ref.path) ? m : `cannot read image ${ref.path}: ${m}`);
  }
}

export function isFault(v: RgbImage | RecordFault): v is RecordFault {
  return (v as RecordFault).kind !== undefined && (v as RecordFault).message !== undefined;
}

/** Path of the list of skipped records beside an output. */
export function skippedPath(out: string): string {
  return `${out}.skipped.jsonl`;
}

/** Writes (or, when nothing was skipped, removes a stale) `<out>.skipped.jsonl`. */
export async function writeSkipped(out: string, skips: SkipLog): Promise<void> {
  const file = skippedPath(out);
  if (skips.count === 0) {
    await rm(file, { force: true });
    return;
  }
  const lines = skips.faults.map((f) => JSON.stringify({ id: f.id ?? null, file: f.file, line: f.line ?? null, kind: f.kind, message: f.message }));
  await writeFileAtomic(file, `${lines.join('\n')}\n`);
}

/** A few lines for the terminal at the end of a stage. */
export function formatStageReport(r: StageReport): string {
  const lines = [
    `${r.stage}: ${r.written} written to ${r.out}${r.resumed ? ` (resumed: ${r.resumed} were already there)` : ''}, ${r.total} inputs`,
    ...r.skips.report(5).map((l) => `${r.stage}: ${l}`),
  ];
  if (r.skips.count > 0) lines.push(`${r.stage}: every skipped record is listed in ${skippedPath(r.out)}`);
  return `${lines.join('\n')}\n`;
}

/** Closes an inference engine that holds resources (the fakes in tests hold none). */
export async function closeEngine(engine: InferenceEngine): Promise<void> {
  if (engine.close) await engine.close();
}
