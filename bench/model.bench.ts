// LLaVA on the CPU: prefill and decode tokens/s on a small random model (decoder hidden 512,
// 8 layers, 8 heads, vocab 32000; CLIP-style tower at 336 px / patch 14 = 576 image tokens, hidden
// 256, 4 layers), against a plain PyTorch CPU reference of the same model and weights
// (bench/torch_llava.py), same thread count, measured in the same run. Prefill = image encoding +
// the prompt up to the first token; decode = every further token (KV cache, greedy). Both sides'
// greedy tokens are compared, so the baseline is known to compute the same model.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { writeRandomLlava } from '../lib/engine/random_model.ts';
import { resolveWeights } from '../lib/engine/weight_names.ts';
import { loadModelConfig } from '../lib/model/config.ts';
import { openCheckpoint } from '../lib/model/safetensors.ts';
import { native } from '../lib/native/index.ts';
import type { LlavaModelNative } from '../lib/native/contract.ts';
import { type BenchRow, median } from './harness.ts';
import { SMALL_SPEC } from './small_model.ts';
import { llavaPrompt, randomPixels } from './llava_inputs.ts';
import { findTorchPython } from './torch_python.ts';

export const title = 'LLaVA CPU engine: prefill and decode (small random model, 576 image tokens)';

const SPEC = SMALL_SPEC;
const THREADS = 2;
const NEW_TOKENS = 32;
const REPEATS = 3;

interface Timing {
  prefillMs: number;
  decodeMs: number;
  tokens: number[][];
}


async function timeOurs(model: LlavaModelNative, ids: number[], pixels: Float32Array, batch: number): Promise<Timing> {
  const prefill: number[] = [];
  const decode: number[] = [];
  let tokens: number[][] = [];
  for (let r = 0; r < REPEATS + 1; r++) {
    const items = Array.from({ length: batch }, (_, i) => ({ ids, images: [i], maxNewTokens: NEW_TOKENS, temperature: 0, topK: 0, topP: 1, seed: 0 }));
    const gen = model.startGeneration(pixels.subarray(0, batch * 3 * 336 * 336), batch, items, []);
    const t0 = performance.now();
    const first = await gen.step(1);
    const t1 = performance.now();
    const rest = await gen.step(NEW_TOKENS - 1);
    const t2 = performance.now();
    if (r === 0) continue; // warm-up
    prefill.push(t1 - t0);
    decode.push(t2 - t1);
    tokens = first.tokens.map((t, i) => [...t, ...rest.tokens[i]]);
  }
  return { prefillMs: median(prefill), decodeMs: median(decode), tokens };
}


/**
 * Debian's torch runs its GEMMs in OpenBLAS, whose own thread pool fights torch's OpenMP pool for
 * the same cores (measured here: up to 10x slower with both at 2 threads). Both honest splits of
 * the THREADS cores are run, and the faster one is the baseline for each measure.
 */
const TORCH_SPLITS = [
  { torchThreads: THREADS, blasThreads: 1 },
  { torchThreads: 1, blasThreads: THREADS },
];

function timeTorch(python: string, dir: string, ids: number[], pixels: Float32Array, batch: number): (Timing & { split: string }) | { error: string } {
  const inputs = path.join(dir, `inputs-${batch}.json`);
  const pix = path.join(dir, `pixels-${batch}.f32`);
  writeFileSync(inputs, JSON.stringify({ ids: Array.from({ length: batch }, () => ids), new_tokens: NEW_TOKENS }));
  writeFileSync(pix, Buffer.from(pixels.buffer, pixels.byteOffset, batch * 3 * 336 * 336 * 4));
  const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'torch_llava.py');
  let prefill = { ms: Infinity, split: '' };
  let decode = { ms: Infinity, split: '' };
  let tokens: number[][] = [];
  for (const s of TORCH_SPLITS) {
    const env = { ...process.env, OPENBLAS_NUM_THREADS: String(s.blasThreads), OMP_NUM_THREADS: String(s.torchThreads) };
    const r = spawnSync(python, [script, dir, inputs, pix, String(s.torchThreads), String(REPEATS)], { encoding: 'utf8', maxBuffer: 1 << 26, env });
    if (r.status !== 0) return { error: `torch_llava.py failed: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}` };
    const out = JSON.parse(r.stdout) as { prefill_ms: number[]; decode_ms: number[]; tokens: number[][] };
    const split = `torch ${s.torchThreads} / OpenBLAS ${s.blasThreads}`;
    if (median(out.prefill_ms) < prefill.ms) prefill = { ms: median(out.prefill_ms), split };
    if (median(out.decode_ms) < decode.ms) decode = { ms: median(out.decode_ms), split };
    tokens = out.tokens;
  }
  return { prefillMs: prefill.ms, decodeMs: decode.ms, tokens, split: `prefill ${prefill.split}, decode ${decode.split} threads` };
}

export async function run(): Promise<BenchRow[]> {
  const dir = mkdtempSync(path.join(tmpdir(), 'stic-bench-model-'));
  try {
    await writeRandomLlava(dir, SPEC, 1);
    native().setThreads(THREADS);
    const config = loadModelConfig(dir);
    const sources = resolveWeights(native().llavaTensorSpecs(config), [await openCheckpoint(dir)], config);
    const model = await native().loadLlava(config, sources);
    const ids = llavaPrompt(config.imageTokenId, config.imageTokenCount);
    const pixels = randomPixels(4 * 3 * 336 * 336, 7);
    const torch = findTorchPython();
    const rows: BenchRow[] = [];
    for (const batch of [1, 4]) {
      const ours = await timeOurs(model, ids, pixels, batch);
      const base = 'python' in torch ? timeTorch(torch.python, dir, ids, pixels, batch) : torch;
      const ok = 'prefillMs' in base;
      const same = ok ? JSON.stringify(base.tokens) === JSON.stringify(ours.tokens) : null;
      const note = ok
        ? `${batch} x ${ids.length} prompt tokens, ${NEW_TOKENS} new; greedy tokens ${same ? 'identical to' : 'DIFFER from'} PyTorch; best baseline split: ${base.split}`
        : base.error;
      const tokS = (tokens: number, ms: number) => tokens / (ms / 1e3);
      rows.push({
        name: `prefill, batch ${batch}`,
        unit: 'tokens/s',
        baselineName: `PyTorch ${'python' in torch ? 'CPU' : '(none)'}, ${THREADS} cores`,
        baseline: ok ? tokS(batch * ids.length, base.prefillMs) : null,
        ours: tokS(batch * ids.length, ours.prefillMs),
        higherIsBetter: true,
        note,
      });
      rows.push({
        name: `decode, batch ${batch}`,
        unit: 'tokens/s',
        baselineName: `PyTorch ${'python' in torch ? 'CPU' : '(none)'}, ${THREADS} cores`,
        baseline: ok ? tokS(batch * (NEW_TOKENS - 1), base.decodeMs) : null,
        ours: tokS(batch * (NEW_TOKENS - 1), ours.decodeMs),
        higherIsBetter: true,
      });
    }
    rows.push({
      name: 'weights',
      unit: 'MiB',
      baselineName: '-',
      baseline: null,
      ours: model.memory().weightBytes / 2 ** 20,
      higherIsBetter: false,
    });
    return rows;
  } finally {
    native().setThreads(0);
    rmSync(dir, { recursive: true, force: true });
  }
}
