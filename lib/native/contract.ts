// The typed contract of stic.node: every function the addon exports, with the shapes of what it
// takes and returns. Sections are per area; keep each in step with its native/addon/*.cpp file.
// Legend for shape comments: B batch, T tokens, C channels, H height, W width, V vocab, D hidden.

export type DTypeName = 'F32' | 'BF16' | 'F16' | 'F64' | 'I32' | 'I64' | 'U8';

/** Errors thrown or rejected by the addon carry `code` = "STIC_" + a status code name. */
export type NativeErrorCode =
  | 'STIC_INVALID_ARGUMENT'
  | 'STIC_NOT_FOUND'
  | 'STIC_OUT_OF_RANGE'
  | 'STIC_IO_ERROR'
  | 'STIC_OUT_OF_MEMORY'
  | 'STIC_UNSUPPORTED'
  | 'STIC_INTERNAL'
  | 'STIC_DEVICE';

// ---- build and runtime (native/addon/addon.cpp) ----------------------------------------------
export interface BuildInfo {
  cuda: boolean;
  backends: string[];
  napiVersion: number;
  openmp: number;
  threads: number;
  maxThreads: number;
  simd: 'avx512' | 'avx2' | 'scalar';
  compiler: string;
}

export interface CoreBinding {
  buildInfo(): BuildInfo;
  /** Sets the CPU thread count (0: default) and returns the value in force. */
  setThreads(n: number): number;
}

// ---- element-type conversion (native/addon/convert_binding.cpp) -------------------------------
export type AnyTypedArray =
  | Float32Array | Float64Array | Uint16Array | Int32Array | Uint32Array | BigInt64Array | Uint8Array | Int8Array | Int16Array;

export interface ConvertBinding {
  /** Converts every element of src (srcType) into dst (dstType); float types only. dst must hold exactly as many elements. */
  convertDType(src: AnyTypedArray, srcType: DTypeName, dst: AnyTypedArray, dstType: DTypeName): Promise<void>;
}

// ---- safetensors tensor reads (native/addon/safetensors_binding.cpp) ----------------------------
/** Where one tensor's bytes are: a TensorEntry of lib/model/safetensors_header.ts (extra fields ignored). */
export interface TensorSourceEntry {
  name: string;
  file: string;
  dtype: DTypeName;
  shape: number[];
  /** Absolute offset of the first byte in `file`. */
  offset: number;
  nbytes: number;
}

export interface SafetensorsBinding {
  /** Maps entry.file, checks the range against the real file size, and copies (or converts to outDtype, floats only) into a new native tensor owned by the returned ArrayBuffer. */
  readTensorData(entry: TensorSourceEntry, outDtype?: DTypeName): Promise<ArrayBuffer>;
  /** The same for many entries, mapping each file once; results in the order of `entries`. */
  readTensorsData(entries: TensorSourceEntry[], outDtype?: DTypeName): Promise<ArrayBuffer[]>;
}

/** The whole binding: the intersection of every area's section. */
export type NativeBinding = CoreBinding & ConvertBinding & SafetensorsBinding;
