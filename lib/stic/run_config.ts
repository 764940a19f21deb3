// The `stic run` config file (JSON, or YAML for .yaml/.yml): the model, an output folder, and one
// section per stage whose keys are that stage's command-line flags (without "--"), kebab-case or
// snake_case as TRL and LLaMA-Factory configs spell them (batch-size or batch_size, eval_prefs;
// config_file.ts). Inputs that come
// from the previous stage (dpo's pairs, describe's adapter, infuse's descriptions, sft's data and
// starting adapter) are wired by the pipeline and refused in the file. Relative paths are relative
// to the config file. Every message names the file and the key:
//   runs/a.yaml: pref.batch-size: expected an integer >= 1 but received 0
import path from 'node:path';

import YAML from 'yaml';

import { configEntries, parseConfigText, readConfigText, unknownKey } from './config_file.ts';
import { INT32_MAX, type OptionSpec, type OptionTable, THREADS_SPEC, coerceOption, expectation, keyOf, shownValue, validateOptions } from './options.ts';
import { DEFAULT_SOURCE, type OptionSource, SET_SOURCE, configSource, optionLines } from './option_sources.ts';
import {
  DESCRIBE_OPTIONS, type DescribeOptions, INFUSE_OPTIONS, type InfuseOptions, PREF_OPTIONS, type PrefOptions,
} from './stage_options.ts';
import { EVAL_SECTION_OPTIONS, type EvalSection, readEvalSection } from './run_eval.ts';
import { ADAPTER_SHAPE_KEYS, DPO_OPTIONS, type DpoOptions, SFT_OPTIONS, type SftOptions } from './train_options.ts';
import { DEFAULT_SEED } from '../util/seeded.ts';

export const STAGES = ['pref', 'dpo', 'describe', 'infuse', 'sft'] as const;
export type StageName = (typeof STAGES)[number];

const TOP_KEYS = ['model', 'out', 'seed', 'prompts', 'threads', 'stages', ...STAGES, 'eval'] as const;

/** Options of a stage as the pipeline runs it (wired inputs are filled in by the pipeline). */
export interface RunConfig {
  file: string;
  model: string;
  out: string;
  /** The seed of every stage without its own (default 42). */
  seed: number;
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
  /** Where each value came from (the file, a --set override, the default): top-level keys under run. */
  sources: Record<'run' | StageName, Record<string, OptionSource>> & { eval?: Record<string, OptionSource> };
}

/** The top-level keys besides the sections, as options (for the --dry-run listing). */
export const RUN_KEYS: Record<string, OptionSpec> = {
  model: { type: 'string', required: true, path: true, describe: 'model folder' },
  out: { type: 'string', required: true, path: true, describe: 'run folder' },
  seed: { type: 'integer', min: 0, max: INT32_MAX, default: DEFAULT_SEED, describe: 'seed of every stage without its own' },
  threads: { ...THREADS_SPEC },
  prompts: { type: 'string', path: true, describe: 'prompts file' },
  stages: { type: 'list', choices: STAGES, default: [...STAGES], describe: 'stages run' },
};

export const STAGE_TABLES: Record<StageName, Record<string, OptionSpec>> = {
  pref: PREF_OPTIONS,
  dpo: DPO_OPTIONS,
  describe: DESCRIBE_OPTIONS,
  infuse: INFUSE_OPTIONS,
  sft: SFT_OPTIONS,
};

/** Reads the config file, applies `--set` overrides ("dpo.lr=1e-6"), and checks the result. */
export async function loadRunConfig(file: string, overrides: readonly string[] = []): Promise<RunConfig> {
  return parseRunConfig(file, await readConfigText(file), overrides);
}

export function parseRunConfig(file: string, text: string, overrides: readonly string[] = []): RunConfig {
  const sets = overrides.map(parseOverride);
  const value = applyParsedOverrides(parseConfigText(file, text), sets);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new Error(`${file}: expected a mapping of keys (${TOP_KEYS.join(', ')}) but received ${shownValue(value)}`);
  }
  const o = value as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!(TOP_KEYS as readonly string[]).includes(k)) throw unknownKey(file, '', k, TOP_KEYS);
  }
  // A key's source: a --set override of it (as written there), the file, or the default.
  const sourceOf = (top: string, name?: string): OptionSource =>
    sets.some((x) => x.top === top && x.key === name) ? SET_SOURCE : (name === undefined ? o[top] : (o[top] as Record<string, unknown> | undefined)?.[name]) !== undefined ? configSource(file) : DEFAULT_SOURCE;
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
  const sources = { run: Object.fromEntries(Object.keys(RUN_KEYS).map((k) => [k, sourceOf(k)])) } as RunConfig['sources'];
  const section = <T>(name: StageName, needed: boolean): T => {
    const s = stageSection<T>(file, dir, name, o[name], seed as number, needed);
    sources[name] = Object.fromEntries(Object.keys(s.names).map((k) => [k, s.names[k] === undefined ? (k === 'seed' ? sources.run.seed : DEFAULT_SOURCE) : sourceOf(name, s.names[k])]));
    return s.values;
  };
  const evalSection = (v: unknown): EvalSection => {
    const e = readEvalSection(file, dir, v);
    sources.eval = Object.fromEntries(Object.entries(e.names).map(([k, name]) => [k, name === undefined ? DEFAULT_SOURCE : sourceOf('eval', name)]));
    return e.section;
  };
  const runs = (s: StageName) => stages.includes(s);
  return {
    file,
    model,
    out,
    seed: seed as number,
    ...(prompts !== undefined ? { prompts } : {}),
    ...(threads !== undefined ? { threads: threads as number } : {}),
    stages,
    pref: section('pref', runs('pref')),
    dpo: section('dpo', runs('dpo')),
    // infuse reads describe's instructions, so they are needed when either runs.
    describe: section('describe', runs('describe') || runs('infuse')),
    infuse: section('infuse', runs('infuse')),
    sft: section('sft', runs('sft')),
    ...(o.eval !== undefined ? { eval: evalSection(o.eval) } : {}),
    sources,
  };
}

function parseStages(file: string, v: unknown): StageName[] {
  if (v === undefined) return [...STAGES];
  if (!Array.isArray(v) || v.length === 0 || !v.every((s) => (STAGES as readonly unknown[]).includes(s))) {
    throw new Error(`${file}: stages: expected a non-empty list of ${STAGES.join(', ')} but received ${shownValue(v)}`);
  }
  return STAGES.filter((s) => v.includes(s));
}

// One stage section: known keys only (flags, kebab-case or snake_case), no wired keys, values
// checked by the stage's option table. A stage that will not run still has its section checked for
// unknown keys, but its required keys may be absent. Returns the values and, for each option of the
// table that is not wired, the key as written in the file (undefined: not given).
function stageSection<T>(file: string, dir: string, name: StageName, v: unknown, seed: number, needed: boolean): { values: T; names: Record<string, string | undefined> } {
  const table = STAGE_TABLES[name];
  if (v !== undefined && (v === null || typeof v !== 'object' || Array.isArray(v))) {
    throw new Error(`${file}: ${name}: expected a mapping of ${name} options but received ${shownValue(v)}`);
  }
  const entries = configEntries(file, name, table, (v ?? {}) as Record<string, unknown>, dir, (_, spec) => !spec.wired);
  const values: Record<string, unknown> = {};
  for (const [key, e] of Object.entries(entries)) {
    if (table[key].wired) throw new Error(`${file}: ${name}.${e.name} is set by the pipeline from the previous stage's output and cannot be given`);
    if (name === 'sft' && (ADAPTER_SHAPE_KEYS as readonly string[]).includes(key)) {
      throw new Error(`${file}: sft.${e.name} cannot be given: stage 2b continues the stage-1 adapter and keeps its shape (set ${e.name} in the dpo section)`);
    }
    values[key] = e.value;
  }
  if ('seed' in table && values.seed === undefined) values.seed = seed;
  // Wired and not-needed required keys get placeholders so the table check passes; the pipeline
  // fills in wired ones, and a stage that does not run never reads its section.
  const filled = { ...values };
  for (const [key, spec] of Object.entries(table)) {
    if (spec.required && filled[key] === undefined && (spec.wired || !needed)) filled[key] = '(wired)';
  }
  const nameOf = (flag: string) => entries[keyOf(flag)]?.name ?? flag;
  const typed = validateOptions(table as OptionTable<Record<string, unknown>>, filled, (p) => `${file}: ${name}.${nameOf(p.flag)}: expected ${p.expected} but received ${shownValue(p.received)}`);
  for (const [key, spec] of Object.entries(table)) if (spec.wired) delete (typed as Record<string, unknown>)[key];
  if (name === 'dpo' || name === 'sft') {
    const t = typed as { batchSize: number; gradAccum: number };
    if (t.batchSize % t.gradAccum !== 0) {
      throw new Error(`${file}: ${name}.${nameOf('grad-accum')}: expected a divisor of ${name}.${nameOf('batch-size')} (${t.batchSize}) but received ${t.gradAccum}`);
    }
  }
  const names = Object.fromEntries(Object.entries(table).filter(([, spec]) => !spec.wired).map(([key]) => [key, entries[key]?.name]));
  return { values: typed as T, names };
}

interface Override {
  top: string;
  key?: string;
  value: unknown;
  text: string;
}

// "dpo.lr=1e-6" -> {top: dpo, key: lr, value: 1e-6}: VALUE read as YAML.
function parseOverride(o: string): Override {
  const m = /^([A-Za-z][\w-]*)(?:\.([A-Za-z][\w-]*))?=(.*)$/s.exec(o);
  if (!m) throw new Error(`--set ${o}: expected KEY=VALUE or SECTION.KEY=VALUE (e.g. dpo.lr=1e-6)`);
  const [, top, key, raw] = m;
  return { top, key, value: YAML.parse(raw === '' ? '""' : raw) as unknown, text: o };
}

/**
 * `--set KEY=VALUE` overrides, applied to the file's mapping before it is checked, so an override is
 * checked exactly like the file's own key: KEY is a top-level key or section.key (e.g. dpo.lr), VALUE
 * is read as YAML (1e-6 a number, true a boolean, [q, v] a list, anything else a string).
 */
export function applyOverrides(value: unknown, overrides: readonly string[]): unknown {
  return applyParsedOverrides(value, overrides.map(parseOverride));
}

function applyParsedOverrides(value: unknown, overrides: readonly Override[]): unknown {
  if (overrides.length === 0 || value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  const out = { ...(value as Record<string, unknown>) };
  for (const { top, key, value: v, text } of overrides) {
    if (key === undefined) {
      out[top] = v;
    } else {
      const section = out[top];
      if (section !== undefined && (section === null || typeof section !== 'object' || Array.isArray(section))) throw new Error(`--set ${text}: ${top} is not a section of the config`);
      // The override replaces the file's key however it is spelled (batch-size or batch_size).
      const rest = Object.entries((section ?? {}) as Record<string, unknown>).filter(([k]) => k.replace(/_/g, '-') !== key.replace(/_/g, '-'));
      out[top] = { ...Object.fromEntries(rest), [key]: v };
    }
  }
  return out;
}

/** The `--dry-run` listing of a config's options: the top-level keys, then each stage that runs. */
export function runOptionLines(cfg: RunConfig): string {
  const top = { model: cfg.model, out: cfg.out, seed: cfg.seed, threads: cfg.threads, prompts: cfg.prompts, stages: cfg.stages };
  let text = `options of ${cfg.file}:\n${optionLines(RUN_KEYS, top, cfg.sources.run)}`;
  for (const stage of cfg.stages) text += `${stage}:\n${optionLines(STAGE_TABLES[stage], cfg[stage] as Record<string, unknown>, cfg.sources[stage])}`;
  if (cfg.eval && cfg.sources.eval) {
    // The section keeps only the keys given; the others are stic eval's defaults.
    const e = cfg.eval as Record<string, unknown>;
    const values = Object.fromEntries(Object.entries(EVAL_SECTION_OPTIONS).map(([k, spec]) => [k, e[k] ?? spec.default]));
    text += `eval:\n${optionLines(EVAL_SECTION_OPTIONS, values, cfg.sources.eval)}`;
  }
  return text;
}
