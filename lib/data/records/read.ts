// Streams the records of a JSONL file (one per line) or a JSON-array file, each with the line it
// starts on, so every later message can say "file:line". The format is decided by content, not by
// extension: a file whose first non-blank character is "[" is a JSON array, anything else is JSONL
// (so a .json file holding one record per line works too).
// A malformed JSONL line is a record-level fault (the other lines are fine); a malformed JSON array
// is a file-level fault (nothing in it can be trusted).
import { createReadStream } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import readline from 'node:readline';

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

async function* readJsonLines(file: string): AsyncGenerator<ReadItem> {
  const rl = readline.createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
  let line = 0;
  for await (const raw of rl) {
    line++;
    const text = line === 1 ? raw.replace(/^\uFEFF/, '') : raw;
    if (text.trim() === '') continue;
    try {
      yield { ok: true, record: { file, line, value: JSON.parse(text) } };
    } catch (err) {
      yield { ok: false, fault: makeFault('malformed JSON', file, line, undefined, `malformed JSON (${(err as Error).message})`) };
    }
  }
}

async function* readJsonArray(file: string): AsyncGenerator<ReadItem> {
  const text = (await readFile(file, 'utf8')).replace(/^\uFEFF/, '');
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
  for (let i = 0; i < value.length; i++) yield { ok: true, record: { file, line: lines[i], value: value[i] } };
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
