// The safetensors header, parsed and validated in TypeScript: the tensor bytes themselves are
// never read here (native/io/safetensors_read.h maps the file and copies them), so a 15 GB
// checkpoint never passes through the JS heap.
//
// Layout (https://github.com/huggingface/safetensors, "Format"): 8 bytes little-endian u64 N, then
// N bytes of UTF-8 JSON {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__"?: {str: str}},
// then the data section; data_offsets are relative to the start of the data section.
import { open } from 'node:fs/promises';

import { type DTypeName, SUPPORTED_DTYPES, dtypeSize, isDTypeName, shapeNumel, shapeString } from './dtype.ts';

/** One tensor of one file, with the absolute file offset native reads need. */
export interface TensorEntry {
  name: string;
  file: string;
  dtype: DTypeName;
  shape: number[];
  /** Absolute offset of the first byte in `file` (8 + header length + data_offsets[0]). */
  offset: number;
  nbytes: number;
}

export interface SafetensorsFile {
  file: string;
  /** `__metadata__` of the header (string -> string), {} when absent. */
  metadata: Record<string, string>;
  /** In header order. */
  tensors: Map<string, TensorEntry>;
}

/** A malformed or unsupported checkpoint; the message names the file (and the tensor). */
export class SafetensorsError extends Error {
  readonly file: string;
  constructor(file: string, message: string) {
    super(`${file}: ${message}`);
    this.name = 'SafetensorsError';
    this.file = file;
  }
}

/** The reference implementation refuses headers over 100 MB; so do we, before allocating them. */
export const MAX_HEADER_BYTES = 100_000_000;

const METADATA_KEY = '__metadata__';

/** Reads and validates the header of one .safetensors file. */
export async function openSafetensors(file: string): Promise<SafetensorsFile> {
  const fh = await open(file, 'r').catch((err: NodeJS.ErrnoException) => {
    throw new SafetensorsError(file, `cannot open safetensors file (${err.code ?? err.message})`);
  });
  try {
    const size = (await fh.stat()).size;
    if (size < 8) {
      throw new SafetensorsError(file, `truncated: expected at least 8 bytes (the header length) but the file has ${size}`);
    }
    const lenBytes = Buffer.alloc(8);
    await fh.read(lenBytes, 0, 8, 0);
    const headerLen = lenBytes.readBigUInt64LE(0);
    if (headerLen > BigInt(size - 8)) {
      throw new SafetensorsError(file, `header length ${headerLen} runs past the end of the file (8 + ${headerLen} bytes needed, the file has ${size})`);
    }
    const n = Number(headerLen);
    if (n > MAX_HEADER_BYTES) {
      throw new SafetensorsError(file, `header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
    }
    const headerBytes = Buffer.alloc(n);
    await fh.read(headerBytes, 0, n, 8);
    return parseHeader(file, headerBytes, size);
  } finally {
    await fh.close();
  }
}

/** Validates header bytes (without the 8-byte length) of a file of `fileSize` bytes. */
export function parseHeader(file: string, headerBytes: Uint8Array, fileSize: number): SafetensorsFile {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
  } catch {
    throw new SafetensorsError(file, 'header is not valid UTF-8');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new SafetensorsError(file, `header is not valid JSON (${(err as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new SafetensorsError(file, `header must be a JSON object but is ${describeJson(json)}`);
  }
  const header = json as Record<string, unknown>;
  const keys = topLevelKeys(text);
  const seen = new Set<string>();
  for (const k of keys) {
    if (seen.has(k)) throw new SafetensorsError(file, `duplicate tensor name "${k}" in the header`);
    seen.add(k);
  }
  const dataStart = 8 + headerBytes.length;
  const dataLen = fileSize - dataStart;
  const metadata = parseMetadata(file, header[METADATA_KEY]);
  const tensors = new Map<string, TensorEntry>();
  const spans: Span[] = [];
  for (const name of keys) {
    if (name === METADATA_KEY) continue;
    const { entry, begin, end } = parseEntry(file, name, header[name], dataStart, dataLen);
    tensors.set(name, entry);
    spans.push({ name, begin, end });
  }
  checkOverlaps(file, spans);
  return { file, metadata, tensors };
}

interface Span {
  name: string;
  begin: number;
  end: number;
}

function parseEntry(file: string, name: string, raw: unknown, dataStart: number, dataLen: number): { entry: TensorEntry; begin: number; end: number } {
  const where = `tensor "${name}"`;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new SafetensorsError(file, `${where}: expected an object with dtype, shape and data_offsets but found ${describeJson(raw)}`);
  }
  const e = raw as Record<string, unknown>;
  for (const field of ['dtype', 'shape', 'data_offsets']) {
    if (!(field in e)) throw new SafetensorsError(file, `${where}: missing "${field}"`);
  }
  if (!isDTypeName(e.dtype)) {
    throw new SafetensorsError(file, `${where}: unsupported dtype ${JSON.stringify(e.dtype)} (supported: ${SUPPORTED_DTYPES.join(', ')})`);
  }
  const dtype = e.dtype;
  const shape = e.shape;
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new SafetensorsError(file, `${where}: expected shape to be an array of non-negative integers but found ${JSON.stringify(shape)}`);
  }
  const offs = e.data_offsets;
  if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((x) => Number.isSafeInteger(x) && x >= 0) || offs[0] > offs[1]) {
    throw new SafetensorsError(file, `${where}: expected data_offsets to be [begin, end] with 0 <= begin <= end but found ${JSON.stringify(offs)}`);
  }
  const [begin, end] = offs as [number, number];
  const expected = shapeNumel(shape) * dtypeSize(dtype);
  if (expected !== end - begin) {
    throw new SafetensorsError(
      file,
      `${where}: shape ${shapeString(shape)} of ${dtype} needs ${expected} bytes but data_offsets [${begin}, ${end}] span ${end - begin}`,
    );
  }
  if (end > dataLen) {
    throw new SafetensorsError(file, `${where}: data_offsets [${begin}, ${end}] run past the end of the data section (${dataLen} bytes)`);
  }
  const entry: TensorEntry = { name, file, dtype, shape: [...shape], offset: dataStart + begin, nbytes: end - begin };
  return { entry, begin, end };
}

function parseMetadata(file: string, raw: unknown): Record<string, string> {
  if (raw === undefined) return {};
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new SafetensorsError(file, `${METADATA_KEY} must be an object of strings but is ${describeJson(raw)}`);
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (typeof v !== 'string') throw new SafetensorsError(file, `${METADATA_KEY}["${k}"] must be a string but is ${describeJson(v)}`);
    out[k] = v;
  }
  return out;
}

// Empty tensors occupy no bytes, so they may sit anywhere (even inside another tensor's range).
function checkOverlaps(file: string, spans: Span[]): void {
  const sorted = spans.filter((s) => s.end > s.begin).sort((a, b) => a.begin - b.begin || a.end - b.end);
  let last: Span | undefined;
  for (const s of sorted) {
    if (last && s.begin < last.end) {
      throw new SafetensorsError(
        file,
        `tensors "${last.name}" (data_offsets [${last.begin}, ${last.end}]) and "${s.name}" (data_offsets [${s.begin}, ${s.end}]) overlap`,
      );
    }
    if (!last || s.end > last.end) last = s;
  }
}

/**
 * The keys of the top-level object of already-validated JSON text, in order and with repeats.
 * JSON.parse keeps only the last of duplicated keys, which would silently drop a tensor.
 */
export function topLevelKeys(text: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      const start = i;
      for (i++; text[i] !== '"'; i++) if (text[i] === '\\') i++;
      if (depth === 1 && expectKey) {
        keys.push(JSON.parse(text.slice(start, i + 1)) as string);
        expectKey = false;
      }
    } else if (c === '{' || c === '[') {
      depth++;
      if (depth === 1) expectKey = true;
    } else if (c === '}' || c === ']') {
      depth--;
    } else if (c === ',' && depth === 1) {
      expectKey = true;
    }
  }
  return keys;
}

/** "an array", "null", "a number (3)", "a string (\"x\")" for messages. */
export function describeJson(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `a string (${JSON.stringify(v)})`;
  if (typeof v === 'number' || typeof v === 'boolean') return `a ${typeof v} (${v})`;
  if (v === undefined) return 'missing';
  return 'an object';
}
