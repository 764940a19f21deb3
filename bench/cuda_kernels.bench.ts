// CUDA kernels against PyTorch on the same GPU, one run (issue 7's "Speed and memory" rows that a
// kernel can answer alone): cuBLASLt GEMM, RMSNorm, SwiGLU, flash-style attention forward and
// backward at Llama-7B prefill shapes, the fused DPO head (2 x 1000 tokens, hidden 4096, vocab
// 32064: time and peak memory), sampling, and the stic corruption mix on 256 images of 336 px.
// Both sides are timed on the device with CUDA events around back-to-back calls after a warm-up
// (ours inside the addon via `repeats`, so host copies of the test binding are not charged).
// Without a usable GPU the suite prints why and returns no rows.
// Legend: M, N, K matrix sizes; T tokens, C channels, H heads, hd head dim, D hidden, V vocab, B items.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { corruptionSpec } from '../lib/data/corrupt.ts';
import { native } from '../lib/native/index.ts';
import type { RgbImage } from '../lib/native/index.ts';
import { makeRng } from '../test/helpers/rng.ts';
import type { BenchRow } from './harness.ts';
import { lab, type CudaKernels } from '../test/helpers/lab.ts';

export const title = 'CUDA kernels vs PyTorch on the same GPU (bf16)';

const REPEATS = 20;
const rng = makeRng(7);
const baselineName = 'PyTorch (same GPU)';

interface TorchOut { torch: string; device: string; results: { ms: number | null; peakBytes?: number; error?: string }[] }

function runTorch(cases: object[]): { out: TorchOut | null; why: string } {
  const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'torch_cuda_kernels.py');
  const python = process.env.STIC_PYTHON ?? 'python3';
  const r = spawnSync(python, [script], { input: JSON.stringify({ repeats: REPEATS, cases }), encoding: 'utf8', timeout: 240_000 });
  if (r.error) return { out: null, why: `could not run ${python}: ${r.error.message}` };
  if (r.status !== 0) return { out: null, why: `${python} ${script} failed: ${(r.stderr || '').trim().split('\n').at(-1)}` };
  return { out: JSON.parse(r.stdout) as TorchOut, why: '' };
}

const bf16 = { dtype: 'BF16' as const, repeats: REPEATS };
// Uniform values in [-scale, scale) from a xorshift32 stream: the inputs reach 131M elements (the
// head's W), where Box-Muller per element would cost seconds of the GPU session.
let state = 0x9e3779b9;
function f32(n: number, scale = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    state ^= state << 13, state ^= state >>> 17, state ^= state << 5;
    a[i] = ((state >>> 0) / 4294967296 * 2 - 1) * scale;
  }
  return a;
}

// Each case: the torch spec, how to run ours (device ms and optional bytes), and how to report it.
interface Case {
  name: string;
  torch: object;
  ours: (cuda: CudaKernels) => Promise<{ ms: number; bytes?: number }>;
  unit: 'ms' | 'GB peak' | 'images/s';
  perMs?: number;  // for throughput units: items per call
}

function cases(): Case[] {
  const attn = { T: 1000, S: 1000, Hq: 32, Hkv: 32, hd: 128, causal: true };
  const head = { T: 2000, D: 4096, V: 32064 };
  const out: Case[] = [
    ...[[2000, 4096, 4096], [2000, 11008, 4096]].map(([M, N, K]) => ({
      name: `GEMM ${M}x${N}x${K} (cuBLASLt)`, unit: 'ms' as const, torch: { op: 'gemm', M, N, K },
      ours: (c: CudaKernels) => c.gemm({ M, N, K, A: f32(M * K), B: f32(K * N), C: new Float32Array(M * N), ...bf16 }),
    })),
    {
      name: 'RMSNorm 2048x4096', unit: 'ms', torch: { op: 'rmsnorm', T: 2048, C: 4096 },
      ours: (c) => c.rmsnorm({ out: new Float32Array(2048 * 4096), inp: f32(2048 * 4096), weight: f32(4096), T: 2048, C: 4096, eps: 1e-6, ...bf16 }),
    },
    {
      name: 'SwiGLU 2048x11008', unit: 'ms', torch: { op: 'swiglu', n: 2048 * 11008 },
      ours: (c) => { const n = 2048 * 11008; return c.swiglu({ out: new Float32Array(n), gate: f32(n), up: f32(n), n, ...bf16 }); },
    },
    {
      name: 'attention fwd, T=1000 H=32 hd=128 causal', unit: 'ms', torch: { op: 'attention', ...attn },
      ours: (c) => { const n = attn.T * attn.Hq * attn.hd; return c.attention({ out: new Float32Array(n), q: f32(n), k: f32(n), v: f32(n), ...attn, ...bf16 }); },
    },
    {
      name: 'attention fwd+bwd, same shape', unit: 'ms', torch: { op: 'attention', ...attn, backward: true },
      ours: async (c) => {
        const n = attn.T * attn.Hq * attn.hd;
        const q = f32(n), k = f32(n), v = f32(n), out = new Float32Array(n), lse = new Float32Array(attn.Hq * attn.T);
        const fwd = await c.attentionForwardLse({ out, lse, q, k, v, ...attn, ...bf16 });
        const bwd = await c.attentionBackward({ dq: new Float32Array(n), dk: new Float32Array(n), dv: new Float32Array(n), dout: f32(n), q, k, v, out, lse, ...attn, ...bf16 });
        return { ms: fwd.ms + bwd.ms };
      },
    },
  ];
  // The fused head: forward with the saved Jacobian, then the backward from it (2 GEMMs in all).
  let headBytes = 0;
  const headRun = async (c: CudaKernels) => {
    const { T, D, V } = head;
    const h = f32(T * D), W = f32(V * D, 0.02), jac = new Float32Array(T * D);
    const targets = BigInt64Array.from({ length: T }, () => BigInt(rng.int(0, V)));
    const fwd = await c.fusedHeadForward({ logp: new Float32Array(T), gathered: new BigInt64Array(T), lse: new Float32Array(T), jac, h, W, targets, ...head, ...bf16 });
    const bwd = await c.fusedHeadBackwardSaved({ dh: new Float32Array(T * D), dlogp: f32(T), jac, T, D, ...bf16 });
    headBytes = fwd.workspaceBytes + T * D * 2;  // workspace + the bf16 Jacobian kept for the backward
    return { ms: fwd.ms + bwd.ms, bytes: headBytes };
  };
  out.push({ name: 'fused DPO head fwd+bwd, 2x1000 tok, V=32064', unit: 'ms', torch: { op: 'head', ...head }, ours: headRun });
  out.push({
    name: 'fused DPO head peak memory above inputs', unit: 'GB peak', torch: { op: 'head', ...head },
    ours: async () => ({ ms: 0, bytes: headBytes }),
  });
  const sampling = { B: 64, V: 32064, temperature: 0.7, topK: 50, topP: 0.9 };
  out.push({
    name: 'sampling B=64 V=32064 (T, top-k 50, top-p 0.9)', unit: 'ms', torch: { op: 'sample', ...sampling },
    ours: (c) => c.sampleTokens({
      logits: f32(sampling.B * sampling.V, 3), B: sampling.B, V: sampling.V, tokens: new Int32Array(sampling.B),
      items: Array.from({ length: sampling.B }, (_, i) => ({ temperature: 0.7, topK: 50, topP: 0.9, seed: i, step: 0 })), ...bf16,
    }),
  });
  out.push({
    name: 'stic corruption (jitter / lowres 20 px), 256 x 336 px', unit: 'images/s', perMs: 256,
    torch: { op: 'corrupt', images: 256, side: 336, lowres: 20 },
    ours: async (c) => {
      const images: RgbImage[] = Array.from({ length: 256 }, () => ({
        data: Uint8Array.from(f32(336 * 336 * 3), (x) => Math.floor((x + 1) * 128)), width: 336, height: 336,
      }));
      const seeds = images.map((_, i) => 1000 + i);
      const drawn = await native().corruptImages(images, seeds, corruptionSpec('stic'));  // CPU: parameters (and pixels, unused)
      const r = await c.corruptImagesWithParams(images, seeds, drawn.map((d) => d.params), { repeats: 5 });
      return { ms: r.ms };
    },
  });
  return out;
}

export async function run(): Promise<BenchRow[]> {
  const cuda = lab().cuda;
  let device = '';
  try {
    if (!cuda) throw new Error('the addon was built without the CUDA backend');
    device = cuda.deviceInfo().name;
  } catch (err) {
    process.stderr.write(`cuda_kernels: no usable GPU (${(err as Error).message}); no rows\n`);
    return [];
  }
  const all = cases();
  const torch = runTorch(all.map((c) => c.torch));
  if (!torch.out) process.stderr.write(`cuda_kernels: no PyTorch baseline: ${torch.why}\n`);
  const rows: BenchRow[] = [];
  for (let i = 0; i < all.length; i++) {
    const c = all[i];
    const ours = await c.ours(cuda);
    const base = torch.out?.results[i];
    const note = base?.error ?? (i === 0 ? `${device}; ${torch.out ? `torch ${torch.out.torch}` : torch.why}` : undefined);
    if (c.unit === 'GB peak') {
      rows.push({ name: c.name, unit: 'GB', baselineName, baseline: base?.peakBytes !== undefined ? base.peakBytes / 1e9 : null,
        ours: (ours.bytes ?? 0) / 1e9, higherIsBetter: false, note });
    } else if (c.unit === 'images/s') {
      const per = c.perMs ?? 1;
      rows.push({ name: c.name, unit: c.unit, baselineName, baseline: base?.ms ? (per / base.ms) * 1e3 : null,
        ours: (per / ours.ms) * 1e3, higherIsBetter: true, note });
    } else {
      rows.push({ name: c.name, unit: c.unit, baselineName, baseline: base?.ms ?? null, ours: ours.ms, higherIsBetter: false, note });
    }
  }
  return rows;
}
