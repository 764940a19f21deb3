// Leak check (issue 20), run by `npm run test:sanitize` with the regular addon: the resident set
// stays flat over 1,000 calls each of generate, a DPO training step (forward, backward, AdamW) and a
// corruption batch on a tiny random model. After 300 warm-up calls (allocator pools, thread stacks,
// first-touch pages), RSS is sampled every 100 calls; the fitted growth over the next 1,000 calls
// must stay under 1 KiB per call (a leak of one small buffer per call shows as MiBs).
// Prints one line per workload: RSS after warm-up, after the last call, and the fitted slope.
//   npx tsx --expose-gc test/leak/leak_check.ts [calls]
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { corruptImages, corruptionSpec } from '../../lib/data/corrupt.ts';
import { writeRandomLlava } from '../../lib/engine/random_model.ts';
import { loadModel } from '../../lib/engine/index.ts';
import { native } from '../../lib/native/index.ts';
import { makeRng } from '../helpers/rng.ts';
import { TINY_SPEC, TINY_TI, loadNativeModel, randomPair } from '../model/trainer_util.ts';
import { adamWOptions, dpoStepOptions } from '../helpers/dpo_options.ts';

const CALLS = Number(process.argv[2] ?? 1000);
const WARMUP = 300;
const LIMIT_BYTES_PER_CALL = 1024;

function rss(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage.rss();
}

// Least-squares slope of RSS (bytes) against the call index.
function slope(points: [number, number][]): number {
  const n = points.length;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  const sxy = points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0);
  const sxx = points.reduce((s, [x]) => s + (x - mx) ** 2, 0);
  return sxy / sxx;
}

async function measure(name: string, call: (i: number) => Promise<unknown>): Promise<boolean> {
  for (let i = 0; i < WARMUP; i++) await call(i);
  const points: [number, number][] = [[0, rss()]];
  for (let i = 1; i <= CALLS; i++) {
    await call(WARMUP + i);
    if (i % 100 === 0) points.push([i, rss()]);
  }
  const s = slope(points);
  const mib = (b: number) => (b / 2 ** 20).toFixed(1);
  const ok = s < LIMIT_BYTES_PER_CALL;
  process.stdout.write(`${name.padEnd(16)} RSS ${mib(points[0][1])} MiB -> ${mib(points.at(-1)![1])} MiB over ${CALLS} calls; fitted growth ${s.toFixed(0)} B/call (limit ${LIMIT_BYTES_PER_CALL}) ${ok ? 'ok' : 'LEAK?'}\n`);
  return ok;
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'stic-leak-'));
let allOk = true;
try {
  native().setThreads(1);
  await writeRandomLlava(dir, TINY_SPEC, 7);
  const rng = makeRng(20);
  const S = TINY_SPEC.vision.imageSize;
  const V = TINY_SPEC.decoder.vocabSize;
  const image = rng.normalArray(3 * S * S);

  const model = await loadModel(dir);
  const prompt = [1, 5, 6, ...Array(TINY_TI).fill(V - 1), 7, 8];
  allOk = (await measure('generate', () => model.generate([{ ids: prompt, image, maxNewTokens: 8, temperature: 0.7 }], { seed: 3 }))) && allOk;

  const m = { dir, model: await loadNativeModel(dir), imageTokenId: V - 1, vocab: V, pixelsPerImage: 3 * S * S };
  const trainer = await native().createTrainer(m.model, { lora: { r: 4, alpha: 8, dropout: 0.1, targets: ['q_proj', 'v_proj'], seed: 1 }, trainProjector: true });
  const pixels = rng.normalArray(2 * m.pixelsPerImage);
  const pairs = [randomPair(rng, m, 0, 3, 6, 4), randomPair(rng, m, 1, 5, 2, 7)];
  allOk = (await measure('training step', async (i) => {
    await trainer.dpoStep(pixels, 2, pairs, dpoStepOptions({ key: { step: i, micro: 0 } }));
    await trainer.optimizerStep(adamWOptions({ lora: { lr: 1e-4, weightDecay: 0 }, projector: { lr: 1e-5, weightDecay: 0 }, maxGradNorm: 1 }));
  })) && allOk;

  const images = Array.from({ length: 4 }, () => ({ data: Uint8Array.from({ length: 64 * 48 * 3 }, () => rng.int(0, 256)), width: 64, height: 48 }));
  const spec = corruptionSpec('stic');
  allOk = (await measure('corruption batch', (i) => corruptImages(images, [i, i + 1, i + 2, i + 3], spec))) && allOk;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
if (!allOk) {
  process.stderr.write('leak check: RSS grew with the number of calls (see above)\n');
  process.exitCode = 1;
}
