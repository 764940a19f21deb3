// Option tables: one declaration per stage option (flag name, type, default, range, help) that
// serves both the command line (yargs options, --help text) and the `stic run` config file (the
// same names as keys). Validation happens here, once, with one message shape:
//   "Expected <what> for --<flag> but received <value>"     (command line)
//   "<file>: <stage>.<flag>: expected <what> but received <value>"   (config file)
import type { Options as YargsOption } from 'yargs';

export type OptionType = 'number' | 'integer' | 'string' | 'boolean' | 'list' | 'range';

/** A 'range' option's value: one number, a [lo, hi] pair, or null for "none" (where allowed). */
export type RangeValue = number | [number, number] | null;

export interface OptionSpec {
  type: OptionType;
  describe: string;
  default?: number | string | boolean | string[] | RangeValue;
  /** Allowed values (string) or allowed list elements (list). */
  choices?: readonly string[];
  /** Inclusive bounds unless the *Exclusive flag is set. */
  min?: number;
  minExclusive?: boolean;
  max?: number;
  maxExclusive?: boolean;
  /** Must be given (no default). */
  required?: boolean;
  /** Set by `stic run` from the previous stage's output: refused as a config key. */
  wired?: boolean;
  /** A file or folder: in a config file it is relative to the file's folder. */
  path?: boolean;
  /** A string that may be empty ("" means none, e.g. stic eval --instruction). */
  empty?: boolean;
  /** A range that may be "none" (or "off"): null. */
  none?: boolean;
}

/** A table keyed by the option's camelCase name; the flag is its kebab-case form. */
// Integers reach native code as 32-bit ints: without a bound of their own they stop at this.
export const INT32_MAX = 2147483647;

/** CPU threads, for every command and the `threads` config key (the native limit, core/threads.h). */
export const THREADS_SPEC: OptionSpec = { type: 'integer', min: 0, max: 1024, describe: 'CPU threads (0: all cores)' };

/** One flag checked against its spec: the typed value, or an error in the command-line shape. */
export function checkFlag<T extends number | string | boolean | string[]>(flag: string, spec: OptionSpec, value: unknown): T {
  const v = coerceOption(spec, value);
  if (v === undefined) throw new Error(cliProblem({ flag, expected: expectationOf(spec, value), received: value }));
  return v as T;
}

/** --threads when given: an integer in [0, 1024] (0: all cores). */
export function checkThreads(value: unknown): number | undefined {
  return value === undefined ? undefined : checkFlag<number>('threads', THREADS_SPEC, value);
}

export type OptionTable<T> = { [K in keyof T]-?: OptionSpec };

export function flagOf(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

export function keyOf(flag: string): string {
  return flag.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/**
 * yargs option declarations for a table (types only; ranges are checked by validateOptions). yargs
 * sets no value itself, so a flag is in the parsed arguments only when it was given: defaults come
 * from the table (validateOptions), after a --config file, and --help shows them as yargs would.
 */
export function yargsOptions(table: Record<string, OptionSpec>): Record<string, YargsOption> {
  const out: Record<string, YargsOption> = {};
  for (const [key, spec] of Object.entries(table)) {
    const def = spec.default;
    out[flagOf(key)] = {
      type: spec.type === 'integer' ? 'number' : spec.type === 'list' || spec.type === 'range' ? 'string' : spec.type,
      describe: spec.describe + (spec.choices && spec.type === 'list' ? ` (any of: ${spec.choices.join(', ')})` : '') + (spec.required ? ' (required: the flag or its --config key)' : ''),
      ...(def !== undefined ? { defaultDescription: Array.isArray(def) ? def.join(',') : def === null ? 'none' : String(def) } : {}),
      ...(spec.choices && spec.type === 'string' ? { choices: [...spec.choices] } : {}),
    };
  }
  return out;
}

/** What a value must be, for messages ("a number > 0", "one of sum, mean", ...). */
export function expectation(spec: OptionSpec): string {
  switch (spec.type) {
    case 'boolean':
      return 'true or false';
    case 'string':
      return spec.choices ? `one of ${spec.choices.join(', ')}` : spec.empty ? 'a string' : 'a non-empty string';
    case 'list':
      return spec.choices ? `a comma-separated list of ${spec.choices.join(', ')}` : 'a comma-separated list';
    case 'range':
      return `a number or "lo,hi"${spec.none ? ' or "none"' : ''}`;
    default: {
      const noun = spec.type === 'integer' ? 'an integer' : 'a number';
      const lo = spec.min === undefined ? '' : `${spec.minExclusive ? '>' : '>='} ${spec.min}`;
      const hi = spec.max === undefined ? '' : `${spec.maxExclusive ? '<' : '<='} ${spec.max}`;
      if (lo && hi) return `${noun} in ${spec.minExclusive ? '(' : '['}${spec.min}, ${spec.max}${spec.maxExclusive ? ')' : ']'}`;
      return [noun, lo || hi].filter(Boolean).join(' ');
    }
  }
}

/** What a value must be, mentioning the implicit 32-bit bound when that is what `v` broke. */
function expectationOf(spec: OptionSpec, v: unknown): string {
  const huge = spec.type === 'integer' && spec.max === undefined && typeof v === 'number' && v > INT32_MAX;
  return huge ? `${expectation(spec)} (at most ${INT32_MAX})` : expectation(spec);
}

/** The value converted to its type, or undefined when it does not satisfy the spec. */
export function coerceOption(spec: OptionSpec, v: unknown): number | string | boolean | string[] | RangeValue | undefined {
  switch (spec.type) {
    case 'range':
      return coerceRange(spec, v);
    case 'boolean':
      return typeof v === 'boolean' ? v : undefined;
    case 'string':
      if (typeof v !== 'string' || (!spec.empty && v.trim() === '')) return undefined;
      return spec.choices && !spec.choices.includes(v) ? undefined : v;
    case 'list': {
      const items = Array.isArray(v) ? v : typeof v === 'string' ? v.split(',').map((s) => s.trim()) : undefined;
      if (!items || items.length === 0 || !items.every((s) => typeof s === 'string' && s !== '')) return undefined;
      if (spec.choices && !items.every((s) => spec.choices!.includes(s))) return undefined;
      if (new Set(items).size !== items.length) return undefined;
      return items as string[];
    }
    default: {
      if (typeof v !== 'number' || !Number.isFinite(v)) return undefined;
      if (spec.type === 'integer' && (!Number.isSafeInteger(v) || (spec.max === undefined && v > INT32_MAX))) return undefined;
      if (spec.min !== undefined && (spec.minExclusive ? v <= spec.min : v < spec.min)) return undefined;
      if (spec.max !== undefined && (spec.maxExclusive ? v >= spec.max : v > spec.max)) return undefined;
      return v;
    }
  }
}

// A range from the command line ("0.5,1.5", "2", "none") or a config file (0.5, [0.5, 1.5], "none").
function coerceRange(spec: OptionSpec, v: unknown): RangeValue | undefined {
  if (typeof v === 'string') {
    const t = v.trim();
    if (spec.none && (t === 'none' || t === 'off')) return null;
    const parts = t.split(',').map((x) => x.trim());
    if (parts.length > 2 || parts.some((x) => x === '')) return undefined;
    return coerceRange(spec, parts.length === 1 ? Number(parts[0]) : parts.map(Number));
  }
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'number' && Number.isFinite(x))) return [v[0] as number, v[1] as number];
  return undefined;
}

export interface OptionProblem {
  key: string;
  message: string;
}

/**
 * Checks and types `values` (keyed by camelCase name; absent keys take defaults). Returns the typed
 * object, or throws with the first problem formatted by `format`.
 */
export function validateOptions<T>(table: OptionTable<T>, values: Record<string, unknown>, format: (p: { flag: string; expected: string; received: unknown }) => string): T {
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(table) as [string, OptionSpec][]) {
    const given = values[key];
    if (given === undefined) {
      if (spec.required) throw new Error(format({ flag: flagOf(key), expected: expectation(spec), received: undefined }));
      out[key] = Array.isArray(spec.default) ? [...spec.default] : spec.default;
      continue;
    }
    const v = coerceOption(spec, given);
    if (v === undefined) throw new Error(format({ flag: flagOf(key), expected: expectationOf(spec, given), received: given }));
    out[key] = v;
  }
  return out as T;
}

/** The command-line message shape. */
export function cliProblem(p: { flag: string; expected: string; received: unknown }): string {
  return `Expected ${p.expected} for --${p.flag} but received ${shownValue(p.received)}`;
}

export function shownValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (typeof v === 'number') return String(v);
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** Picks a table's keys out of parsed yargs arguments (which carry camelCase aliases). */
export function pickOptions(table: Record<string, OptionSpec>, args: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(table)) if (args[key] !== undefined) out[key] = args[key];
  return out;
}

/** The options of `table` out of a larger set (a command's), in the table's order, unset ones included. */
export function tableValues<T>(table: OptionTable<T>, values: object): T {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(table)) out[key] = (values as Record<string, unknown>)[key];
  return out as T;
}
