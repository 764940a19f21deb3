// safetensors checkpoints: the public entry point. Headers are parsed and validated in TypeScript
// (safetensors_header.ts, safetensors_checkpoint.ts); tensor bytes are read by native code
// (native/io/safetensors_read.cpp), which maps each file and copies straight into native tensors.
// readTensor/readTensors return those tensors as typed arrays for tests, tools and small tensors;
// the model loader hands TensorEntry offsets to stic::io::readTensors without touching JS memory.
import { native } from '../native/index.ts';
import { type DTypeName, type TypedArrayOf, typedArrayView } from './dtype.ts';
import type { TensorEntry } from './safetensors_header.ts';

export { MAX_HEADER_BYTES, SafetensorsError, openSafetensors, parseHeader } from './safetensors_header.ts';
export type { SafetensorsFile, TensorEntry } from './safetensors_header.ts';
export { INDEX_FILE, SINGLE_FILE, openCheckpoint } from './safetensors_checkpoint.ts';
export type { Checkpoint } from './safetensors_checkpoint.ts';
export { writeSafetensors } from './safetensors_write.ts';
export type { TensorToWrite } from './safetensors_write.ts';

export interface ReadOptions<D extends DTypeName> {
  /** Convert on read (float dtypes only), e.g. BF16 on disk -> F32. Default: the dtype on disk. */
  as?: D;
}

/**
 * One tensor's data as a typed array: Float32Array for F32, raw bits in a Uint16Array for BF16/F16
 * (unless `as: 'F32'`), BigInt64Array for I64, and so on (see TypedArrayOf).
 */
export async function readTensor<E extends TensorEntry, D extends DTypeName = E['dtype']>(
  entry: E,
  options: ReadOptions<D> = {},
): Promise<TypedArrayOf[D]> {
  const out = options.as ?? entry.dtype;
  const buf = await native().readTensorData(entry, out);
  return typedArrayView(out, buf) as TypedArrayOf[D];
}

/** Many tensors in one native call (each file mapped once); results in the order of `entries`. */
export async function readTensors<D extends DTypeName>(entries: TensorEntry[], options: { as: D }): Promise<TypedArrayOf[D][]>;
export async function readTensors(entries: TensorEntry[], options?: { as?: DTypeName }): Promise<TypedArrayOf[DTypeName][]>;
export async function readTensors(entries: TensorEntry[], options: { as?: DTypeName } = {}): Promise<TypedArrayOf[DTypeName][]> {
  const bufs = await native().readTensorsData(entries, options.as);
  return bufs.map((b, i) => typedArrayView(options.as ?? entries[i].dtype, b) as TypedArrayOf[DTypeName]);
}
