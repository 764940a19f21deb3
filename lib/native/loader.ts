// Finds and loads stic.node. When nothing loads, one error lists every path tried, why each
// failed, and the command that fixes it (after sharp's and node-llama-cpp's loaders).
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import type { NativeBinding } from './contract.ts';

const require = createRequire(import.meta.url);

/** The repository/package root: two levels above lib/native/. */
export const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

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
        '  - or point STIC_ADDON_PATH at a stic.node you built elsewhere',
      ].join('\n'),
    );
    this.name = 'AddonLoadError';
    this.attempts = attempts;
  }
}

/** Candidate locations, most specific first. */
export function addonCandidates(env: NodeJS.ProcessEnv = process.env): string[] {
  const out: string[] = [];
  if (env.STIC_ADDON_PATH) out.push(path.resolve(env.STIC_ADDON_PATH));
  out.push(path.join(packageRoot, 'build', 'Release', 'stic.node'));
  out.push(path.join(packageRoot, 'build', 'Debug', 'stic.node'));
  return out;
}

/** Tries each candidate; throws AddonLoadError naming all of them when none loads. */
export function loadAddonFrom(candidates: string[]): NativeBinding {
  const attempts: { path: string; reason: string }[] = [];
  for (const file of candidates) {
    if (!existsSync(file)) {
      attempts.push({ path: file, reason: 'file does not exist' });
      continue;
    }
    try {
      return require(file) as NativeBinding;
    } catch (err) {
      attempts.push({ path: file, reason: err instanceof Error ? err.message.split('\n')[0] : String(err) });
    }
  }
  throw new AddonLoadError(attempts);
}

let cached: NativeBinding | undefined;

/** The process-wide binding, loaded on first use. */
export function native(): NativeBinding {
  cached ??= loadAddonFrom(addonCandidates());
  return cached;
}
