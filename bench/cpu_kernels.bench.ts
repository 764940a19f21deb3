// CPU kernels against PyTorch on the CPU, same thread count, one run: SGEMM as nn.Linear at the
// small model's shapes (hidden 512, MLP 1408, vocab 32000, 576 image tokens; prefill and decode)
// and attention (CLIP vision, causal prefill, decode with a KV cache).
// Ours is timed inside the addon (`repeats`), so the ~30 us Promise round trip of one JS call is
// not charged to a kernel the model calls natively; PyTorch is timed per Python call. Both sides
// report the fastest of their samples and the suite runs ROUNDS times alternating the two, keeping
// each side's best: on a shared machine other load only slows a sample down. Calls from JS land on
// any of libuv's threads, each with its own OpenMP team; that costs ours ~10% on prefill GEMMs
// here (measured with UV_THREADPOOL_SIZE=1) and does not affect the model's coarse calls.
// Legend: M rows (tokens), N output features, K inner dim; T queries, S keys, H heads, hd head dim.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { native } from '../lib/native/index.ts';
import { makeRng } from '../test/helpers/rng.ts';
import type { BenchRow } from './harness.ts';
import { lab } from '../test/helpers/lab.ts';

export const title = 'CPU kernels: SGEMM and attention vs PyTorch (same threads)';

const THREADS = 2;
const REPEATS = 7;
const ROUNDS = 3;

interface GemmCase { M: number; N: number; K: number; what: string }
interface AttentionCase { T: number; S: number; Hq: number; Hkv: number; hd: number; causal: boolean; what: string }

const gemmCases: GemmCase[] = [
  { M: 600, N: 512, K: 512, what: 'prefill q/k/v/o' },
  { M: 600, N: 1408, K: 512, what: 'prefill gate/up' },
  { M: 600, N: 512, K: 1408, what: 'prefill down' },
  { M: 576, N: 1024, K: 1024, what: 'CLIP tower' },
  { M: 1, N: 1536, K: 512, what: 'decode fused qkv' },
  { M: 8, N: 1408, K: 512, what: 'decode x8 gate' },
  { M: 1, N: 32000, K: 512, what: 'decode lm head' },
  { M: 8, N: 32000, K: 512, what: 'decode x8 lm head' },
];
if (process.env.STIC_BENCH_LARGE === '1') gemmCases.push({ M: 576, N: 4096, K: 4096, what: '7B projector-size' });

const attentionCases: AttentionCase[] = [
  { T: 577, S: 577, Hq: 16, Hkv: 16, hd: 64, causal: false, what: 'CLIP vision, bidirectional' },
  { T: 600, S: 600, Hq: 8, Hkv: 8, hd: 64, causal: true, what: 'decoder prefill, causal' },
  { T: 600, S: 600, Hq: 8, Hkv: 2, hd: 64, causal: true, what: 'prefill, grouped-query 4:1' },
  { T: 1, S: 700, Hq: 8, Hkv: 8, hd: 64, causal: true, what: 'decode step, 700 cached keys' },
];

interface TorchResult { torch: string; blas: string; threads: number; gemm: number[]; attention: number[] }

// The interpreter that has torch: STIC_PYTHON, else the system python3 (Debian's python3-torch), else PATH.
function findPython(): string {
  if (process.env.STIC_PYTHON) return process.env.STIC_PYTHON;
  return existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
}

function runTorch(): { result: TorchResult | null; why: string } {
  const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'torch_kernels.py');
  const spec = {
    threads: THREADS,
    repeats: REPEATS,
    gemm: gemmCases.map((c) => [c.M, c.N, c.K]),
    attention: attentionCases.map((c) => [c.T, c.S, c.Hq, c.Hkv, c.hd, c.causal]),
  };
  const python = findPython();
  const r = spawnSync(python, [script], { input: JSON.stringify(spec), encoding: 'utf8', timeout: 120_000 });
  if (r.error) return { result: null, why: `could not run ${python}: ${r.error.message}` };
  if (r.status !== 0) return { result: null, why: `${python} ${script} failed: ${(r.stderr || '').trim().split('\n').at(-1)}` };
  return { result: JSON.parse(r.stdout) as TorchResult, why: '' };
}

// Fastest ms of one kernel call over REPEATS samples, each running `inner` calls inside the addon.
async function kernelMs(call: (repeats: number) => Promise<void>, estimateMs: number): Promise<number> {
  // ~20 ms and at least 3 calls per sample: back to back, like PyTorch's timed calls, so the weights
  // are as warm in cache for us as for the baseline.
  const inner = Math.max(3, Math.min(400, Math.round(20 / Math.max(estimateMs, 1e-3))));
  await call(inner);
  const samples: number[] = [];
  for (let i = 0; i < REPEATS; i++) {
    const t0 = process.hrtime.bigint();
    await call(inner);
    samples.push(Number(process.hrtime.bigint() - t0) / 1e6 / inner);
  }
  return Math.min(...samples);
}

async function gemmMs(c: GemmCase): Promise<number> {
  const rng = makeRng(c.M * 7 + c.N);
  const inp = rng.normalArray(c.M * c.K), weight = rng.normalArray(c.N * c.K, 0.05), out = new Float32Array(c.M * c.N);
  const probeT0 = process.hrtime.bigint();
  await lab().kernels.linear({ out, inp, weight, T: c.M, K: c.K, N: c.N });
  const probe = Number(process.hrtime.bigint() - probeT0) / 1e6;
  return kernelMs((repeats) => lab().kernels.linear({ out, inp, weight, T: c.M, K: c.K, N: c.N, repeats }), probe);
}

async function attentionMs(c: AttentionCase): Promise<number> {
  const rng = makeRng(c.T * 3 + c.S);
  const q = rng.normalArray(c.T * c.Hq * c.hd), k = rng.normalArray(c.S * c.Hkv * c.hd), v = rng.normalArray(c.S * c.Hkv * c.hd);
  const out = new Float32Array(c.T * c.Hq * c.hd);
  const args = { out, q, k, v, T: c.T, S: c.S, Hq: c.Hq, Hkv: c.Hkv, hd: c.hd, causal: c.causal, qOffset: c.causal ? c.S - c.T : 0 };
  const probeT0 = process.hrtime.bigint();
  await lab().kernels.attention(args);
  const probe = Number(process.hrtime.bigint() - probeT0) / 1e6;
  return kernelMs((repeats) => lab().kernels.attention({ ...args, repeats }), probe);
}

// One round: PyTorch for every case, then ours for every case (ms per call).
async function measureRound(): Promise<{ torch: ReturnType<typeof runTorch>; gemm: number[]; gemmFallback: number[]; attention: number[] }> {
  const k = lab().kernels;
  const torch = runTorch();
  const gemm: number[] = [];
  for (const c of gemmCases) gemm.push(await gemmMs(c));
  // The AVX2 tiles, for CPUs without AVX-512 (the baseline still uses its best kernels).
  const gemmFallback: number[] = [];
  if (k.gemmKernels() !== 'avx2' && k.gemmKernelsSupported().includes('avx2')) {
    k.gemmKernels('avx2');
    for (const i of FALLBACK_CASES) gemmFallback.push(await gemmMs(gemmCases[i]));
    k.gemmKernels('');
  }
  const attention: number[] = [];
  for (const c of attentionCases) attention.push(await attentionMs(c));
  return { torch, gemm, gemmFallback, attention };
}

const FALLBACK_CASES = [1, 3];
const bestOf = (xs: number[][]): number[] => xs[0].map((_, i) => Math.min(...xs.map((x) => x[i])));

export async function run(): Promise<BenchRow[]> {
  const n = native();
  const threadsBefore = n.setThreads(THREADS);
  const loadBefore = loadavg()[0];
  const rounds = [];
  for (let r = 0; r < ROUNDS; r++) rounds.push(await measureRound());
  n.setThreads(threadsBefore === THREADS ? 0 : threadsBefore);
  const torchRuns = rounds.map((r) => r.torch.result).filter((x): x is TorchResult => x !== null);
  const torch = torchRuns.length ? { ...torchRuns[0], gemm: bestOf(torchRuns.map((t) => t.gemm)), attention: bestOf(torchRuns.map((t) => t.attention)) } : null;
  const base = torch ? `PyTorch ${torch.torch} (${torch.blas.split(', ').at(-1)})` : 'PyTorch (unavailable)';
  const note = torch ? undefined : rounds[0].torch.why;
  const gemm = bestOf(rounds.map((r) => r.gemm));
  const fallback = rounds[0].gemmFallback.length ? bestOf(rounds.map((r) => r.gemmFallback)) : [];
  const attention = bestOf(rounds.map((r) => r.attention));
  const tiles = lab().kernels.gemmKernels();
  const gflops = (c: GemmCase, ms: number) => (2 * c.M * c.N * c.K) / (ms * 1e6);
  const rows: BenchRow[] = [];
  // Other processes on the same cores slow both sides; say how busy the machine was.
  const load = `1-min load average ${loadBefore.toFixed(2)} before, ${loadavg()[0].toFixed(2)} after, on ${THREADS} threads; best of ${ROUNDS} x ${REPEATS}`;
  const gemmRow = (c: GemmCase, i: number, ms: number, t: string): BenchRow => ({
    name: `linear ${c.M}x${c.N}x${c.K} ${c.what} [${t}]`, unit: 'GFLOP/s', baselineName: base,
    baseline: torch ? gflops(c, torch.gemm[i]) : null, ours: gflops(c, ms), higherIsBetter: true, note,
  });
  gemmCases.forEach((c, i) => rows.push(gemmRow(c, i, gemm[i], tiles)));
  rows[0].note = rows[0].note ? `${rows[0].note}; ${load}` : load;
  fallback.forEach((ms, j) => rows.push(gemmRow(gemmCases[FALLBACK_CASES[j]], FALLBACK_CASES[j], ms, 'avx2')));
  attentionCases.forEach((c, i) => rows.push({
    name: `attention T=${c.T} S=${c.S} Hq=${c.Hq} Hkv=${c.Hkv} hd=${c.hd} (${c.what})`, unit: 'ms', baselineName: base,
    baseline: torch ? torch.attention[i] : null, ours: attention[i], higherIsBetter: false, note,
  }));
  return rows;
}
