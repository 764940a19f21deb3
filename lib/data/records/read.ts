// Streams the records of a JSONL file (one per line) or a JSON-array file, each with the line it
// starts on, so every later message can say "file:line". The format is decided by content, not by
// extension: a file whose first non-blank character is "[" is a JSON array, anything else is JSONL
// (so a .json file holding one record per line works too).
// A malformed JSONL line is a record-level fault (the other lines are fine); a malformed JSON array
// is a file-level fault (nothing in it can be trusted). So are bytes that are not UTF-8 (reported,
// never passed on as replacement characters) and a record nested deeper than MAX_RECORD_DEPTH
// (no record of ours nests beyond 5; every later check walks records recursively, and a hostile
// 100,000-deep array would overflow the stack there).
import { createReadStream } from 'node:fs';
import { open, readFile } from 'node:fs/promises';

import { InputFileError, type RecordFault, ioProblem, makeFault } from './faults.ts';

/** One record as parsed, before validation. */
export interface RawRecord {
  file: string;
  /** 1-based line where the record starts. */
  line: number;
  value: unknown;
}

export type ReadItem = { ok: true; record: RawRecord } | { ok: false; fault: RecordFault };

/** Yields every record (or record-level fault) of `file` in file order. */
export async function* readRecords(file: string): AsyncGenerator<ReadItem> {
  const kind = await sniffFormat(file);
  if (kind === 'array') yield* readJsonArray(file);
  else yield* readJsonLines(file);
}

// "array" when the first non-whitespace character (after a BOM) is "[", else "lines".
async function sniffFormat(file: string): Promise<'array' | 'lines'> {
  let fh;
  try {
    fh = await open(file, 'r');
  } catch (err) {
    throw new InputFileError(file, `cannot read the file (${ioProblem(err)})`);
  }
  try {
    const buf = Buffer.alloc(4096);
    for (let pos = 0; ; ) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
      if (bytesRead === 0) return 'lines';
      const text = buf.subarray(0, bytesRead).toString('utf8').replace(/^\uFEFF/, '');
      const m = /\S/.exec(text);
      if (m) return m[0] === '[' ? 'array' : 'lines';
      pos += bytesRead;
    }
  } catch (err) {
    throw new InputFileError(file, `cannot read the file (${ioProblem(err)})`);
  } finally {
    await fh.close();
  }
}

/** Records nested deeper than this (arrays and objects) are refused. */
export const MAX_RECORD_DEPTH = 64;

const utf8 = new TextDecoder('utf-8', { fatal: true });

async function* readJsonLines(file: string): AsyncGenerator<ReadItem> {
  let line = 0;
  for await (const bytes of byteLines(file)) {
    line++;
    let raw: string;
    try {
      raw = utf8.decode(bytes);
    } catch {
      const at = firstInvalidUtf8(bytes);
      yield { ok: false, fault: makeFault('invalid UTF-8', file, line, undefined, `expected UTF-8 text but byte ${at + 1} of the line (${hexByte(bytes, at)}) is not valid UTF-8`) };
      continue;
    }
    const text = (line === 1 ? raw.replace(/^\uFEFF/, '') : raw).replace(/\r$/, '');
    if (text.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      yield { ok: false, fault: makeFault('malformed JSON', file, line, undefined, `malformed JSON (${(err as Error).message})`) };
      continue;
    }
    if (tooDeep(value)) {
      yield { ok: false, fault: makeFault('too deeply nested', file, line, undefined, `expected a record nested at most ${MAX_RECORD_DEPTH} levels deep but it nests deeper`) };
      continue;
    }
    yield { ok: true, record: { file, line, value } };
  }
}

// The lines of a file as bytes (without the "\n"), read in chunks.
async function* byteLines(file: string): AsyncGenerator<Buffer> {
  let rest: Buffer = Buffer.alloc(0);
  for await (const chunk of createReadStream(file)) {
    let buf = rest.length ? Buffer.concat([rest, chunk as Buffer]) : (chunk as Buffer);
    for (let nl = buf.indexOf(0x0a); nl >= 0; nl = buf.indexOf(0x0a)) {
      yield buf.subarray(0, nl);
      buf = buf.subarray(nl + 1);
    }
    rest = buf;
  }
  if (rest.length) yield rest;
}

/** Index of the first byte of the first invalid UTF-8 sequence in `bytes` (RFC 3629, table 3-7). */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length; ) {
    const b = bytes[i];
    if (b < 0x80) {
      i++;
      continue;
    }
    const n = b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
    if (n === 0 || i + n > bytes.length) return i;
    // The second byte's range is narrower after E0, ED, F0 and F4 (no overlongs, surrogates or > U+10FFFF).
    const [lo, hi] = b === 0xe0 ? [0xa0, 0xbf] : b === 0xed ? [0x80, 0x9f] : b === 0xf0 ? [0x90, 0xbf] : b === 0xf4 ? [0x80, 0x8f] : [0x80, 0xbf];
    if (bytes[i + 1] < lo || bytes[i + 1] > hi) return i;
    for (let k = 2; k < n; k++) if (bytes[i + k] < 0x80 || bytes[i + k] > 0xbf) return i;
    i += n;
  }
  return bytes.length;
}

function hexByte(bytes: Uint8Array, at: number): string {
  return at < bytes.length ? `0x${bytes[at].toString(16).padStart(2, '0')}` : 'the end';
}

/** True when a parsed JSON value nests arrays/objects deeper than MAX_RECORD_DEPTH (iterative). */
export function tooDeep(value: unknown, limit = MAX_RECORD_DEPTH): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop() as [unknown, number];
    if (v === null || typeof v !== 'object') continue;
    if (depth >= limit) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
  }
  return false;
}

async function* readJsonArray(file: string): AsyncGenerator<ReadItem> {
  const bytes = await readFile(file);
  let decoded: string;
  try {
    decoded = utf8.decode(bytes);
  } catch {
    const at = firstInvalidUtf8(bytes);
    const line = bytes.subarray(0, at).reduce((n, b) => n + (b === 0x0a ? 1 : 0), 1);
    throw new InputFileError(`${file}:${line}`, `expected UTF-8 text but byte ${at + 1} of the file (${hexByte(bytes, at)}) is not valid UTF-8`);
  }
  const text = decoded.replace(/^\uFEFF/, '');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    const msg = (err as Error).message;
    const pos = /position (\d+)/.exec(msg);
    const where = pos ? `:${lineAt(text, Number(pos[1]))}` : '';
    throw new InputFileError(`${file}${where}`, `malformed JSON (${msg})`);
  }
  if (!Array.isArray(value)) throw new InputFileError(file, 'expected a JSON array of records (or JSONL, one record per line)');
  const lines = elementLines(text);
  for (let i = 0; i < value.length; i++) {
    // The array itself is one level: its elements may nest one level less.
    if (tooDeep(value[i], MAX_RECORD_DEPTH - 1)) {
      yield { ok: false, fault: makeFault('too deeply nested', file, lines[i], undefined, `expected a record nested at most ${MAX_RECORD_DEPTH} levels deep but it nests deeper`) };
    } else yield { ok: true, record: { file, line: lines[i], value: value[i] } };
  }
}

/** 1-based line of character offset `pos`. */
export function lineAt(text: string, pos: number): number {
  let line = 1;
  for (let i = 0; i < pos && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/**
 * The 1-based line on which each top-level element of a JSON array starts. `text` is known to parse,
 * so a scan that tracks depth and strings (with escapes) is enough: an element starts at the first
 * non-blank character after "[" or after a comma at depth 1.
 */
export function elementLines(text: string): number[] {
  const out: number[] = [];
  let depth = 0;
  let inString = false;
  let line = 1;
  let expectElement = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\n') line++;
    if (inString) {
      if (c === '\\') i++; // an escaped character never ends the string (and is never a newline)
      else if (c === '"') inString = false;
      continue;
    }
    if (expectElement && !/\s/.test(c)) {
      expectElement = false;
      if (c !== ']') out.push(line);
    }
    if (c === '"') inString = true;
    else if (c === '[' || c === '{') {
      depth++;
      if (depth === 1 && c === '[') expectElement = true;
    } else if (c === ']' || c === '}') depth--;
    else if (c === ',' && depth === 1) expectElement = true;
  }
  return out;
}
