// Reading Hugging Face JSON files (config.json, preprocessor_config.json, tokenizer_config.json)
// with errors that name the file, the field, what was expected and what was found. Every config
// parser in lib/model reads its fields through a FieldReader so that no message is ad hoc.
import { existsSync, readFileSync } from 'node:fs';

/** A config file that is missing, unreadable, malformed, or describes something we cannot run. */
export class ModelConfigError extends Error {
  readonly file: string;
  /** Dotted path of the offending field ('text_config.rope_theta'), or null for whole-file errors. */
  readonly field: string | null;
  constructor(file: string, field: string | null, message: string) {
    super(`${file}: ${message}`);
    this.name = 'ModelConfigError';
    this.file = file;
    this.field = field;
  }
}

/** One parsed JSON file and the path it came from (for messages). */
export interface JsonDoc {
  json: unknown;
  source: string;
}

/** A JSON value as it appears in an error message: short, and explicit about absence. */
export function showJsonValue(v: unknown): string {
  if (v === undefined) return 'nothing (the field is missing)';
  const text = JSON.stringify(v) ?? String(v);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** Reads one UTF-8 text file; `what` says what the file is for when it is missing. */
export function readTextFile(file: string, what: string): string {
  if (!existsSync(file)) {
    throw new ModelConfigError(file, null, `expected ${what} but the file does not exist`);
  }
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new ModelConfigError(file, null, `cannot read ${what} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
}

/** Reads and parses one JSON file; `what` says what the file is for when it is missing. */
export function readJsonFile(file: string, what: string): unknown {
  const text = readTextFile(file, what);
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new ModelConfigError(file, null, `expected valid JSON but parsing failed: ${(err as Error).message}`);
  }
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Typed access to the fields of one JSON object (the whole file, or a nested section such as
 * text_config). `prefix` is the dotted path of the section, used in messages.
 * A field that is absent or null takes the default; without a default it is an error.
 */
export class FieldReader {
  readonly file: string;
  readonly prefix: string;
  readonly obj: Record<string, unknown>;

  constructor(obj: unknown, file: string, prefix = '') {
    if (!isPlainObject(obj)) {
      const where = prefix === '' ? 'the file' : prefix;
      throw new ModelConfigError(file, prefix || null, `expected a JSON object for ${where} but found ${showJsonValue(obj)}`);
    }
    this.obj = obj;
    this.file = file;
    this.prefix = prefix;
  }

  path(name: string): string {
    return this.prefix === '' ? name : `${this.prefix}.${name}`;
  }

  has(name: string): boolean {
    return this.obj[name] !== undefined && this.obj[name] !== null;
  }

  raw(name: string): unknown {
    return this.obj[name];
  }

  fail(name: string, expected: string, found: unknown = this.obj[name]): never {
    throw new ModelConfigError(this.file, this.path(name), `expected ${expected} for ${this.path(name)} but found ${showJsonValue(found)}`);
  }

  /** The nested object `name`, as a reader of its own. */
  section(name: string): FieldReader {
    const v = this.obj[name];
    if (!isPlainObject(v)) this.fail(name, 'a JSON object');
    return new FieldReader(v, this.file, this.path(name));
  }

  /** Like section(), but an absent/null field gives an empty section (all defaults). */
  optionalSection(name: string): FieldReader {
    return this.has(name) ? this.section(name) : new FieldReader({}, this.file, this.path(name));
  }

  positiveInt(name: string, dflt?: number): number {
    const v = this.value(name, dflt, 'a positive integer');
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) this.fail(name, 'a positive integer');
    return v;
  }

  int(name: string, dflt?: number): number {
    const v = this.value(name, dflt, 'an integer');
    if (typeof v !== 'number' || !Number.isInteger(v)) this.fail(name, 'an integer');
    return v;
  }

  positiveNumber(name: string, dflt?: number): number {
    const v = this.value(name, dflt, 'a positive number');
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) this.fail(name, 'a positive number');
    return v;
  }

  bool(name: string, dflt?: boolean): boolean {
    const v = this.value(name, dflt, 'true or false');
    if (typeof v !== 'boolean') this.fail(name, 'true or false');
    return v;
  }

  string(name: string, dflt?: string): string {
    const v = this.value(name, dflt, 'a string');
    if (typeof v !== 'string') this.fail(name, 'a string');
    return v;
  }

  /** A string from a fixed set; the message lists the set. */
  oneOf<T extends string>(name: string, allowed: readonly T[], dflt?: T): T {
    const expected = `one of ${allowed.map((a) => `"${a}"`).join(', ')}`;
    const v = this.value(name, dflt, expected);
    if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) this.fail(name, expected);
    return v as T;
  }

  /** An integer or null (absent, null and the default null are all null). */
  intOrNull(name: string): number | null {
    if (!this.has(name)) return null;
    return this.int(name);
  }

  /** An integer or a list of integers (eos_token_id); absent gives `dflt`. */
  intList(name: string, dflt: number[]): number[] {
    if (!this.has(name)) return dflt;
    const v = this.obj[name];
    if (typeof v === 'number' && Number.isInteger(v)) return [v];
    if (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'number' && Number.isInteger(x))) return v as number[];
    this.fail(name, 'an integer or a non-empty list of integers');
  }

  /** Exactly `n` finite numbers (image_mean, image_std). */
  numberTuple(name: string, n: number, dflt?: number[]): number[] {
    const expected = `a list of ${n} numbers`;
    const v = this.value(name, dflt, expected);
    if (!Array.isArray(v) || v.length !== n || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) this.fail(name, expected);
    return v as number[];
  }

  private value(name: string, dflt: unknown, expected: string): unknown {
    const v = this.obj[name];
    if (v !== undefined && v !== null) return v;
    if (dflt !== undefined) return dflt;
    return this.fail(name, expected);
  }
}
