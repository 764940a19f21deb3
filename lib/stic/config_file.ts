// Config files of options (the `stic run` config and the `--config` file of a stage command): JSON,
// or YAML for .yaml/.yml, whose keys are option flags, kebab-case as on the command line or
// snake_case as in TRL / LLaMA-Factory configs (batch-size or batch_size). Reading, parsing, and
// mapping a mapping's keys onto an option table, with every message naming the file and the key:
//   runs/a.yaml: dpo: unknown key "betta": did you mean "beta"? (known keys: ...)
import { readFile } from 'node:fs/promises';
import path from 'node:path';

import YAML from 'yaml';

import { ioProblem } from '../data/records/faults.ts';
import { lineAt } from '../data/records/read.ts';
import { nearestName } from '../util/edit_distance.ts';
import { type OptionSpec, flagOf, keyOf, shownValue } from './options.ts';

/** The file's text, or an error naming it. */
export async function readConfigText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new Error(`${file}: cannot read the config file (${ioProblem(err)})`);
  }
}

/** The parsed document: YAML for .yaml/.yml, JSON otherwise; a syntax error names the file (and line). */
export function parseConfigText(file: string, text: string): unknown {
  return /\.ya?ml$/i.test(file) ? parseYaml(file, text) : parseJson(file, text);
}

/** A parsed document that must be a mapping: `what` says of what, for the message. */
export function configMapping(file: string, where: string, value: unknown, what: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error(`${file}: ${where ? `${where}: ` : ''}expected a mapping of ${what} but received ${shownValue(value)}`);
  return value as Record<string, unknown>;
}

/** An unknown key's message: the key, the nearest known one, and the known ones (`note` after them). */
export function unknownKey(file: string, where: string, key: string, known: readonly string[], note = ''): Error {
  const near = nearestName(key, known);
  return new Error(`${file}: ${where ? `${where}: ` : ''}unknown key "${key}"${near ? `: did you mean "${near}"?` : ''} (known keys: ${known.join(', ')}${note})`);
}

/** One key of a config file mapped onto a table: the option's key, what was written, and its value. */
export interface ConfigEntry {
  /** As written in the file (batch_size or batch-size). */
  name: string;
  value: unknown;
}

/**
 * The mapping's keys as options of `table` (keyed by the option's camelCase key), values as given
 * except that a path option's string is resolved against `dir`, the config file's folder. An unknown
 * key, or two keys naming one option, is an error naming the file, `where` (a section, or '') and
 * the key. `known` filters the options a file may name (default: every one).
 */
export function configEntries(
  file: string,
  where: string,
  table: Record<string, OptionSpec>,
  given: Record<string, unknown>,
  dir: string,
  known: (key: string, spec: OptionSpec) => boolean = () => true,
): Record<string, ConfigEntry> {
  const out: Record<string, ConfigEntry> = {};
  for (const [name, value] of Object.entries(given)) {
    const key = optionKeyOf(name, table);
    if (key === undefined) throw unknownKey(file, where, name, Object.entries(table).filter(([k, s]) => known(k, s)).map(([k]) => flagOf(k)), '; snake_case spellings too');
    const before = out[key];
    if (before) throw new Error(`${file}: ${where ? `${where}: ` : ''}"${before.name}" and "${name}" name the same option (${flagOf(key)}): give it once`);
    out[key] = { name, value: table[key].path && typeof value === 'string' && value !== '' ? path.resolve(dir, value) : value };
  }
  return out;
}

// The option a config key names: its flag (kebab-case) or the same words in snake_case.
function optionKeyOf(name: string, table: Record<string, OptionSpec>): string | undefined {
  if (name.includes('-') && name.includes('_')) return undefined;
  const flag = name.replace(/_/g, '-');
  const key = keyOf(flag);
  return Object.hasOwn(table, key) && flagOf(key) === flag ? key : undefined;
}

function parseJson(file: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`${file}: malformed JSON (${(err as Error).message})`);
  }
}

function parseYaml(file: string, text: string): unknown {
  const doc = YAML.parseDocument(text, { prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    const line = e.linePos?.[0]?.line ?? (e.pos ? lineAt(text, e.pos[0]) : undefined);
    throw new Error(`${file}${line ? `:${line}` : ''}: malformed YAML (${e.message.split('\n')[0]})`);
  }
  return doc.toJS();
}
