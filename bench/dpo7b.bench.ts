// One LoRA DPO step on LLaVA-1.5-7B (random bf16 weights, bench/llava7b_model.ts) on this machine's
// CPU with gradient checkpointing: one pair of ~700-token sequences (a 600-token prompt with 576
// image tokens, shared by two 100-token responses), in a child process whose peak RSS is the step's.
// Printed: time, peak RSS against the machine's memory, GFLOP/s, and the activation bytes against
// the trainer's plan for the same step without checkpointing (not run: the plan is the arithmetic the
// step allocates by, checked against real steps by test/train).
// FLOPs counted: 2 x parameters x rows for the decoder forward and again for its backward to the
// inputs (base weights are frozen: no weight gradients), the recomputed forward not counted, plus the
// vision tower's forward; attention's own FLOPs (about 1% here) and LoRA's are left out.
// Only on request (`npm run bench -- dpo7b`): it may write 14 GB and takes several minutes.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import type { NativeStepMemory } from '../lib/native/contract.ts';
import type { BenchRow } from './harness.ts';
import { llava7bModel, weightTotals } from './llava7b_model.ts';

export const title = 'LoRA DPO step on LLaVA-1.5-7B on the CPU (bf16 weights as stored, gradient checkpointing, one pair of ~700 tokens)';
export const explicitOnly = true;

const THREADS = 2;
const GB = 1e9;
const here = path.dirname(fileURLToPath(import.meta.url));
const log = (text: string) => process.stderr.write(`dpo7b: ${text}\n`);

interface StepResult {
  ms: number;
  loss: number;
  rows: number;
  sequenceTokens: number;
  maxRssBytes: number;
  activationBytes: number;
  plan: { full: NativeStepMemory; checkpointed: NativeStepMemory };
  weightBytes: number;
}

export async function run(): Promise<BenchRow[]> {
  const work = mkdtempSync(path.join(tmpdir(), 'stic-bench-dpo7b-'));
  try {
    const model = await llava7bModel(work, log);
    const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(here, 'dpo7b_ours.ts'), model, String(THREADS), '1'], { encoding: 'utf8', maxBuffer: 1 << 24 });
    if (r.status !== 0) throw new Error(`dpo7b_ours.ts failed (exit ${r.status}): ${r.stderr.trim().split('\n').slice(-5).join(' | ')}`);
    const s = JSON.parse(r.stdout) as StepResult;
    log(`step ${(s.ms / 1e3).toFixed(1)} s, loss ${s.loss.toFixed(4)}, peak RSS ${(s.maxRssBytes / GB).toFixed(2)} GB, ${s.rows} rows`);
    const p = await weightTotals(model);
    const flops = 2 * p.decoderParams * s.rows * 2 + 2 * p.visionParams * 577;
    const total = (m: NativeStepMemory) => m.savedBytes + m.scratchBytes;
    const note = `${s.rows} rows (two ${s.sequenceTokens}-token sequences sharing the prompt), LoRA r=16 on 7 linears + projector, ${THREADS} threads, ${(s.weightBytes / GB).toFixed(1)} GB of weights`;
    return [
      { name: 'time per step', unit: 's', baselineName: '-', baseline: null, ours: s.ms / 1e3, higherIsBetter: false, note },
      { name: 'throughput', unit: 'GFLOP/s', baselineName: '-', baseline: null, ours: flops / (s.ms / 1e3) / 1e9, higherIsBetter: true, note: `${(flops / 1e12).toFixed(1)} TFLOP counted (see the file's header)` },
      { name: 'peak RSS', unit: 'GB', baselineName: 'machine memory', baseline: totalmem() / GB, ours: s.maxRssBytes / GB, higherIsBetter: false },
      { name: 'activations', unit: 'GB', baselineName: 'planned without checkpointing', baseline: total(s.plan.full) / GB, ours: s.activationBytes / GB, higherIsBetter: false, note: `planned with checkpointing ${(total(s.plan.checkpointed) / GB).toFixed(2)} GB` },
    ];
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
