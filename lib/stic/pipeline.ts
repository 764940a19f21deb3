// `stic run`: the five stages from one config, in order, each wired to the previous stage's output
// in the run folder:
//   pref -> <out>/pref.jsonl -> dpo -> <out>/dpo/ -> describe -> <out>/descriptions.jsonl
//        -> infuse -> <out>/infused.json -> sft -> <out>/sft/
// A stage whose manifest says it is complete for the same inputs and options is skipped; a partial
// one is run again and resumes (append-only outputs, training checkpoints); a stale one stops the
// run with what changed and what to delete. A dry run prints the same decisions without running.
import { existsSync } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import path from 'node:path';

import { ioProblem } from '../data/records/faults.ts';
import { ADAPTER_CONFIG, ADAPTER_WEIGHTS, PROJECTOR_WEIGHTS } from '../train/adapter_io.ts';
import { ADAMW_DEFAULTS } from '../train/train_options.ts';
import { portablePaths } from '../util/portable_path.ts';
import type { TrainingEngine } from './engine_api.ts';
import { type StageState, hashFile, hashOptions, hashPath, manifestPath, stageState, writeManifest } from './manifest.ts';
import { loadPrompts } from '../data/prompts.ts';
import { type RunConfig, STAGES, type StageName } from './run_config.ts';
import { type RunEvalDeps, runEvalSection } from './run_eval.ts';
import { executeDescribe } from './stages/describe.ts';
import { executeDpo } from './stages/dpo.ts';
import { executeInfuse } from './stages/infuse.ts';
import { executePref, prefImageRoot } from './stages/pref.ts';
import { executeSft } from './stages/sft.ts';
import type { StageEnv, StageResult } from './stages/stage_io.ts';

/** The engines of a run (the trainer besides those its eval section uses), its progress bars and messages. */
export interface RunDeps extends RunEvalDeps {
  openTraining: () => Promise<TrainingEngine>;
}

export function stageOutputs(out: string): Record<StageName, string> {
  return {
    pref: path.join(out, 'pref.jsonl'),
    dpo: path.join(out, 'dpo'),
    describe: path.join(out, 'descriptions.jsonl'),
    infuse: path.join(out, 'infused.json'),
    sft: path.join(out, 'sft'),
  };
}

/** Which stage's output each stage reads (besides user-given inputs). */
const UPSTREAM: Record<StageName, StageName[]> = { pref: [], dpo: ['pref'], describe: ['dpo'], infuse: ['describe'], sft: ['infuse', 'dpo'] };

export interface PlannedStage {
  stage: StageName;
  output: string;
  /** What a run would do, in words, e.g. "skip (complete: 5980 pairs)". */
  action: string;
  willRun: boolean;
}

export interface RunOptions {
  dryRun?: boolean;
  /** Stages whose outputs are deleted first, so they run from scratch. */
  redo?: StageName[];
}

export async function runPipeline(cfg: RunConfig, deps: RunDeps, opts: RunOptions = {}): Promise<PlannedStage[]> {
  const outputs = stageOutputs(cfg.out);
  const prompts = await loadPrompts(cfg.prompts);
  const env: StageEnv = { model: cfg.model, threads: cfg.threads, prompts, progress: deps.progress, log: deps.log };
  opts = { ...opts, redo: withDownstream(opts.redo ?? []) };
  if (opts.redo?.length && !opts.dryRun) {
    for (const s of opts.redo) {
      await rm(outputs[s], { recursive: true, force: true });
      await rm(manifestPath(outputs[s]), { force: true });
    }
  }
  const planned: PlannedStage[] = [];
  const running = new Set<StageName>();
  const blocked = new Set<StageName>();
  for (const stage of cfg.stages) {
    const stuck = UPSTREAM[stage].filter((u) => blocked.has(u));
    if (stuck.length) {
      planned.push({ stage, output: outputs[stage], action: `blocked (${stuck.join(', ')} cannot run)`, willRun: false });
      blocked.add(stage);
      continue;
    }
    const ups = UPSTREAM[stage].filter((u) => running.has(u));
    if (opts.dryRun && ups.length) {
      planned.push({ stage, output: outputs[stage], action: `run (after ${ups.join(', ')}, whose output it reads)`, willRun: true });
      running.add(stage);
      continue;
    }
    if (opts.dryRun && opts.redo?.includes(stage)) {
      planned.push({ stage, output: outputs[stage], action: 'run from scratch (--redo)', willRun: true });
      running.add(stage);
      continue;
    }
    await requireUpstream(cfg, stage, outputs);
    const { inputs, options, values } = await fingerprint(cfg, stage, outputs, prompts);
    const st = await stageState(outputs[stage], inputs, options, values);
    const entry = describeState(stage, outputs[stage], st);
    planned.push(entry);
    if (st.state === 'stale' && opts.dryRun) {
      blocked.add(stage);
      continue;
    }
    if (st.state === 'stale') throw new Error(`${stage}: ${outputs[stage]} is stale: ${st.reason}. Delete ${outputs[stage]} and ${manifestPath(outputs[stage])} (or pass --redo ${stage}) to make it again`);
    if (!entry.willRun) {
      deps.log(`${stage}: ${entry.action}\n`);
      continue;
    }
    running.add(stage);
    if (opts.dryRun) continue;
    deps.log(`${stage}: ${entry.action}\n`);
    const result = await execute(cfg, stage, env, outputs, deps);
    deps.log(result.report);
    await writeManifest(outputs[stage], stage, inputs, { hash: options, values }, result.counts);
  }
  if (cfg.eval) {
    const e = cfg.eval;
    if (opts.dryRun) deps.log(`eval: ${e.models.join(', ')} on ${e.bench} into ${path.join(cfg.out, 'eval')} (each resumes its predictions)\n`);
    else await runEvalSection({ model: cfg.model, out: cfg.out, threads: cfg.threads, eval: e }, outputs, deps);
  }
  return planned;
}

function describeState(stage: StageName, output: string, st: StageState): PlannedStage {
  switch (st.state) {
    case 'complete':
      return { stage, output, action: `skip (complete: ${Object.entries(st.manifest.counts).map(([k, v]) => `${v} ${k}`).join(', ')})`, willRun: false };
    case 'partial':
      return { stage, output, action: 'resume (output present without a completion manifest)', willRun: true };
    case 'absent':
      return { stage, output, action: 'run', willRun: true };
    case 'stale':
      return { stage, output, action: `stale (${st.reason})`, willRun: false };
  }
}

// A stage reads its upstream stages' outputs, which must be complete (their manifest written).
async function requireUpstream(cfg: RunConfig, stage: StageName, outputs: Record<StageName, string>): Promise<void> {
  for (const up of UPSTREAM[stage]) {
    try {
      await stat(manifestPath(outputs[up]));
    } catch {
      const why = cfg.stages.includes(up) ? 'it did not finish' : `${up} is not in this run's stages`;
      throw new Error(`${stage}: needs the complete output of ${up} (${outputs[up]}), which is missing or unfinished (${why})`);
    }
  }
}

// Option keys (and the model) that hold paths.
const PATH_OPTIONS = new Set(['model', 'images', 'imageRoot', 'instructions', 'descriptions', 'data', 'prefs', 'evalPrefs', 'initAdapter']);

// The inputs and options that decide whether an existing output is still valid.
/** The stages to redo: those named and every stage that reads their outputs, directly or not. */
export function withDownstream(redo: readonly StageName[]): StageName[] {
  const out = new Set<StageName>(redo);
  // STAGES is in pipeline order: a stage comes after those it reads.
  for (const stage of STAGES) if (UPSTREAM[stage].some((u) => out.has(u))) out.add(stage);
  return STAGES.filter((s) => out.has(s));
}

async function fingerprint(cfg: RunConfig, stage: StageName, outputs: Record<StageName, string>, prompts: unknown): Promise<Fingerprint> {
  const f = await fingerprintParts(cfg, stage, outputs, prompts);
  // Paths enter the options relative to the run folder: a run moved with its inputs stays complete.
  const values = portablePaths(f.options, cfg.out, PATH_OPTIONS) as Record<string, unknown>;
  return { inputs: f.inputs, options: hashOptions(values), values };
}

interface Fingerprint {
  inputs: Record<string, string>;
  /** Hash of `values`. */
  options: string;
  /** The options themselves (kept in the manifest, so that a stale stage can say what changed). */
  values: Record<string, unknown>;
}

async function fingerprintParts(cfg: RunConfig, stage: StageName, outputs: Record<StageName, string>, prompts: unknown): Promise<{ inputs: Record<string, string>; options: Record<string, unknown> }> {
  const p = prompts as { detailed: string; plain: string[]; hallucination: string[]; infusion: string };
  switch (stage) {
    case 'pref':
      return {
        inputs: { images: await givenInput(cfg, 'pref.images', cfg.pref.images, () => hashPath(cfg.pref.images, 'size')) },
        options: { model: cfg.model, options: cfg.pref, prompts: { detailed: p.detailed, plain: p.plain, hallucination: p.hallucination } },
      };
    case 'dpo':
      return {
        inputs: {
          prefs: await hashFile(outputs.pref),
          ...(cfg.dpo.evalPrefs !== undefined ? { eval_prefs: await givenInput(cfg, 'dpo.eval-prefs', cfg.dpo.evalPrefs, () => hashFile(cfg.dpo.evalPrefs as string)) } : {}),
        },
        options: { model: cfg.model, options: withoutDefaultAdamW(withoutIdleEval(cfg.dpo)) },
      };
    case 'describe':
      return {
        inputs: { instructions: await givenInput(cfg, 'describe.instructions', cfg.describe.instructions, () => hashFile(cfg.describe.instructions)), adapter: await hashAdapter(outputs.dpo) },
        options: { model: cfg.model, options: cfg.describe, prompts: p.plain },
      };
    case 'infuse':
      return {
        inputs: { instructions: await givenInput(cfg, 'describe.instructions', cfg.describe.instructions, () => hashFile(cfg.describe.instructions)), descriptions: await hashFile(outputs.describe) },
        options: { options: cfg.infuse, infusion: p.infusion },
      };
    case 'sft':
      return { inputs: { data: await hashFile(outputs.infuse), adapter: await hashAdapter(outputs.dpo) }, options: { model: cfg.model, options: withoutDefaultAdamW(cfg.sft) } };
  }
}

// The dpo options that decide its output: eval-every only with held-out pairs (so a run finished
// before there were held-out pairs stays complete).
function withoutIdleEval(o: RunConfig['dpo']): Record<string, unknown> {
  if (o.evalPrefs !== undefined) return o as unknown as Record<string, unknown>;
  const { evalEvery: _every, ...rest } = o;
  return rest;
}

// The training options without the AdamW ones at their defaults: a stage finished before they
// were options (it ran with the defaults) stays complete.
function withoutDefaultAdamW<T extends object>(o: T): Record<string, unknown> {
  const out = { ...o } as Record<string, unknown>;
  for (const [k, v] of Object.entries(ADAMW_DEFAULTS)) if (out[k] === v) delete out[k];
  return out;
}

// A hash of an input the config names; a path that cannot be read says which key and file.
async function givenInput(cfg: RunConfig, key: string, file: string, hash: () => Promise<string>): Promise<string> {
  try {
    return await hash();
  } catch (err) {
    throw new Error(`${cfg.file}: ${key}: cannot read ${file} (${ioProblem(err)})`);
  }
}

// What a later stage reads of a training stage's folder: the adapter and the projector beside it
// (not the metrics, whose tokens_per_s is wall-clock, nor checkpoints), so a resumed stage-1 run
// that ends with the same weights leaves the stages after it valid.
async function hashAdapter(dir: string): Promise<string> {
  const parts: string[] = [];
  for (const f of [ADAPTER_CONFIG, ADAPTER_WEIGHTS, PROJECTOR_WEIGHTS]) {
    const file = path.join(dir, f);
    parts.push(`${f}:${existsSync(file) ? await hashFile(file) : 'absent'}`);
  }
  return hashOptions(parts);
}

async function execute(cfg: RunConfig, stage: StageName, env: StageEnv, outputs: Record<StageName, string>, deps: RunDeps): Promise<StageResult> {
  const engines = { open: deps.openInference, images: deps.openImages };
  switch (stage) {
    case 'pref':
      return executePref(env, cfg.pref, outputs.pref, engines);
    case 'dpo': {
      const imageRoot = cfg.dpo.imageRoot ?? (await prefImageRoot(cfg.pref.images, cfg.pref.imageRoot));
      return executeDpo(env, { ...cfg.dpo, prefs: outputs.pref, imageRoot }, outputs.dpo, deps.openTraining, cfg.dpo.imageRoot);
    }
    case 'describe':
      return executeDescribe(env, cfg.describe, outputs.describe, outputs.dpo, engines);
    case 'infuse':
      return executeInfuse(env, { ...cfg.infuse, instructions: cfg.describe.instructions, descriptions: outputs.describe }, outputs.infuse);
    case 'sft': {
      const imageRoot = cfg.sft.imageRoot ?? path.resolve(cfg.describe.imageRoot ?? path.dirname(cfg.describe.instructions));
      return executeSft(env, { ...cfg.sft, data: outputs.infuse, initAdapter: outputs.dpo, imageRoot }, outputs.sft, deps.openTraining);
    }
  }
}
