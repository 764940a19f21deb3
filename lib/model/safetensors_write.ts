// Writing one .safetensors file: the header padded with spaces so the data section starts 8-byte
// aligned (as the reference implementation does, so readers may map tensors in place), tensors laid
// out contiguously in the given order, written atomically: a temp file in the same directory,
// fsync'ed, then renamed over the target, so a kill mid-write never leaves a half file behind.
// A tensor's data may be given as a function called only when its turn to be written comes, so a
// file larger than memory (a 7B checkpoint written by a benchmark) is produced a tensor at a time.
import { open, rename, unlink } from 'node:fs/promises';
import path from 'node:path';

import { type DTypeName, SUPPORTED_DTYPES, dtypeSize, isDTypeName, shapeNumel, shapeString } from './dtype.ts';
import { removeAbandonedTemps, tempNameFor } from '../util/atomic_write.ts';
import { namingWriteErrors } from '../util/write_error.ts';
import { SafetensorsError } from './safetensors_header.ts';

/**
 * One tensor to write. `data` holds its elements in native (little-endian) byte order (BF16/F16 as
 * raw bits), or is a function that returns them when the tensor is written (its size is checked then).
 */
export interface TensorToWrite {
  name: string;
  dtype: DTypeName;
  shape: number[];
  data: ArrayBufferView | (() => ArrayBufferView | Promise<ArrayBufferView>);
}

/** Writes `tensors` (in this order) and optional string metadata to `file`, replacing it atomically. */
export async function writeSafetensors(file: string, tensors: TensorToWrite[], metadata?: Record<string, string>): Promise<void> {
  const header = buildHeader(file, tensors, metadata);
  await namingWriteErrors(file, () => writeAtomically(file, header, tensors), 'the file is unchanged');
}

async function writeAtomically(file: string, header: Buffer, tensors: TensorToWrite[]): Promise<void> {
  await removeAbandonedTemps(file);
  const tmp = tempNameFor(file);
  const fh = await open(tmp, 'wx');
  try {
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(header.length));
    await fh.write(len);
    await fh.write(header);
    for (const t of tensors) {
      const data = typeof t.data === 'function' ? checkedBytes(file, t, await t.data()) : t.data;
      await fh.write(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    }
    await fh.sync();
    await fh.close();
    await rename(tmp, file);
  } catch (err) {
    await fh.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await syncDir(path.dirname(file));
}

// The header bytes, validated and padded to a multiple of 8.
function buildHeader(file: string, tensors: TensorToWrite[], metadata: Record<string, string> | undefined): Buffer {
  const json: Record<string, unknown> = {};
  if (metadata !== undefined) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new SafetensorsError(file, `metadata["${k}"] must be a string but is ${typeof v}`);
    }
    json.__metadata__ = metadata;
  }
  let offset = 0;
  const names = new Set<string>();
  for (const t of tensors) {
    validateTensor(file, t, names);
    const nbytes = shapeNumel(t.shape) * dtypeSize(t.dtype);
    json[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + nbytes] };
    offset += nbytes;
  }
  const text = Buffer.from(JSON.stringify(json), 'utf8');
  const padded = Math.ceil(text.length / 8) * 8;
  const out = Buffer.alloc(padded, 0x20);
  text.copy(out);
  return out;
}

function validateTensor(file: string, t: TensorToWrite, names: Set<string>): void {
  if (typeof t.name !== 'string' || t.name.length === 0 || t.name === '__metadata__') {
    throw new SafetensorsError(file, `expected a non-empty tensor name other than "__metadata__" but received ${JSON.stringify(t.name)}`);
  }
  const where = `tensor "${t.name}"`;
  if (names.has(t.name)) throw new SafetensorsError(file, `duplicate tensor name "${t.name}" in the tensors to write`);
  names.add(t.name);
  if (!isDTypeName(t.dtype)) {
    throw new SafetensorsError(file, `${where}: unsupported dtype ${JSON.stringify(t.dtype)} (supported: ${SUPPORTED_DTYPES.join(', ')})`);
  }
  if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new SafetensorsError(file, `${where}: expected shape to be an array of non-negative integers but found ${JSON.stringify(t.shape)}`);
  }
  if (typeof t.data !== 'function') checkedBytes(file, t, t.data);
}

// The data of `t` when it is a view of exactly the bytes its shape and dtype need.
function checkedBytes(file: string, t: TensorToWrite, data: unknown): ArrayBufferView {
  const where = `tensor "${t.name}"`;
  if (!ArrayBuffer.isView(data)) throw new SafetensorsError(file, `${where}: expected data to be a typed array or DataView`);
  const need = shapeNumel(t.shape) * dtypeSize(t.dtype);
  if (data.byteLength !== need) {
    throw new SafetensorsError(file, `${where}: data has ${data.byteLength} bytes but shape ${shapeString(t.shape)} of ${t.dtype} needs ${need}`);
  }
  return data;
}

// Makes the rename itself durable (the directory entry), not only the file's bytes.
async function syncDir(dir: string): Promise<void> {
  const dh = await open(dir, 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}
