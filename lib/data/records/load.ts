// Loads a whole record file through one format's parser: every record validated, record-level
// faults (malformed line, invalid field, duplicate id) skipped and counted, and a file that yields
// no usable record at all refused as a file-level fault.
import { InputFileError, RecordError, SkipLog, makeFault } from './faults.ts';
import { peekId } from './fields.ts';
import { readRecords } from './read.ts';

/** Where a parsed record came from. */
export interface Located {
  file: string;
  line: number;
}

export interface RecordFormat<T> {
  /** Plural noun for messages, e.g. "preference pairs". */
  noun: string;
  /** Validates one raw value (found at `at`); throws RecordError. */
  parse(value: unknown, at: Located): T;
  /** The record's id (for duplicate detection and messages). */
  id(record: T): string;
  /** Where to look for an id in a raw value that failed to parse (default "id"). */
  idKey?: string;
}

export interface Loaded<T> {
  records: (T & Located)[];
  skips: SkipLog;
}

export async function loadRecords<T extends object>(file: string, format: RecordFormat<T>, opts: { allowEmpty?: boolean } = {}): Promise<Loaded<T>> {
  const records: (T & Located)[] = [];
  const skips = new SkipLog();
  const firstLine = new Map<string, number>();
  for await (const item of readRecords(file)) {
    if (!item.ok) {
      skips.add(item.fault);
      continue;
    }
    const { line, value } = item.record;
    let rec: T;
    try {
      rec = format.parse(value, { file, line });
    } catch (err) {
      if (!(err instanceof RecordError)) throw err;
      skips.add(makeFault(err.kind, file, line, peekId(value, format.idKey ?? 'id'), err.message));
      continue;
    }
    const id = format.id(rec);
    const first = firstLine.get(id);
    if (first !== undefined) {
      skips.add(makeFault('duplicate id', file, line, id, `duplicate id (first seen on line ${first}); this record is skipped`));
      continue;
    }
    firstLine.set(id, line);
    records.push({ ...rec, file, line });
  }
  if (records.length === 0 && !opts.allowEmpty) {
    throw new InputFileError(file, `no usable ${format.noun} (${skips.count === 0 ? 'the file is empty' : skips.headline()})`);
  }
  return { records, skips };
}
