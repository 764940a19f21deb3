// `npm run bench -- scaling`: the same work on 1 and on 2 ranks under mpirun (issue 14), on the
// built-in model and 16 toy scenes. Each rank runs 1 thread, so 2 ranks use twice the cores of 1: the
// ratio is the speed-up of adding a rank, and efficiency = speed-up / 2. A one-process run with 2
// threads (the same cores as 2 ranks) is printed beside it in the note: on a 2-core machine that is
// the honest alternative to a second rank.
// - generation: `stic pref` (two generations per image, 24 new tokens), images/s of the whole command
//   (start-up and model load included; they are paid once per rank).
// - training: `stic dpo` with a global batch of 4 pairs, the median time of an optimizer step from
//   metrics.jsonl (tokens / tokens_per_s), the first step left out.
// Runs are interleaved (1 rank, 2 ranks, 1 rank x 2 threads; repeated) and medians quoted with the
// spread and the load average, since this machine's 2 cores are shared.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';

import { mpiUnavailable, mpirun, repo } from '../test/dist/mpirun.ts';
import { type BenchRow, median } from './harness.ts';

export const title = 'Scaling over MPI ranks (CPU, 1 thread per rank)';

const REPEATS = 3;
const stic = path.join(repo, 'bin', 'stic.js');

type Setup = { ranks: number; threads: number };
const SETUPS: Setup[] = [{ ranks: 1, threads: 1 }, { ranks: 2, threads: 1 }, { ranks: 1, threads: 2 }];

async function runStic(s: Setup, args: string[], cwd: string): Promise<number> {
  const env = { STIC_THREADS: String(s.threads) };
  const t0 = performance.now();
  if (s.ranks === 1) {
    const r = spawnSync(process.execPath, [stic, ...args], { cwd, env: { ...process.env, ...env }, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`stic ${args.join(' ')} failed:\n${r.stderr}`);
  } else {
    const r = await mpirun(s.ranks, args, { env, timeoutMs: 600_000 });
    if (r.code !== 0) throw new Error(`mpirun -np ${s.ranks} stic ${args.join(' ')} failed:\n${r.stderr}`);
  }
  return (performance.now() - t0) / 1000;
}

function stepSeconds(metricsFile: string): number[] {
  const rows = readFileSync(metricsFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { step?: number; tokens?: number; tokens_per_s?: number });
  return rows.filter((r) => typeof r.tokens_per_s === 'number' && (r.step ?? 0) > 0).map((r) => (r.tokens as number) / (r.tokens_per_s as number));
}

const spread = (xs: number[]) => `${Math.min(...xs).toPrecision(3)}-${Math.max(...xs).toPrecision(3)}`;

export async function run(): Promise<BenchRow[]> {
  const why = mpiUnavailable();
  if (why) {
    process.stderr.write(`scaling: skipped: ${why}\n`);
    return [];
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'stic-scaling-'));
  try {
    symlinkSync(path.join(repo, 'models'), path.join(dir, 'models'));
    const world = spawnSync(process.execPath, [stic, 'toy', 'world', '--out', path.join(dir, 'data'), '--count', '16', '--seed', '5'], { encoding: 'utf8' });
    if (world.status !== 0) throw new Error(world.stderr);
    const model = path.join(dir, 'models', 'toy-llava');
    const images = path.join(dir, 'data', 'images');
    const gen: number[][] = SETUPS.map(() => []);
    const step: number[][] = SETUPS.map(() => []);
    for (let rep = 0; rep < REPEATS; rep++) {
      for (const [k, s] of SETUPS.entries()) {
        const out = path.join(dir, `r${rep}-${k}`);
        const prefs = path.join(out, 'pref.jsonl');
        const t = await runStic(s, ['pref', '--model', model, '--images', images, '--out', prefs, '--max-new-tokens', '24'], dir);
        gen[k].push(16 / t);
        await runStic(s, ['dpo', '--model', model, '--prefs', prefs, '--out', path.join(out, 'dpo'), '--batch-size', '4', '--epochs', '2', '--lr', '5e-4'], dir);
        step[k].push(median(stepSeconds(path.join(out, 'dpo', 'metrics.jsonl'))) * 1000);
      }
    }
    const load = loadavg().map((x) => x.toFixed(2)).join(' ');
    const [one, two, oneWide] = [0, 1, 2];
    const genEff = median(gen[two]) / median(gen[one]) / 2;
    const stepEff = median(step[one]) / median(step[two]) / 2;
    return [
      {
        name: 'stic pref, 16 images (2 x 24 new tokens each)',
        unit: 'images/s',
        baselineName: '1 rank x 1 thread',
        baseline: median(gen[one]),
        ours: median(gen[two]),
        higherIsBetter: true,
        note: `2 ranks x 1 thread; efficiency ${(100 * genEff).toFixed(0)}%; spread 1 rank ${spread(gen[one])}, 2 ranks ${spread(gen[two])}; 1 rank x 2 threads ${median(gen[oneWide]).toPrecision(3)}; ${REPEATS} interleaved runs, load average ${load}`,
      },
      {
        name: 'stic dpo optimizer step, global batch 4 pairs',
        unit: 'ms/step',
        baselineName: '1 rank x 1 thread',
        baseline: median(step[one]),
        ours: median(step[two]),
        higherIsBetter: false,
        note: `2 ranks x 1 thread; efficiency ${(100 * stepEff).toFixed(0)}%; spread 1 rank ${spread(step[one])}, 2 ranks ${spread(step[two])}; 1 rank x 2 threads ${median(step[oneWide]).toPrecision(3)} ms; medians over steps 2.. of each run`,
      },
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
