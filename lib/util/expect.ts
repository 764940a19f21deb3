// Checks of values received from a caller, with one message shape (after sharp): "Expected <what>
// for <name> but received <value>", the name saying where (`requests[3].ids[7]`) so the user finds
// the bad input. The engine (lib/engine/validate.ts) and the sampling options (lib/generate) use them.

/** Describes a received value the way the native helpers do ("a string \"x\"", "-3", "undefined"). */
export function describeValue(v: unknown): string {
  if (v === undefined) return 'undefined';
  if (v === null) return 'null';
  if (typeof v === 'boolean' || typeof v === 'number' || typeof v === 'bigint') return String(v);
  if (typeof v === 'string') return `a string "${v}"`;
  if (Array.isArray(v)) return `an array of ${v.length} value${v.length === 1 ? '' : 's'}`;
  if (ArrayBuffer.isView(v)) return `a ${v.constructor.name} of ${(v as unknown as ArrayLike<unknown>).length} values`;
  if (typeof v === 'function') return 'a function';
  return 'an object';
}

export function expectedError(what: string, name: string, received: unknown): TypeError {
  return new TypeError(`Expected ${what} for ${name} but received ${describeValue(received)}`);
}

export function isInteger(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v);
}

/** An integer >= min (and <= max when given). */
export function checkInt(v: unknown, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!isInteger(v) || v < min || v > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in [${min}, ${max}]`;
    throw expectedError(`an integer ${range}`, name, v);
  }
  return v;
}

/** A finite number in [min, max] (an open end when the flag says so). */
export function checkNumber(v: unknown, name: string, min: number, max: number, openMin = false): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || (openMin && v === min) || v > max) {
    const range = `${openMin ? '(' : '['}${min}, ${max === Infinity ? 'Infinity)' : `${max}]`}`;
    throw expectedError(`a number in ${range}`, name, v);
  }
  return v;
}

export function checkArray(v: unknown, name: string, what: string): unknown[] {
  if (!Array.isArray(v)) throw expectedError(what, name, v);
  return v;
}
