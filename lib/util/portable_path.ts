// Paths as they are recorded for resuming: relative to the run (or output) folder, with "/"
// separators, so a run folder moved together with its inputs (a project copied to another disk or
// machine) still matches its manifests, checkpoints and caches instead of looking stale.
import path from 'node:path';

/** `p` relative to `base` ("/"-separated); null and undefined pass through. */
export function portablePath<T extends string | null | undefined>(p: T, base: string): T {
  if (typeof p !== 'string') return p;
  return path.relative(path.resolve(base), path.resolve(p)).split(path.sep).join('/') as T;
}

/**
 * A copy of `value` in which every string under one of `keys` (at any depth) is made portable
 * against `base`; other strings (prompts, names) are left alone.
 */
export function portablePaths(value: unknown, base: string, keys: ReadonlySet<string>): unknown {
  if (Array.isArray(value)) return value.map((v) => portablePaths(v, base, keys));
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = keys.has(k) && typeof v === 'string' ? portablePath(v, base) : portablePaths(v, base, keys);
  return out;
}
