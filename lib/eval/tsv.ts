// Tab-separated files as pandas writes them (`to_csv(sep="\t")`, csv QUOTE_MINIMAL): a field that
// holds a tab, a quote or a line break is wrapped in double quotes with inner quotes doubled. Each
// row keeps the line it starts on, for messages.
import { BenchFileError } from './types.ts';

export interface TsvRow {
  /** 1-based line where the row starts. */
  line: number;
  cells: Record<string, string>;
}

export function parseTsv(file: string, text: string): { header: string[]; rows: TsvRow[] } {
  const records = splitRecords(file, text.replace(/^\uFEFF/, ''));
  if (records.length === 0) throw new BenchFileError(file, null, 'expected a header row of column names but the file is empty');
  const header = records[0].fields;
  const rows = records.slice(1).filter((r) => !(r.fields.length === 1 && r.fields[0] === ''));
  return {
    header,
    rows: rows.map((r) => {
      if (r.fields.length !== header.length) {
        throw new BenchFileError(file, String(r.line), `expected ${header.length} tab-separated fields (as the header) but received ${r.fields.length}`);
      }
      return { line: r.line, cells: Object.fromEntries(header.map((h, i) => [h, r.fields[i]])) };
    }),
  };
}

function splitRecords(file: string, text: string): { line: number; fields: string[] }[] {
  const out: { line: number; fields: string[] }[] = [];
  let fields: string[] = [];
  let field = '';
  let line = 1;
  let start = 1;
  let i = 0;
  let atFieldStart = true;
  while (i < text.length) {
    const c = text[i];
    if (atFieldStart && c === '"') {
      const quoteLine = line;
      i++;
      for (;;) {
        if (i >= text.length) throw new BenchFileError(file, String(quoteLine), 'a quoted field is never closed (expected a closing double quote)');
        const d = text[i];
        if (d === '"' && text[i + 1] === '"') {
          field += '"';
          i += 2;
        } else if (d === '"') {
          i++;
          break;
        } else {
          if (d === '\n') line++;
          field += d;
          i++;
        }
      }
      atFieldStart = false;
      continue;
    }
    if (c === '\t') {
      fields.push(field);
      field = '';
      atFieldStart = true;
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      fields.push(field);
      out.push({ line: start, fields });
      fields = [];
      field = '';
      line++;
      start = line;
      atFieldStart = true;
    } else {
      field += c;
      atFieldStart = false;
    }
    i++;
  }
  if (field !== '' || fields.length > 0) {
    fields.push(field);
    out.push({ line: start, fields });
  }
  return out;
}

// What pandas.read_csv reads as NaN by default (its na_values): an option cell holding one of these
// is no option at all, exactly as in the official tools that load the file with pandas.
const PANDAS_NA = new Set(['', '#N/A', '#N/A N/A', '#NA', '-1.#IND', '-1.#QNAN', '-NaN', '-nan', '1.#IND', '1.#QNAN', '<NA>', 'N/A', 'NA', 'NULL', 'NaN', 'None', 'n/a', 'nan', 'null']);

export function isPandasNa(cell: string | undefined): boolean {
  return cell === undefined || PANDAS_NA.has(cell);
}
