// Reading benchmark files strictly: a benchmark is fixed data, so a record that is not in the
// official format stops the command with the file, the line (or row, or record key), what was
// expected and what was found, instead of being scored as something else.
import { access, readFile } from 'node:fs/promises';
import path from 'node:path';

import { ioProblem } from '../data/records/faults.ts';
import { elementLines } from '../data/records/read.ts';
import { BenchFileError } from './types.ts';

export async function readText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new BenchFileError(file, null, `cannot read the file (${ioProblem(err)})`);
  }
}

/** Parses a whole JSON file. */
export async function readJson(file: string): Promise<{ value: unknown; text: string }> {
  const text = await readText(file);
  try {
    return { value: JSON.parse(text.replace(/^\uFEFF/, '')), text };
  } catch (err) {
    throw new BenchFileError(file, null, `expected a JSON document but it does not parse (${(err as Error).message})`);
  }
}

/** A JSON array file: its elements with the line each starts on. */
export async function readJsonArray(file: string, what: string): Promise<{ value: unknown; line: number }[]> {
  const { value, text } = await readJson(file);
  if (!Array.isArray(value)) throw new BenchFileError(file, null, `expected a JSON array of ${what} but received ${kindOf(value)}`);
  const lines = elementLines(text.replace(/^\uFEFF/, ''));
  return value.map((v, i) => ({ value: v, line: lines[i] ?? 1 }));
}

/** A JSON Lines file (blank lines allowed): each record with its line number. */
export async function readJsonLines(file: string): Promise<{ value: unknown; line: number }[]> {
  const text = await readText(file);
  const out: { value: unknown; line: number }[] = [];
  text.replace(/^\uFEFF/, '').split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '') return;
    try {
      out.push({ value: JSON.parse(line), line: i + 1 });
    } catch (err) {
      throw new BenchFileError(file, String(i + 1), `expected one JSON record per line but the line does not parse (${(err as Error).message})`);
    }
  });
  return out;
}

/** A JSON object file keyed by record id (ScienceQA problems.json, MM-Vet, MathVista). */
export async function readJsonObject(file: string, what: string): Promise<Record<string, unknown>> {
  const { value } = await readJson(file);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new BenchFileError(file, null, `expected a JSON object of ${what} keyed by id but received ${kindOf(value)}`);
  }
  return value as Record<string, unknown>;
}

/** Field accessors that throw "expected ... but received ..." for the caller to locate. */
export class Fields {
  constructor(
    private readonly file: string,
    private readonly where: string,
    readonly value: Record<string, unknown>,
  ) {}

  static of(file: string, where: string, v: unknown): Fields {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new BenchFileError(file, where, `expected a JSON object but received ${kindOf(v)}`);
    return new Fields(file, where, v as Record<string, unknown>);
  }

  fail(problem: string): never {
    throw new BenchFileError(this.file, this.where, problem);
  }

  string(key: string): string {
    const v = this.value[key];
    if (typeof v !== 'string') this.fail(`expected "${key}" to be a string but received ${kindOf(v)}`);
    return v;
  }

  optionalString(key: string): string | null {
    const v = this.value[key];
    if (v === undefined || v === null) return null;
    if (typeof v !== 'string') this.fail(`expected "${key}" to be a string or null but received ${kindOf(v)}`);
    return v;
  }

  /** A string or a number, as a string (ids are either in the wild). */
  id(key: string): string {
    const v = this.value[key];
    if (typeof v === 'string' && v !== '') return v;
    if (typeof v === 'number' && Number.isFinite(v)) return String(v);
    this.fail(`expected "${key}" to be a string or number id but received ${kindOf(v)}`);
  }

  integer(key: string): number {
    const v = this.value[key];
    if (!Number.isInteger(v)) this.fail(`expected "${key}" to be an integer but received ${kindOf(v)}`);
    return v as number;
  }

  stringArray(key: string): string[] {
    const v = this.value[key];
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) this.fail(`expected "${key}" to be an array of strings but received ${kindOf(v)}`);
    return v as string[];
  }
}

/** "a string ("abc")", "a number (3)", "null", "an array of 2", "an object", "nothing". */
export function kindOf(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (typeof v === 'string') return `a string (${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v)})`;
  if (typeof v === 'number' || typeof v === 'boolean') return `a ${typeof v} (${v})`;
  return `an ${typeof v}`;
}

/** The image's absolute path; a missing image is a file-level fault of the benchmark. */
export async function requireImage(file: string, where: string, image: string): Promise<string> {
  const abs = path.resolve(image);
  try {
    await access(abs);
  } catch {
    throw new BenchFileError(file, where, `image not found: ${abs}`);
  }
  return abs;
}

/** The first `limit` items (all when undefined). */
export function limited<T>(xs: T[], limit: number | undefined): T[] {
  return limit === undefined ? xs : xs.slice(0, limit);
}
