// Append-only JSONL outputs that survive a kill. Every stage output (preference pairs, descriptions,
// metrics) is one JSON record per line, appended and fsync'ed per batch, so after a kill the file is
// a prefix of the uninterrupted run's file plus, at worst, one torn last line (a write cut short).
// Opening an existing output reads the ids already complete, cuts the torn tail off, and appends
// from there: a resumed run produces the same bytes as an uninterrupted one.
// An output that is a symbolic link is refused (appending through it would change the file it
// points at), and a write that fails (disk full, I/O error) cuts the file back to its last complete
// batch and names the file and the reason, so a re-run resumes from there.
import { constants } from 'node:fs';
import { open, readFile, stat, truncate } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';

import { syncDir } from './atomic_write.ts';
import { refuseSymlinkOutput } from './output_safety.ts';
import { WriteError, namingWriteErrors } from './write_error.ts';

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
    /** Bytes of complete records in the file. */
    private size: number,
  ) {}

  /** Opens (creating when absent) `file` for appending, after reading what it already holds. */
  static async open(file: string, options: JsonlWriterOptions = {}): Promise<JsonlWriter> {
    const idField = options.idField ?? 'id';
    await mkdir(path.dirname(file), { recursive: true });
    refuseSymlinkOutput(file);
    const resume = await readExisting(file, idField);
    // O_NOFOLLOW: a link put in place after the check above is refused by the kernel too (ELOOP).
    const flags = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | (constants.O_NOFOLLOW ?? 0);
    const fh = await open(file, flags, 0o666).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ELOOP') refuseSymlinkOutput(file);
      throw new WriteError(file, err);
    });
    const size = (await fh.stat()).size;
    await namingWriteErrors(file, () => syncDir(path.dirname(file)));
    return new JsonlWriter(file, resume, fh, idField, size);
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
    const bytes = Buffer.from(lines.join(''), 'utf8');
    try {
      // One write() may write less than asked (the disk filling up); the next one then fails.
      for (let done = 0; done < bytes.length; ) done += (await this.fh.write(bytes, done)).bytesWritten;
      await this.fh.datasync();
    } catch (err) {
      // Best effort: drop the partial batch now (a re-run would cut a torn tail off anyway).
      await this.fh.truncate(this.size).catch(() => undefined);
      throw new WriteError(this.file, err, `the ${this.resume.ids.length} records before this batch are complete; run the stage again to resume after them`);
    }
    this.size += bytes.length;
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
