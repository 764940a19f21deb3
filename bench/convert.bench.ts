// Checkpoint dtype conversion (bf16 -> f32), the first step of loading any bf16 checkpoint on the
// CPU backend. Baseline: the same bit-shift in plain TypeScript over typed arrays.
import { native } from '../lib/native/index.ts';
import { type BenchRow, medianMs } from './harness.ts';

export const title = 'Checkpoint dtype conversion (CPU)';

export async function run(): Promise<BenchRow[]> {
  const n = 16 * 1024 * 1024; // 16M elements = a 4096x4096 weight matrix
  const src = new Uint16Array(n);
  for (let i = 0; i < n; i++) src[i] = (0x3f80 + (i % 255)) & 0xffff;
  const dst = new Float32Array(n);
  const dstBits = new Uint32Array(dst.buffer);
  const tsMs = await medianMs(() => {
    for (let i = 0; i < n; i++) dstBits[i] = src[i] << 16;
  }, 5);
  const ours = await medianMs(() => native().convertDType(src, 'BF16', dst, 'F32'), 5);
  const gb = (n * 6) / 1e9;
  return [
    { name: 'bf16->f32 16M elements', unit: 'GB/s', baselineName: 'TypeScript loop', baseline: gb / (tsMs / 1e3), ours: gb / (ours / 1e3), higherIsBetter: true },
  ];
}
