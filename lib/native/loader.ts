// Finds and loads stic.node. When nothing loads, one error lists every path tried, why each
// failed, and the command that fixes it (after sharp's and node-llama-cpp's loaders).
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import type { NativeBinding } from './contract.ts';

const require = createRequire(import.meta.url);

/**
 * The repository/package root: the nearest folder above this file whose package.json is stic's
 * (lib/native/ when run from the sources, dist/lib/native/ when run compiled).
 */
export const packageRoot = findPackageRoot(path.dirname(fileURLToPath(import.meta.url)));

function findPackageRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const manifest = path.join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'stic') return dir;
    if (path.dirname(dir) === dir) throw new Error(`internal: no package.json of stic in ${from} or a folder above it`);
  }
}

export class AddonLoadError extends Error {
  readonly attempts: { path: string; reason: string }[];
  constructor(attempts: { path: string; reason: string }[]) {
    const lines = attempts.map((a) => `  - ${a.path}: ${a.reason}`);
    super(
      [
        'Could not load the stic native addon (stic.node). Paths tried:',
        ...lines,
        'Possible solutions:',
        `  - build it: run \`npm run build\` in ${packageRoot} (needs cmake >= 3.18 and a C++17 compiler with OpenMP)`,
        '  - after changing CMake options or Node versions: `npm run rebuild`',
        '  - or point STIC_ADDON_PATH at a stic.node you built elsewhere (when it is set, it is the only path tried: unset it to use the build above)',
      ].join('\n'),
    );
    this.name = 'AddonLoadError';
    this.attempts = attempts;
  }
}

/**
 * Candidate locations, most specific first. STIC_ADDON_PATH, when set, is the only one: a path that
 * does not load is an error, never a silent fallback to another build.
 */
export function addonCandidates(env: NodeJS.ProcessEnv = process.env): string[] {
  if (env.STIC_ADDON_PATH) return [path.resolve(env.STIC_ADDON_PATH)];
  const out: string[] = [];
  out.push(path.join(packageRoot, 'build', 'Release', 'stic.node'));
  out.push(path.join(packageRoot, 'build', 'Debug', 'stic.node'));
  return out;
}

/** Tries each candidate; throws AddonLoadError naming all of them when none loads. */
export function loadAddonFrom(candidates: string[]): NativeBinding {
  return loadFirst(candidates).binding;
}

function loadFirst(candidates: string[]): { binding: NativeBinding; file: string } {
  const attempts: { path: string; reason: string }[] = [];
  for (const file of candidates) {
    if (!existsSync(file)) {
      attempts.push({ path: file, reason: 'file does not exist' });
      continue;
    }
    try {
      return { binding: require(file) as NativeBinding, file };
    } catch (err) {
      attempts.push({ path: file, reason: err instanceof Error ? err.message.split('\n')[0] : String(err) });
    }
  }
  throw new AddonLoadError(attempts);
}

let cached: { binding: NativeBinding; file: string } | undefined;

function loaded(): { binding: NativeBinding; file: string } {
  if (cached === undefined) {
    checkThreadVariables(process.env);
    cached = loadFirst(addonCandidates());
  }
  return cached;
}

/** The process-wide binding, loaded on first use. */
export function native(): NativeBinding {
  return loaded().binding;
}

/** The file native() loaded (loading it first if need be). */
export function addonPath(): string {
  return loaded().file;
}

/**
 * STIC_THREADS / OMP_NUM_THREADS are read by the addon (native/core/threads.cpp), which ignores a
 * value it cannot use; a user who set one means it, so a bad one is an error here instead.
 */
export function checkThreadVariables(env: NodeJS.ProcessEnv): void {
  for (const name of ['STIC_THREADS', 'OMP_NUM_THREADS']) {
    const v = env[name];
    if (v === undefined || v === '') continue;
    const n = /^\s*\d+\s*$/.test(v) ? Number(v) : Number.NaN;
    if (!(n >= 1 && n <= MAX_THREADS)) throw new Error(`environment variable ${name}: expected a whole number of CPU threads in [1, ${MAX_THREADS}] but found ${JSON.stringify(v)}`);
  }
}

/** The addon's thread cap (kMaxThreads in native/core/threads.h). */
const MAX_THREADS = 1024;
