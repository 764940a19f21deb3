// LLaVA-1.5-7B on this machine's CPU with its weights as stored (bf16): the architecture of
// llava-hf/llava-1.5-7b-hf (CLIP ViT-L/14-336, 32-layer 4096-wide Llama, vocab 32064) with random
// weights, written once by the bench into a temporary folder (~14 GB, removed afterwards; or
// STIC_BENCH_7B_DIR to keep and reuse one). One 600-token prompt with an image is scored (prefill to
// the first token) and 32 tokens are generated greedily, in a child process whose peak RSS is the
// engine's. Baselines, same run: the decode roofline (decoder weight bytes read per token / this
// machine's measured read bandwidth, bench/membw.c) and PyTorch CPU bf16 (bench/torch_llava.py on
// the same file, memory-mapped, same threads).
// Only on request (`npm run bench -- llava7b`): it writes 14 GB and takes several minutes.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { loadModelConfig } from '../lib/model/config.ts';
import type { BenchRow } from './harness.ts';
import { llavaPrompt, randomPixels } from './llava_inputs.ts';
import { llava7bModel, weightTotals } from './llava7b_model.ts';
import { findTorchPython } from './torch_python.ts';

export const title = 'LLaVA-1.5-7B on the CPU: bf16 weights as stored (random weights, 600-token prompt with an image, 32 new tokens)';
export const explicitOnly = true;

const THREADS = 2;
const PROMPT_TOKENS = 600;
const NEW_TOKENS = 32;
const here = path.dirname(fileURLToPath(import.meta.url));

interface OursResult {
  loadMs: number;
  prefillMs: number;
  decodeMs: number;
  promptTokens: number;
  tokens: number[];
  maxRssBytes: number;
  weightBytes: number;
  mappedWeightBytes: number;
  kvCacheBytes: number;
}

const GB = 1e9;
const log = (text: string) => process.stderr.write(`llava7b: ${text}\n`);

/** Median read bandwidth (GB/s) of THREADS threads over 2 GiB, from bench/membw.c compiled here. */
function readBandwidth(dir: string): { gbs: number; min: number; max: number } {
  const exe = path.join(dir, 'membw');
  const cc = spawnSync('cc', ['-O3', '-march=native', '-fopenmp', '-o', exe, path.join(here, 'membw.c')], { encoding: 'utf8' });
  if (cc.status !== 0) throw new Error(`compiling bench/membw.c failed: ${cc.stderr || cc.error?.message}`);
  const r = spawnSync(exe, [String(2 ** 31), String(THREADS), '9'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`membw failed (exit ${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout) as { gbs: number; min: number; max: number };
}

function runOurs(model: string): OursResult {
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(here, 'llava7b_ours.ts'), model, String(THREADS), String(PROMPT_TOKENS), String(NEW_TOKENS)], { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`llava7b_ours.ts failed (exit ${r.status}): ${r.stderr.trim().split('\n').slice(-5).join(' | ')}`);
  return JSON.parse(r.stdout) as OursResult;
}

function runTorch(python: string, model: string, dir: string, ids: number[], pixels: Float32Array): { prefillMs: number; decodeMs: number; tokens: number[]; maxRssBytes: number } | { error: string } {
  const inputs = path.join(dir, 'inputs.json');
  const pix = path.join(dir, 'pixels.f32');
  writeFileSync(inputs, JSON.stringify({ ids: [ids], new_tokens: NEW_TOKENS }));
  writeFileSync(pix, Buffer.from(pixels.buffer, pixels.byteOffset, pixels.byteLength));
  const env = { ...process.env, OMP_NUM_THREADS: String(THREADS), OPENBLAS_NUM_THREADS: '1' };
  const r = spawnSync(python, [path.join(here, 'torch_llava.py'), model, inputs, pix, String(THREADS), '1', '0'], { encoding: 'utf8', maxBuffer: 1 << 24, env });
  if (r.status !== 0) return { error: `torch_llava.py failed (exit ${r.status}): ${r.stderr.trim().split('\n').slice(-3).join(' | ')}` };
  const out = JSON.parse(r.stdout) as { prefill_ms: number[]; decode_ms: number[]; tokens: number[][]; max_rss_bytes: number };
  return { prefillMs: out.prefill_ms[0], decodeMs: out.decode_ms[0], tokens: out.tokens[0], maxRssBytes: out.max_rss_bytes };
}

export async function run(): Promise<BenchRow[]> {
  const work = mkdtempSync(path.join(tmpdir(), 'stic-bench-7b-'));
  try {
    const bw = readBandwidth(work);
    log(`read bandwidth ${bw.gbs.toFixed(1)} GB/s (median of 9; ${bw.min.toFixed(1)}-${bw.max.toFixed(1)}), ${THREADS} threads`);
    const model = await llava7bModel(work, log);
    const config = loadModelConfig(model);
    const ids = llavaPrompt(config.imageTokenId, config.imageTokenCount, PROMPT_TOKENS);
    const pixels = randomPixels(3 * 336 * 336, 7);
    const perToken = (await weightTotals(model)).decoderBytes;
    const ours = runOurs(model);
    log(`stic: load ${(ours.loadMs / 1e3).toFixed(1)} s, prefill ${(ours.prefillMs / 1e3).toFixed(1)} s, decode ${(ours.decodeMs / 1e3).toFixed(1)} s, peak RSS ${(ours.maxRssBytes / GB).toFixed(2)} GB`);
    const torch = findTorchPython();
    const base = 'python' in torch ? runTorch(torch.python, model, work, ids, pixels) : torch;
    const ok = 'prefillMs' in base;
    if (ok) log(`PyTorch: prefill ${(base.prefillMs / 1e3).toFixed(1)} s, decode ${(base.decodeMs / 1e3).toFixed(1)} s, peak RSS ${(base.maxRssBytes / GB).toFixed(2)} GB`);
    const torchName = `PyTorch ${'python' in torch ? 'CPU bf16' : '(none)'}, ${THREADS} threads`;
    const decodeTokS = (ms: number) => (NEW_TOKENS - 1) / (ms / 1e3);
    const roofline = (bw.gbs * GB) / perToken;
    const pct = (100 * decodeTokS(ours.decodeMs)) / roofline;
    return [
      { name: 'load (mapped)', unit: 's', baselineName: '-', baseline: null, ours: ours.loadMs / 1e3, higherIsBetter: false, note: `${(ours.weightBytes / GB).toFixed(2)} GB of weights, ${(ours.mappedWeightBytes / GB).toFixed(2)} GB of them mapped from the file` },
      { name: `prefill (${ours.promptTokens} tokens, 576 image)`, unit: 'tokens/s', baselineName: torchName, baseline: ok ? ours.promptTokens / (base.prefillMs / 1e3) : null, ours: ours.promptTokens / (ours.prefillMs / 1e3), higherIsBetter: true, note: ok ? undefined : base.error },
      { name: 'decode', unit: 'tokens/s', baselineName: torchName, baseline: ok ? decodeTokS(base.decodeMs) : null, ours: decodeTokS(ours.decodeMs), higherIsBetter: true },
      { name: 'decode vs roofline', unit: 'tokens/s', baselineName: 'bandwidth roofline', baseline: roofline, ours: decodeTokS(ours.decodeMs), higherIsBetter: true, note: `${pct.toFixed(0)}% of the roofline: ${(perToken / GB).toFixed(2)} GB read per token / ${bw.gbs.toFixed(1)} GB/s measured (bench/membw.c, ${THREADS} threads, median of 9)` },
      { name: 'peak RSS', unit: 'GB', baselineName: torchName, baseline: ok ? base.maxRssBytes / GB : null, ours: ours.maxRssBytes / GB, higherIsBetter: false, note: `KV cache ${(ours.kvCacheBytes / GB).toFixed(2)} GB; greedy tokens ${ok ? (JSON.stringify(base.tokens) === JSON.stringify(ours.tokens) ? 'identical to PyTorch\'s' : 'differ from PyTorch\'s (bf16 activations there, fp32 here)') : 'not compared'}` },
    ];
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
