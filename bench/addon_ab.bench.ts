// The addon against an earlier build of itself, for refactors that must not cost speed or memory
// (issue 11: "not slower than before the refactor, within 5%; DPO-step activation memory not
// larger"). The same two workloads of bench/small_model_child.ts, each in a fresh process:
// a generation (602-token prompt with a 336 px image, 32 new tokens, greedy) and one DPO
// micro-step (2 pairs, LoRA r=16 on every linear, trainable projector), and one full-parameter
// pretraining step with its optimizer step (2 text-only items of 64 tokens), run on the baseline
// addon and on this build alternately, round after round, so both see the same machine load.
// Prints medians, the spread of each, the engine's activation bytes and the peak RSS.
//   STIC_BASELINE_ADDON=/path/to/old/build/Release/stic.node npm run bench -- addon_ab
// STIC_AB_TASKS=dpo,pretrain runs only those workloads (default: all three).
// (an earlier build: `git worktree add /tmp/base <commit> && cd /tmp/base && npm ci`).
// Runs only when named (it needs the baseline).
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { median } from './harness.ts';
import type { BenchRow } from './harness.ts';
import { type ChildResult, loadAverage, runChild, spread, writeSmallModel } from './small_model.ts';

export const title = 'This build vs an earlier build of the addon (STIC_BASELINE_ADDON), small random model, CPU, 1 thread';
export const explicitOnly = true;

const ROUNDS = 5;
const THREADS = 1;

const TASKS = ['generate', 'dpo', 'pretrain'] as const;
type Task = (typeof TASKS)[number];

function abTasks(): Task[] {
  const named = (process.env.STIC_AB_TASKS ?? TASKS.join(',')).split(',');
  for (const t of named) {
    if (!(TASKS as readonly string[]).includes(t)) throw new Error(`STIC_AB_TASKS: expected a list of ${TASKS.join(', ')} but found '${t}'`);
  }
  return TASKS.filter((t) => named.includes(t));
}

export async function run(): Promise<BenchRow[]> {
  const baseline = process.env.STIC_BASELINE_ADDON;
  if (!baseline || !existsSync(baseline)) {
    throw new Error(`addon_ab: set STIC_BASELINE_ADDON to the stic.node of an earlier build (received ${baseline === undefined ? 'nothing' : JSON.stringify(baseline)})`);
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'stic-bench-ab-'));
  try {
    await writeSmallModel(dir, 'F32', 3);
    const rows: BenchRow[] = [];
    for (const task of abTasks()) {
      const base: ChildResult[] = [];
      const ours: ChildResult[] = [];
      const loads: string[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        base.push(runChild({ model: dir, dtype: 'stored', task, threads: THREADS, addon: path.resolve(baseline) }));
        ours.push(runChild({ model: dir, dtype: 'stored', task, threads: THREADS }));
        loads.push(loadAverage());
      }
      const ms = (xs: ChildResult[]) => xs.map((x) => x.ms);
      const mib = (b: number) => Math.round((10 * b) / 2 ** 20) / 10;
      const label = { generate: 'generation (prefill + 32 tokens)', dpo: 'DPO micro-step (2 pairs)', pretrain: 'pretraining step + AdamW (2 x 64 tokens)' }[task];
      rows.push({
        name: label,
        unit: 'ms',
        baselineName: 'earlier build',
        baseline: median(ms(base)),
        ours: median(ms(ours)),
        higherIsBetter: false,
        note: `medians of ${ROUNDS} interleaved rounds; spread ${spread(ms(base))} vs ${spread(ms(ours))} ms; load average ${loads.join(', ')}`,
      });
      rows.push({
        name: `${label}: activation bytes`,
        unit: 'MiB',
        baselineName: 'earlier build',
        baseline: mib(base[0].activationBytes),
        ours: mib(ours[0].activationBytes),
        higherIsBetter: false,
        note: `peak RSS medians ${mib(median(base.map((x) => x.peakRssBytes)))} vs ${mib(median(ours.map((x) => x.peakRssBytes)))} MiB`,
      });
    }
    return rows;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
