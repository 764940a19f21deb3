// Where each resolved option's value came from, and the `--dry-run` listing of options with it:
//   lr = 0.0005               (flag)
//   batch-size = 4            (config: runs/a/dpo.yaml)
//   beta = 0.1                (default)
import { type OptionSpec, flagOf } from './options.ts';

/** default: the option table's; config: a key of that file; flag: the command line; set: `stic run --set`. */
export type OptionSource = { from: 'default' } | { from: 'flag' } | { from: 'set' } | { from: 'config'; file: string };

export const DEFAULT_SOURCE: OptionSource = { from: 'default' };
export const FLAG_SOURCE: OptionSource = { from: 'flag' };
export const SET_SOURCE: OptionSource = { from: 'set' };

export function configSource(file: string): OptionSource {
  return { from: 'config', file };
}

export function sourceText(s: OptionSource): string {
  switch (s.from) {
    case 'config':
      return `config: ${s.file}`;
    case 'set':
      return '--set';
    default:
      return s.from;
  }
}

/** A value as the listing shows it: lists comma-separated, an unset option as "(none)". */
export function shownOption(v: unknown): string {
  if (v === undefined) return '(none)';
  if (v === null) return 'none';
  if (Array.isArray(v)) return v.join(',');
  return String(v);
}

/**
 * One line per option of `table` (in its order, flag names), "  name = value   (source)", the
 * sources aligned; options without a source entry are left out.
 */
export function optionLines(table: Record<string, OptionSpec>, values: Record<string, unknown>, sources: Record<string, OptionSource>, indent = '  '): string {
  const rows = Object.keys(table)
    .filter((k) => sources[k] !== undefined)
    .map((k) => [`${flagOf(k)} = ${shownOption(values[k])}`, sourceText(sources[k])]);
  const width = Math.max(0, ...rows.map(([left]) => left.length));
  return rows.map(([left, src]) => `${indent}${left.padEnd(width)}   (${src})\n`).join('');
}
