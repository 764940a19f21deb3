// The two kinds of input faults. A *file-level* fault (the file is missing, is not JSON at all, is
// not an array of records, holds no usable record) stops the command: InputFileError. A
// *record-level* fault (one malformed line, one record with a wrong field, a duplicate id, an
// unreadable image) skips that record and is counted in a SkipLog, shown in the stage summary and
// written beside the output: never silently dropped, never fatal to the whole run.
// Every message says where (file:line, and the record id when known), what was expected and what
// was received.

/** A fault that makes a whole input file unusable. */
export class InputFileError extends Error {
  constructor(
    readonly file: string,
    problem: string,
  ) {
    super(`${file}: ${problem}`);
    this.name = 'InputFileError';
  }
}

/** Thrown by field checks; the reader adds the location. Its message is the bare problem. */
export class RecordError extends Error {
  constructor(
    problem: string,
    /** Short category for counting, e.g. "invalid record". */
    readonly kind = 'invalid record',
  ) {
    super(problem);
    this.name = 'RecordError';
  }
}

export interface RecordFault {
  /** Short category: "malformed JSON", "invalid record", "duplicate id", "image not found", ... */
  kind: string;
  /** The full message, location first. */
  message: string;
  file: string;
  /** 1-based line in `file`; absent when `file` is the record itself (an image found in a folder). */
  line?: number;
  id?: string;
}

/** "file:line", "file:line (id "x")", or just "file" when there is no line. */
export function locate(file: string, line: number | undefined, id?: string): string {
  const at = line === undefined ? file : `${file}:${line}`;
  return id === undefined ? at : `${at} (id ${JSON.stringify(id)})`;
}

export function makeFault(kind: string, file: string, line: number | undefined, id: string | undefined, problem: string): RecordFault {
  return { kind, file, line, id, message: `${locate(file, line, id)}: ${problem}` };
}

/** Counts record-level faults by kind and keeps every message (they go to a .skipped.jsonl file). */
export class SkipLog {
  readonly faults: RecordFault[] = [];

  add(fault: RecordFault): void {
    this.faults.push(fault);
  }

  addAll(other: SkipLog): void {
    for (const f of other.faults) this.add(f);
  }

  get count(): number {
    return this.faults.length;
  }

  /** Counts per kind, most frequent first. */
  byKind(): [string, number][] {
    const m = new Map<string, number>();
    for (const f of this.faults) m.set(f.kind, (m.get(f.kind) ?? 0) + 1);
    return [...m.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  }

  /** "3 records skipped (2 invalid record, 1 image not found)" or "no records skipped". */
  headline(noun = 'records'): string {
    if (this.count === 0) return `no ${noun} skipped`;
    return `${this.count} ${noun} skipped (${this.byKind().map(([k, n]) => `${n} ${k}`).join(', ')})`;
  }

  /** The headline and the first `max` messages, one per line. */
  report(max = 5, noun = 'records'): string[] {
    const lines = [this.headline(noun)];
    for (const f of this.faults.slice(0, max)) lines.push(`  ${f.message}`);
    if (this.count > max) lines.push(`  ... and ${this.count - max} more`);
    return lines;
  }
}

/** A value as it appears in messages: JSON, shortened; "nothing" for a missing field. */
export function shown(v: unknown): string {
  if (v === undefined) return 'nothing';
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** A file-system error in words: "file not found", "permission denied", ... */
export function ioProblem(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  switch (e.code) {
    case 'ENOENT':
      return 'file not found';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'is a folder, expected a file';
    default:
      return e.code ? `${e.code}: ${e.message}` : String(e.message ?? err);
  }
}
