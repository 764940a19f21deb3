// Where the pipeline finds the real engines. Inference (issue 3) and images (issue 5) are adapted in
// engine_adapters.ts. The trainer (issue 4) is found at run time: until lib/train/index.ts exists
// and exports sticTrainingEngine(): Promise<TrainingEngine> (lib/stic/engine_api.ts), the commands
// that need it say so plainly instead of pretending to train.
import type { ImageApi, InferenceEngine, InferenceOpenOptions, TrainingEngine } from './engine_api.ts';
import { llavaImages, openLlavaInference } from './engine_adapters.ts';

export const TRAINING_MISSING = 'the training engine is not built yet (issue 4)';

/**
 * Imports `specifier` (relative to this file) and returns its export `name`, a function. A missing
 * module gives `missing`; a module without that export says which export the pipeline expects.
 */
export async function importFactory<F>(specifier: string, name: string, missing: string): Promise<F> {
  // Run compiled (dist/), the module is the .js beside this one.
  const url = new URL(import.meta.url.endsWith('.js') ? specifier.replace(/\.ts$/, '.js') : specifier, import.meta.url);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(url.href)) as Record<string, unknown>;
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { url?: string };
    const notFound = e.code === 'ERR_MODULE_NOT_FOUND' && (e.url === undefined || e.url === url.href || String(e.message).includes(url.pathname));
    if (notFound) throw new Error(missing);
    throw err;
  }
  const f = mod[name];
  if (typeof f !== 'function') {
    throw new Error(`${missing.replace(/ is not built yet.*/, '')} at ${url.pathname} does not export ${name}(), the entry point the pipeline uses (lib/stic/engine_api.ts)`);
  }
  return f as F;
}

export function openInference(options: InferenceOpenOptions): Promise<InferenceEngine> {
  return openLlavaInference(options);
}

export async function openImages(): Promise<ImageApi> {
  return llavaImages;
}

export async function openTraining(): Promise<TrainingEngine> {
  const f = await importFactory<() => Promise<TrainingEngine>>('../train/index.ts', 'sticTrainingEngine', TRAINING_MISSING);
  return f();
}
