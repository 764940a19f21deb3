// The options of one command from its flags, its `--config FILE` and its option table's defaults, in
// that precedence: a flag given on the command line wins over the file's key, which wins over the
// default. The file is checked by the same code as a `stic run` section (config_file.ts for its
// keys, the table's validateOptions for its values): messages name the file and the key as written,
//   dpo.yaml: batch_size: expected an integer >= 1 but received 0
// Paths in the file are relative to its folder, paths in flags to the working directory.
import path from 'node:path';

import { configEntries, configMapping, parseConfigText, readConfigText } from './config_file.ts';
import { type OptionSpec, type OptionTable, cliProblem, keyOf, pickOptions, shownValue, validateOptions } from './options.ts';
import { DEFAULT_SOURCE, FLAG_SOURCE, type OptionSource, configSource, optionLines } from './option_sources.ts';

export type ProblemFormat = (p: { flag: string; expected: string; received: unknown }) => string;

export interface ResolvedOptions<T> {
  options: T;
  /** Where each option's value came from, keyed like the options. */
  sources: Record<string, OptionSource>;
}

/**
 * Resolves a command's options. `args` are the parsed flags (yargs sets none that were not given);
 * `args.config` names the config file. `check` adds the rules across options (it throws through
 * the format it is given).
 */
export async function resolveOptions<T>(
  table: OptionTable<T>,
  args: { config?: unknown; [k: string]: unknown },
  check?: (o: T, format: ProblemFormat) => void,
): Promise<ResolvedOptions<T>> {
  const file = typeof args.config === 'string' && args.config !== '' ? args.config : undefined;
  const config = file === undefined ? undefined : { file, text: await readConfigText(file) };
  return resolveFromText(table, pickOptions(table, args), config, check);
}

/** resolveOptions once the file is read: `flags` keyed by option key. */
export function resolveFromText<T>(
  table: OptionTable<T>,
  flags: Record<string, unknown>,
  config: { file: string; text: string } | undefined,
  check?: (o: T, format: ProblemFormat) => void,
): ResolvedOptions<T> {
  const specs = table as Record<string, OptionSpec>;
  const entries = config
    ? configEntries(config.file, '', specs, configMapping(config.file, '', parseConfigText(config.file, config.text), 'options keyed by flag name'), path.dirname(path.resolve(config.file)))
    : {};
  const values: Record<string, unknown> = {};
  const sources: Record<string, OptionSource> = {};
  for (const key of Object.keys(specs)) {
    if (flags[key] !== undefined) [values[key], sources[key]] = [flags[key], FLAG_SOURCE];
    else if (entries[key] !== undefined) [values[key], sources[key]] = [entries[key].value, configSource(config!.file)];
    else sources[key] = DEFAULT_SOURCE;
  }
  const format: ProblemFormat = (p) => {
    const key = keyOf(p.flag);
    if (sources[key]?.from === 'config') return `${config!.file}: ${entries[key].name}: expected ${p.expected} but received ${shownValue(p.received)}`;
    if (p.received === undefined && config) return `${cliProblem(p)} (give --${p.flag} or the key ${p.flag} in ${config.file})`;
    return cliProblem(p);
  };
  const options = validateOptions(table, values, format);
  check?.(options, format);
  return { options, sources };
}

/** The `--dry-run` listing: every option of the table with its value and source. */
export function resolvedLines<T>(table: OptionTable<T>, r: ResolvedOptions<T>): string {
  return optionLines(table as Record<string, OptionSpec>, r.options as Record<string, unknown>, r.sources);
}
