// What the end-to-end tests of the commands share: the CLI run in-process with its output captured,
// and the small random LLaVA model (real engine and trainer, fixture tokenizer) they run it on.
import { copyFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { main } from '../../bin/cli.ts';
import { writeRandomLlava } from '../../lib/engine/random_model.ts';

export const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Runs the CLI in-process, capturing what it writes. */
export async function runCli(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const saved = { out: process.stdout.write, err: process.stderr.write };
  process.stdout.write = ((s: string) => out.push(String(s)) > 0) as typeof process.stdout.write;
  process.stderr.write = ((s: string) => err.push(String(s)) > 0) as typeof process.stderr.write;
  try {
    const code = await main(argv);
    return { code, stdout: out.join(''), stderr: err.join('') };
  } finally {
    process.stdout.write = saved.out;
    process.stderr.write = saved.err;
  }
}

/**
 * A random LLaVA checkpoint small enough for CI (28 px images, 4 image tokens, a 2-layer decoder of
 * width 48) with the fixture's Llama-style tokenizer, written to `dir`.
 */
export async function writeTinyLlava(dir: string, seed = 5): Promise<void> {
  await writeRandomLlava(
    dir,
    {
      vision: { imageSize: 28, patchSize: 14, hiddenSize: 32, intermediateSize: 48, numLayers: 2, numHeads: 2 },
      decoder: { family: 'llama', hiddenSize: 48, intermediateSize: 96, numLayers: 2, numHeads: 4, numKvHeads: 2, vocabSize: 421 },
      std: 0.3,
    },
    seed,
  );
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(path.join(repo, 'test/fixtures/hf/tokenizer-llama-style', f), path.join(dir, f));
}
