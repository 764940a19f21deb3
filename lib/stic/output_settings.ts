// The settings a resumable JSONL output (pref pairs, descriptions) was started with, kept beside it
// in <out>.settings.json, so that a resumed run never mixes records made with other settings (3 at
// temperature 0.2 and 17 at 0.9 in one file, marked complete). The settings are the fields that
// decide what a record holds: model, adapter, prompts, sampling, seeds, corruptions; not threads or
// batch size (records do not depend on them). Paths are stored relative to the output's folder, so
// a moved run folder still matches. The options themselves are kept, not a hash: a refusal names
// each changed field with its old and new value.
import { readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';

import { isWriter } from '../dist/launch.ts';
import { writeJsonAtomic } from '../util/atomic_write.ts';
import { portablePath } from '../util/portable_path.ts';

export type OutputSettings = Record<string, unknown>;

/** The settings file of `out`. */
export function settingsFileOf(out: string): string {
  return `${out}.settings.json`;
}

/** A model or adapter path as the settings store it: relative to the output's folder. */
export function settingsPath(p: string | undefined, out: string): string | null {
  return p === undefined ? null : portablePath(p, path.dirname(path.resolve(out)));
}

/**
 * Before a stage appends to `out`: when `out` already holds records, the settings they were made with
 * must equal `settings` (else an error naming each changed field); then `settings` is recorded.
 * Rank 0 alone checks and writes (lib/dist); its error stops every rank.
 */
export async function claimOutputSettings(stage: string, out: string, settings: OutputSettings): Promise<void> {
  if (!isWriter()) return;
  const file = settingsFileOf(out);
  if (await hasRecords(out)) {
    const stored = await readStored(file);
    if (stored !== null) {
      const changed = changedFields(stored, settings);
      if (changed.length > 0) {
        throw new Error(
          `${stage}: ${out} was started with other settings (${file}): ${changed.join('; ')}. ` +
            'Resuming would mix records made both ways. Run again with the original settings to resume, ' +
            `or add --fresh to start ${out} over, or write to another --out`,
        );
      }
    }
  }
  await writeJsonAtomic(file, settings);
}

/** `--fresh`: removes what an earlier run of this output wrote (records, settings, skipped list). */
export async function startFresh(out: string): Promise<void> {
  if (!isWriter()) return;
  for (const f of [out, settingsFileOf(out), `${out}.skipped.jsonl`, `${out}.done.json`]) await rm(f, { force: true });
}

/** "temperature: 0.2 -> 0.9" for every field that differs (dotted paths into nested objects). */
export function changedFields(before: OutputSettings, after: OutputSettings, prefix = ''): string[] {
  const out: string[] = [];
  for (const key of [...new Set([...Object.keys(before), ...Object.keys(after)])].sort()) {
    const a = before[key];
    const b = after[key];
    const name = `${prefix}${key}`;
    if (isPlainObject(a) && isPlainObject(b)) out.push(...changedFields(a, b, `${name}.`));
    else if (JSON.stringify(a) !== JSON.stringify(b)) out.push(`${name}: ${shown(a)} -> ${shown(b)}`);
  }
  return out;
}

function isPlainObject(v: unknown): v is OutputSettings {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function shown(v: unknown): string {
  const s = v === undefined ? '(not set)' : JSON.stringify(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

async function hasRecords(out: string): Promise<boolean> {
  const s = await stat(out).catch(() => null);
  return s !== null && s.isFile() && s.size > 0;
}

// An output without a settings file was started by a version of stic that kept none: accepted.
async function readStored(file: string): Promise<OutputSettings | null> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return null;
  }
  try {
    const v = JSON.parse(text) as unknown;
    if (isPlainObject(v)) return v;
  } catch {
    // fall through
  }
  throw new Error(`${file}: expected the JSON settings of the output beside it but the file does not parse; delete it to accept the output's records as they are, or use --fresh`);
}
