// Field checks shared by the record formats. Each throws a RecordError whose message names the
// field, what was expected and what was received; the format's parser adds file:line and id.
import { RecordError, shown } from './faults.ts';

export type Obj = Record<string, unknown>;

export function asObject(v: unknown): Obj {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new RecordError(`expected a JSON object but received ${shown(v)}`);
  return v as Obj;
}

/** A record id: a non-empty string or an integer (LLaVA data uses both), as a string. */
export function idField(o: Obj, key = 'id'): string {
  const v = o[key];
  if (typeof v === 'string' && v.length > 0) return v;
  if (typeof v === 'number' && Number.isSafeInteger(v)) return String(v);
  throw new RecordError(`expected a non-empty string or an integer for "${key}" but received ${shown(v)}`);
}

/** The id when present (for messages), without throwing. */
export function peekId(v: unknown, key = 'id'): string | undefined {
  if (v === null || typeof v !== 'object') return undefined;
  const id = (v as Obj)[key];
  if (typeof id === 'string' && id.length > 0) return id;
  if (typeof id === 'number' && Number.isSafeInteger(id)) return String(id);
  return undefined;
}

export function stringField(o: Obj, key: string, opts: { nonEmpty?: boolean } = {}): string {
  const v = o[key];
  if (typeof v !== 'string' || (opts.nonEmpty && v.trim() === '')) {
    throw new RecordError(`expected a ${opts.nonEmpty ? 'non-empty ' : ''}string for "${key}" but received ${shown(v)}`);
  }
  return v;
}

export function optionalString(o: Obj, key: string): string | undefined {
  return o[key] === undefined ? undefined : stringField(o, key);
}

export function optionalBoolean(o: Obj, key: string): boolean | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') throw new RecordError(`expected true or false for "${key}" but received ${shown(v)}`);
  return v;
}

export function optionalNumber(o: Obj, key: string, check?: { max?: number }): number | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || (check?.max !== undefined && v > check.max)) {
    const what = check?.max !== undefined ? `a finite number <= ${check.max}` : 'a finite number';
    throw new RecordError(`expected ${what} for "${key}" but received ${shown(v)}`);
  }
  return v;
}

/** One of `allowed` (an unknown value of a known field is a fault, not a silent default). */
export function enumField<T extends string>(o: Obj, key: string, allowed: readonly T[]): T {
  const v = o[key];
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
    throw new RecordError(`expected one of ${allowed.map((a) => JSON.stringify(a)).join(', ')} for "${key}" but received ${shown(v)}`);
  }
  return v as T;
}
