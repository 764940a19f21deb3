// Element types as safetensors spells them, their sizes, and the typed array that holds each in JS.
// Mirrors native/core/dtype.h (same names, same sizes); BF16 and F16 have no JS array type, so
// their raw 16-bit patterns live in a Uint16Array.
import type { AnyTypedArray, DTypeName } from '../native/contract.ts';

export type { DTypeName } from '../native/contract.ts';

/** Every dtype stic reads and writes, in the order error messages list them. */
export const SUPPORTED_DTYPES: readonly DTypeName[] = ['F32', 'F16', 'BF16', 'F64', 'I64', 'I32', 'U8'];

const SIZES: Record<DTypeName, number> = { F32: 4, F16: 2, BF16: 2, F64: 8, I64: 8, I32: 4, U8: 1 };

export function isDTypeName(x: unknown): x is DTypeName {
  return typeof x === 'string' && Object.prototype.hasOwnProperty.call(SIZES, x);
}

/** Bytes per element. */
export function dtypeSize(dtype: DTypeName): number {
  return SIZES[dtype];
}

/** The typed array each dtype is returned in (raw bits for the 16-bit floats). */
export interface TypedArrayOf {
  F32: Float32Array;
  F16: Uint16Array;
  BF16: Uint16Array;
  F64: Float64Array;
  I64: BigInt64Array;
  I32: Int32Array;
  U8: Uint8Array;
}

/** A view of `buffer` as the typed array of `dtype` (no copy). */
export function typedArrayView(dtype: DTypeName, buffer: ArrayBuffer, byteOffset = 0, length?: number): AnyTypedArray {
  const n = length ?? (buffer.byteLength - byteOffset) / SIZES[dtype];
  switch (dtype) {
    case 'F32': return new Float32Array(buffer, byteOffset, n);
    case 'F16':
    case 'BF16': return new Uint16Array(buffer, byteOffset, n);
    case 'F64': return new Float64Array(buffer, byteOffset, n);
    case 'I64': return new BigInt64Array(buffer, byteOffset, n);
    case 'I32': return new Int32Array(buffer, byteOffset, n);
    case 'U8': return new Uint8Array(buffer, byteOffset, n);
  }
}

/** Number of elements of a shape ([] is a scalar: 1 element). */
export function shapeNumel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** "[2, 3, 56, 56]", as native/core/tensor.cpp's shapeString writes it. */
export function shapeString(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}
