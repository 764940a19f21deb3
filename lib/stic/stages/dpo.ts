// Stage 1b as `stic dpo` and `stic run` call it: the preference pairs (and held-out pairs) read and
// accounted for, what was read printed, then DPO through the training engine (train_run.ts) with the
// --min-kept check (train_account.ts).
import type { TrainResult, TrainingEngine } from '../engine_api.ts';
import type { DpoOptions } from '../train_options.ts';
import type { StageEnv, StageResult } from './stage_io.ts';
import { TrainAccount, trainAccounted } from './train_account.ts';
import { type DpoData, loadDpoData } from './train_data.ts';
import { type TrainRunOutput, runTraining } from './train_run.ts';

/**
 * Stage 1b. `evalImageRoot`: what the held-out pairs' relative image paths resolve against when they
 * do not say (default o.imageRoot; `stic run` sets the training pairs' root alone).
 */
export async function executeDpo(env: StageEnv, o: DpoOptions, out: string, trainer: () => Promise<TrainingEngine>, evalImageRoot = o.imageRoot): Promise<StageResult & { run: TrainRunOutput }> {
  const dataOptions = { refLogps: o.refLogps, reproduceMissingImageToken: o.reproduceMissingImageToken };
  const data = await loadDpoData(o.prefs, { ...dataOptions, imageRoot: o.imageRoot });
  const held = o.evalPrefs === undefined ? null : await loadDpoData(o.evalPrefs, { ...dataOptions, imageRoot: evalImageRoot });
  const account = new TrainAccount('dpo', o.prefs, data.examples.length + data.skips.count, 'pairs', data.skips);
  const lines = [`dpo: ${data.examples.length} pairs from ${o.prefs} (${formatCounts(data.formats)}), reference log-probs: ${data.reference}`];
  if (data.imageTokenRestored) lines.push(`dpo: ${data.imageTokenRestored} pairs had lost the image token in their prompt; it was put back (--reproduce-missing-image-token trains without it)`);
  if (data.imageTokenMissing) lines.push(`dpo: ${data.imageTokenMissing} pairs train WITHOUT the image token (--reproduce-missing-image-token)`);
  lines.push(...account.report());
  if (held) lines.push(...heldOutLines(o, held));
  env.log(`${lines.join('\n')}\n`);
  const engine = await trainer();
  const job = { model: env.model, out, resume: true, threads: env.threads, examples: data.examples, ...(held ? { evalExamples: held.examples } : {}), options: o };
  const run = await trainAccounted(account, out, o.minKept, (counted, onData) =>
    runTraining(engine, { kind: 'dpo', job }, (r) => [
      ['stage', 'dpo (STIC stage 1b)'],
      ['model', env.model],
      counted(r),
      ...(held ? [heldOutHeader(o.evalPrefs as string, held, r)] : []),
    ], env.progress, onData),
  );
  return { report: run.summary + account.report().map((l) => `${l}\n`).join(''), run, counts: { pairs: account.trained, skipped: account.skips.count, truncated: account.truncated, steps: run.result.steps, ...(held ? { eval_pairs: run.result.eval?.kept ?? 0 } : {}) } };
}

// What was read of --eval-prefs: the count and formats, every skipped record (first few).
function heldOutLines(o: DpoOptions, held: DpoData): string[] {
  const every = o.evalEvery > 0 ? `every ${o.evalEvery} steps` : 'every quarter of the steps';
  return [
    `dpo: ${held.examples.length} held-out pairs from ${o.evalPrefs} (${formatCounts(held.formats)}), evaluated ${every} and at the end`,
    ...(held.skips.count ? held.skips.report(5, 'held-out pairs').map((l) => `dpo: --eval-prefs: ${l}`) : []),
  ];
}

// The summary line of the held-out pairs: evaluated of read, with what reading and tokenising left out.
function heldOutHeader(file: string, held: DpoData, r: TrainResult): [string, string] {
  const total = held.examples.length + held.skips.count;
  const report = r.eval ?? { kept: held.examples.length, skipped: [], truncated: [] };
  const skipped = held.skips.count + report.skipped.length;
  const parts = [`${skipped} skipped`, ...(report.truncated.length ? [`${report.truncated.length} truncated to --max-length`] : [])];
  return ['eval pairs', `${report.kept} of ${total} in ${file} (${parts.join(', ')})`];
}

// "3 ours, 0 public STIC format, 2 TRL format": the shapes the pairs came in (TRL's only when there are some).
function formatCounts(f: DpoData['formats']): string {
  const names = { stic: 'ours', 'stic-public': 'public STIC format', trl: 'TRL format' } as const;
  return (Object.keys(names) as (keyof typeof names)[]).filter((k) => k !== 'trl' || f[k] > 0).map((k) => `${f[k]} ${names[k]}`).join(', ');
}
