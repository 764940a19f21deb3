// The `stic run` config file (JSON, or YAML for .yaml/.yml): the model, an output folder, and one
// section per stage whose keys are that stage's command-line flags (without "--"; snake_case spellings
// such as eval_prefs are read as the flag eval-prefs). Inputs that come
// from the previous stage (dpo's pairs, describe's adapter, infuse's descriptions, sft's data and
// starting adapter) are wired by the pipeline and refused in the file. Relative paths are relative
// to the config file. Every message names the file and the key:
//   runs/a.yaml: pref.batch-size: expected an integer >= 1 but received 0
import { readFile } from 'node:fs/promises';
import path from 'node:path';

import YAML from 'yaml';

import { ioProblem } from '../data/records/faults.ts';
import { lineAt } from '../data/records/read.ts';
import { INT32_MAX, type OptionTable, THREADS_SPEC, coerceOption, expectation, flagOf, keyOf, shownValue, validateOptions } from './options.ts';
import {
  DESCRIBE_OPTIONS, type DescribeOptions, INFUSE_OPTIONS, type InfuseOptions, PREF_OPTIONS, type PrefOptions,
} from './stage_options.ts';
import { type EvalSection, parseEvalSection } from './run_eval.ts';
import { ADAPTER_SHAPE_KEYS, DPO_OPTIONS, type DpoOptions, SFT_OPTIONS, type SftOptions } from './train_options.ts';

export const STAGES = ['pref', 'dpo', 'describe', 'infuse', 'sft'] as const;
export type StageName = (typeof STAGES)[number];

const TOP_KEYS = ['model', 'out', 'seed', 'prompts', 'threads', 'stages', ...STAGES, 'eval'] as const;

/** Options of a stage as the pipeline runs it (wired inputs are filled in by the pipeline). */
export interface RunConfig {
  file: string;
  model: string;
  out: string;
  prompts?: string;
  threads?: number;
  stages: StageName[];
  pref: Omit<PrefOptions, never>;
  dpo: Omit<DpoOptions, 'prefs'>;
  describe: DescribeOptions;
  infuse: Omit<InfuseOptions, 'instructions' | 'descriptions'>;
  sft: Omit<SftOptions, 'data' | 'initAdapter'>;
  /** After the stages: base / stage-1 / final evaluated on one benchmark (lib/stic/run_eval.ts). */
  eval?: EvalSection;
}

const TABLES: Record<StageName, Record<string, import('./options.ts').OptionSpec>> = {
  pref: PREF_OPTIONS,
  dpo: DPO_OPTIONS,
  describe: DESCRIBE_OPTIONS,
  infuse: INFUSE_OPTIONS,
  sft: SFT_OPTIONS,
};

// Option keys holding paths, resolved against the config file's folder.
const PATH_KEYS = new Set(['images', 'imageRoot', 'instructions', 'evalPrefs']);

/** Reads the config file, applies `--set` overrides ("dpo.lr=1e-6"), and checks the result. */
export async function loadRunConfig(file: string, overrides: readonly string[] = []): Promise<RunConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new Error(`${file}: cannot read the config file (${ioProblem(err)})`);
  }
  return parseRunConfig(file, text, overrides);
}

export function parseRunConfig(file: string, text: string, overrides: readonly string[] = []): RunConfig {
  const value = applyOverrides(/\.ya?ml$/i.test(file) ? parseYaml(file, text) : parseJson(file, text), overrides);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new Error(`${file}: expected a mapping of keys (${TOP_KEYS.join(', ')}) but received ${shownValue(value)}`);
  }
  const o = value as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!(TOP_KEYS as readonly string[]).includes(k)) throw new Error(`${file}: unknown key "${k}" (known keys: ${TOP_KEYS.join(', ')})`);
  }
  const dir = path.dirname(path.resolve(file));
  const str = (k: string, required: boolean): string | undefined => {
    const v = o[k];
    if (v === undefined && !required) return undefined;
    if (typeof v !== 'string' || v.trim() === '') throw new Error(`${file}: ${k}: expected a non-empty string but received ${shownValue(v)}`);
    return path.resolve(dir, v);
  };
  const model = str('model', true) as string;
  const out = str('out', true) as string;
  const prompts = str('prompts', false);
  const seed = o.seed === undefined ? 42 : o.seed;
  if (!Number.isSafeInteger(seed) || (seed as number) < 0 || (seed as number) > INT32_MAX) throw new Error(`${file}: seed: expected an integer in [0, ${INT32_MAX}] but received ${shownValue(seed)}`);
  const threads = o.threads;
  if (threads !== undefined && coerceOption(THREADS_SPEC, threads) === undefined) {
    throw new Error(`${file}: threads: expected ${expectation(THREADS_SPEC)} but received ${shownValue(threads)}`);
  }
  const stages = parseStages(file, o.stages);
  const section = <T>(name: StageName, needed: boolean): T => stageSection<T>(file, dir, name, o[name], seed as number, needed);
  const runs = (s: StageName) => stages.includes(s);
  return {
    file,
    model,
    out,
    ...(prompts !== undefined ? { prompts } : {}),
    ...(threads !== undefined ? { threads: threads as number } : {}),
    stages,
    pref: section('pref', runs('pref')),
    dpo: section('dpo', runs('dpo')),
    // infuse reads describe's instructions, so they are needed when either runs.
    describe: section('describe', runs('describe') || runs('infuse')),
    infuse: section('infuse', runs('infuse')),
    sft: section('sft', runs('sft')),
    ...(o.eval !== undefined ? { eval: parseEvalSection(file, dir, o.eval) } : {}),
  };
}

function parseStages(file: string, v: unknown): StageName[] {
  if (v === undefined) return [...STAGES];
  if (!Array.isArray(v) || v.length === 0 || !v.every((s) => (STAGES as readonly unknown[]).includes(s))) {
    throw new Error(`${file}: stages: expected a non-empty list of ${STAGES.join(', ')} but received ${shownValue(v)}`);
  }
  return STAGES.filter((s) => v.includes(s));
}

// One stage section: known keys only, no wired keys, values checked by the stage's option table.
// A stage that will not run still has its section checked for unknown keys, but its required keys
// may be absent.
function stageSection<T>(file: string, dir: string, name: StageName, v: unknown, seed: number, needed: boolean): T {
  const table = TABLES[name];
  if (v !== undefined && (v === null || typeof v !== 'object' || Array.isArray(v))) {
    throw new Error(`${file}: ${name}: expected a mapping of ${name} options but received ${shownValue(v)}`);
  }
  const given = (v ?? {}) as Record<string, unknown>;
  const values: Record<string, unknown> = {};
  const spelled = new Map<string, string>();
  for (const [raw, value] of Object.entries(given)) {
    // TRL and LLaMA-Factory configs spell keys in snake_case: eval_prefs is eval-prefs.
    const flag = raw.replace(/_/g, '-');
    const key = keyOf(flag);
    const spec = table[key];
    if (!spec || flagOf(key) !== flag) {
      const known = Object.entries(table).filter(([, s]) => !s.wired).map(([k]) => flagOf(k));
      throw new Error(`${file}: ${name}: unknown key "${raw}" (known keys: ${known.join(', ')}; snake_case spellings too)`);
    }
    const twice = spelled.get(key);
    if (twice !== undefined) throw new Error(`${file}: ${name}: "${raw}" and "${twice}" are the same key; give it once`);
    spelled.set(key, raw);
    if (spec.wired) throw new Error(`${file}: ${name}.${flag} is set by the pipeline from the previous stage's output and cannot be given`);
    if (name === 'sft' && (ADAPTER_SHAPE_KEYS as readonly string[]).includes(key)) {
      throw new Error(`${file}: sft.${flag} cannot be given: stage 2b continues the stage-1 adapter and keeps its shape (set ${flag} in the dpo section)`);
    }
    values[key] = PATH_KEYS.has(key) && typeof value === 'string' ? path.resolve(dir, value) : value;
  }
  if ('seed' in table && values.seed === undefined) values.seed = seed;
  // Wired and not-needed required keys get placeholders so the table check passes; the pipeline
  // fills in wired ones, and a stage that does not run never reads its section.
  const filled = { ...values };
  for (const [key, spec] of Object.entries(table)) {
    if (spec.required && filled[key] === undefined && (spec.wired || !needed)) filled[key] = '(wired)';
  }
  const typed = validateOptions(table as OptionTable<Record<string, unknown>>, filled, (p) => `${file}: ${name}.${p.flag}: expected ${p.expected} but received ${shownValue(p.received)}`);
  for (const [key, spec] of Object.entries(table)) if (spec.wired) delete (typed as Record<string, unknown>)[key];
  if (name === 'dpo' || name === 'sft') {
    const t = typed as { batchSize: number; gradAccum: number };
    if (t.batchSize % t.gradAccum !== 0) {
      throw new Error(`${file}: ${name}.grad-accum: expected a divisor of ${name}.batch-size (${t.batchSize}) but received ${t.gradAccum}`);
    }
  }
  return typed as T;
}

/**
 * `--set KEY=VALUE` overrides, applied to the file's mapping before it is checked, so an override is
 * checked exactly like the file's own key: KEY is a top-level key or section.key (e.g. dpo.lr), VALUE
 * is read as YAML (1e-6 a number, true a boolean, [q, v] a list, anything else a string).
 */
export function applyOverrides(value: unknown, overrides: readonly string[]): unknown {
  if (overrides.length === 0 || value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  const out = { ...(value as Record<string, unknown>) };
  for (const o of overrides) {
    const m = /^([A-Za-z][\w-]*)(?:\.([A-Za-z][\w-]*))?=(.*)$/s.exec(o);
    if (!m) throw new Error(`--set ${o}: expected KEY=VALUE or SECTION.KEY=VALUE (e.g. dpo.lr=1e-6)`);
    const [, top, key, raw] = m;
    const v = YAML.parse(raw === '' ? '""' : raw) as unknown;
    if (key === undefined) {
      out[top] = v;
    } else {
      const section = out[top];
      if (section !== undefined && (section === null || typeof section !== 'object' || Array.isArray(section))) throw new Error(`--set ${o}: ${top} is not a section of the config`);
      out[top] = { ...((section ?? {}) as Record<string, unknown>), [key]: v };
    }
  }
  return out;
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
