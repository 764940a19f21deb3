// Stage 2b as `stic sft` and `stic run` call it: the description-infused samples read and accounted
// for, what was read printed, then supervised fine-tuning through the training engine (train_run.ts),
// continuing --init-adapter, with the --min-kept check (train_account.ts).
import type { TrainingEngine } from '../engine_api.ts';
import type { SftOptions } from '../train_options.ts';
import type { StageEnv, StageResult } from './stage_io.ts';
import { TrainAccount, trainAccounted } from './train_account.ts';
import { loadSftData } from './train_data.ts';
import { type TrainRunOutput, runTraining } from './train_run.ts';

export async function executeSft(env: StageEnv, o: SftOptions, out: string, trainer: () => Promise<TrainingEngine>): Promise<StageResult & { run: TrainRunOutput }> {
  const data = await loadSftData(o.data, { imageRoot: o.imageRoot });
  const account = new TrainAccount('sft', o.data, data.examples.length + data.skips.count, 'samples', data.skips);
  const lines = [`sft: ${data.examples.length} samples from ${o.data} (${data.textOnly} text-only)${o.initAdapter ? `, continuing ${o.initAdapter}` : ''}`];
  if (data.imageTokenAdded) lines.push(`sft: ${data.imageTokenAdded} samples with an image had no image token in their first turn; it was put in front`);
  lines.push(...account.report());
  env.log(`${lines.join('\n')}\n`);
  const engine = await trainer();
  const run = await trainAccounted(account, out, o.minKept, (counted, onData) =>
    runTraining(engine, { kind: 'sft', job: { model: env.model, out, resume: true, threads: env.threads, initAdapter: o.initAdapter, examples: data.examples, options: o } }, (r) => [
      ['stage', 'sft (STIC stage 2b)'],
      ['model', env.model],
      counted(r),
    ], env.progress, onData),
  );
  return { report: run.summary + account.report().map((l) => `${l}\n`).join(''), run, counts: { samples: account.trained, skipped: account.skips.count, truncated: account.truncated, steps: run.result.steps } };
}
