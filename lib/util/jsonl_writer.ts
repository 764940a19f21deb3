// Append-only JSONL outputs that survive a kill. Every stage output (preference pairs, descriptions,
// metrics) is one JSON record per line, appended and fsync'ed per batch, so after a kill the file is
// a prefix of the uninterrupted run's file plus, at worst, one torn last line (a write cut short).
// Opening an existing output reads the ids already complete, cuts the torn tail off, and appends
// from there: a resumed run produces the same bytes as an uninterrupted one.
import { open, readFile, stat, truncate } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';

import { syncDir } from './atomic_write.ts';

/** What an existing output held when it was opened. */
export interface JsonlResumeState {
  /** Ids of the complete records, in file order. */
  ids: string[];
  /** The same ids as a set, for skipping inputs already done. */
  done: Set<string>;
  /** Bytes of a torn last line that were cut off (0 when the file ended cleanly or was new). */
  truncatedBytes: number;
}

export interface JsonlWriterOptions {
  /** The record field that identifies a record (default "id"); its value must be a string or number. */
  idField?: string;
}

/** An open append-only JSONL output. */
export class JsonlWriter {
  private constructor(
    readonly file: string,
    readonly resume: JsonlResumeState,
    private fh: FileHandle | null,
    private readonly idField: string,
  ) {}

  /** Opens (creating when absent) `file` for appending, after reading what it already holds. */
  static async open(file: string, options: JsonlWriterOptions = {}): Promise<JsonlWriter> {
    const idField = options.idField ?? 'id';
    await mkdir(path.dirname(file), { recursive: true });
    const resume = await readExisting(file, idField);
    const fh = await open(file, 'a');
    await syncDir(path.dirname(file));
    return new JsonlWriter(file, resume, fh, idField);
  }

  /** Appends the records (one line each) in one write and flushes them to disk before resolving. */
  async append(records: readonly object[]): Promise<void> {
    if (!this.fh) throw new Error(`${this.file}: append after close`);
    if (records.length === 0) return;
    const lines: string[] = [];
    for (const r of records) {
      const id = idOf(r as Record<string, unknown>, this.idField);
      if (id === undefined) {
        throw new Error(`${this.file}: expected every record to have a string or number "${this.idField}" but received ${JSON.stringify(r).slice(0, 80)}`);
      }
      if (this.resume.done.has(id)) throw new Error(`${this.file}: record "${id}" is already in this output`);
      lines.push(`${JSON.stringify(r)}\n`);
    }
    await this.fh.write(lines.join(''));
    await this.fh.datasync();
    for (const r of records) {
      const id = idOf(r as Record<string, unknown>, this.idField) as string;
      this.resume.ids.push(id);
      this.resume.done.add(id);
    }
  }

  async close(): Promise<void> {
    const fh = this.fh;
    this.fh = null;
    if (fh) await fh.close();
  }
}

function idOf(r: Record<string, unknown>, field: string): string | undefined {
  const v = r?.[field];
  if (typeof v === 'string') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return undefined;
}

// Reads the complete lines of an existing output and truncates a torn tail. A complete line that is
// not a record of ours means the file is not what we think it is: that is a file-level error, never
// something to paper over by appending to it.
async function readExisting(file: string, idField: string): Promise<JsonlResumeState> {
  const state: JsonlResumeState = { ids: [], done: new Set(), truncatedBytes: 0 };
  let size: number;
  try {
    size = (await stat(file)).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return state;
    throw err;
  }
  if (size === 0) return state;
  const bytes = await readFile(file);
  const end = bytes.lastIndexOf(0x0a) + 1; // bytes [0, end) are complete lines
  const text = bytes.subarray(0, end).toString('utf8');
  const lines = text.split('\n');
  lines.pop(); // the empty string after the last "\n"
  lines.forEach((line, i) => {
    const where = `${file}:${i + 1}`;
    const advice = 'this output was not written by stic or was edited; move it away to start the stage over';
    let rec: unknown;
    try {
      rec = JSON.parse(line);
    } catch (err) {
      throw new Error(`${where}: expected a complete JSON record but the line does not parse (${(err as Error).message}); ${advice}`);
    }
    const id = idOf(rec as Record<string, unknown>, idField);
    if (id === undefined) throw new Error(`${where}: expected a record with a string "${idField}"; ${advice}`);
    if (state.done.has(id)) throw new Error(`${where}: record "${id}" appears twice; ${advice}`);
    state.ids.push(id);
    state.done.add(id);
  });
  if (end < bytes.length) {
    state.truncatedBytes = bytes.length - end;
    await truncate(file, end);
  }
  return state;
}
