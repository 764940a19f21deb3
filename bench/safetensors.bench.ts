// Checkpoint load throughput: a generated ~256 MB checkpoint (64 tensors, 1M elements each) read
// into F32 tensors. Ours: the TS header parse + native mmap copy/convert (readTensorsData), the path
// the model loader takes. Baseline: fs.readFileSync of the whole file + a JS copy (or bf16 bit-shift)
// into one Float32Array per tensor. Both read from the page cache (the file was just written), so
// this measures the copy path, not the disk. GB/s counts the F32 bytes produced.
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { type TensorToWrite, openSafetensors, readTensors, writeSafetensors } from '../lib/model/safetensors.ts';
import { type BenchRow, medianMs } from './harness.ts';

export const title = 'safetensors checkpoint load (CPU, page cache)';

const TENSORS = 64;
const ELEMS = 1 << 20; // per tensor: 64 x 1M x 4 B = 256 MiB of F32

function makeTensors(dtype: 'F32' | 'BF16'): TensorToWrite[] {
  return Array.from({ length: TENSORS }, (_, t) => {
    const data = dtype === 'F32' ? new Float32Array(ELEMS) : new Uint16Array(ELEMS);
    // Varied, non-zero contents (a cheap LCG); the values do not affect copy speed.
    let s = 12345 + t;
    if (data instanceof Float32Array) for (let i = 0; i < ELEMS; i++) data[i] = ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32) - 0.5;
    else for (let i = 0; i < ELEMS; i++) data[i] = 0x3c00 + ((s = (s * 1103515245 + 12345) >>> 0) >>> 24);
    return { name: `layers.${t}.weight`, dtype, shape: [1024, ELEMS / 1024], data };
  });
}

// The baseline: whole file into the JS heap, then per-tensor copies out of it.
function baselineLoad(file: string): Float32Array[] {
  const buf = readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, { dtype: string; data_offsets: [number, number] }>;
  const out: Float32Array[] = [];
  for (const [name, e] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const begin = 8 + n + e.data_offsets[0];
    const bytes = e.data_offsets[1] - e.data_offsets[0];
    if (e.dtype === 'F32') {
      out.push(new Float32Array(buf.buffer.slice(buf.byteOffset + begin, buf.byteOffset + begin + bytes)));
    } else {
      const src = new Uint16Array(buf.buffer.slice(buf.byteOffset + begin, buf.byteOffset + begin + bytes));
      const dst = new Float32Array(src.length);
      const bits = new Uint32Array(dst.buffer);
      for (let i = 0; i < src.length; i++) bits[i] = src[i] << 16;
      out.push(dst);
    }
  }
  return out;
}

async function oursLoad(file: string): Promise<unknown[]> {
  const st = await openSafetensors(file);
  return readTensors([...st.tensors.values()], { as: 'F32' });
}

export async function run(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const gb = (TENSORS * ELEMS * 4) / 1e9;
  for (const dtype of ['F32', 'BF16'] as const) {
    const file = path.join(tmpdir(), `stic-bench-${process.pid}-${dtype}.safetensors`);
    try {
      await writeSafetensors(file, makeTensors(dtype));
      const baseMs = await medianMs(() => baselineLoad(file), 3);
      const oursMs = await medianMs(() => oursLoad(file), 3);
      rows.push({
        name: `${dtype} on disk -> F32, ${TENSORS} x ${ELEMS / (1 << 20)}M`,
        unit: 'GB/s',
        baselineName: dtype === 'F32' ? 'readFileSync + copy' : 'readFileSync + JS bf16 shift',
        baseline: gb / (baseMs / 1e3),
        ours: gb / (oursMs / 1e3),
        higherIsBetter: true,
      });
    } finally {
      rmSync(file, { force: true });
    }
  }
  return rows;
}
