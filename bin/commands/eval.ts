// `stic eval`: a model (optionally base + adapter) on one benchmark in its official format, scored as
// the benchmark's official script scores (lib/eval/). Results per benchmark and a comparison across
// every model evaluated into the same --out.
import { readFile } from 'node:fs/promises';
import path from 'node:path';

import type { CommandModule } from 'yargs';

import { JUDGE_DEFAULTS } from '../../lib/eval/judge.ts';
import { formatComparisonMarkdown, formatResultMarkdown } from '../../lib/eval/report.ts';
import { runEval } from '../../lib/eval/run_eval.ts';
import { CONFIG_FLAGS, shownDryRun } from '../../lib/stic/cli_common.ts';
import { resolveOptions } from '../../lib/stic/command_options.ts';
import { openImages, openInference } from '../../lib/stic/engines.ts';
import { EVAL_OPTIONS } from '../../lib/stic/eval_options.ts';
import { yargsOptions } from '../../lib/stic/options.ts';
import { flagPath, guardOutputs, modelInputs } from '../../lib/stic/output_guard.ts';
import { native } from '../../lib/native/index.ts';
import { progressFactory } from '../../lib/util/progress.ts';

export const command: CommandModule<object, Record<string, unknown>> = {
  command: 'eval',
  describe: 'Evaluate a model (base, or base + adapter) on a benchmark in its official format, scored as its official script scores',
  builder: (y) =>
    y
      .options({ ...CONFIG_FLAGS, ...yargsOptions(EVAL_OPTIONS) })
      .example('$0 eval --model models/toy-llava --bench pope --data data/pope/coco_pope_random.json --out runs/eval', '') as never,
  handler: async (args) => {
    const r = await resolveOptions(EVAL_OPTIONS, args);
    if (shownDryRun(args, EVAL_OPTIONS, r)) return;
    const o = r.options;
    if ((o.judgeUrl === undefined) !== (o.judgeModel === undefined)) throw new Error('--judge-url and --judge-model go together: give both or neither');
    const threads = o.threads;
    if (threads !== undefined) native().setThreads(threads);
    const keyEnv = o.judgeKeyEnv ?? (process.env[JUDGE_DEFAULTS.apiKeyEnv] ? JUDGE_DEFAULTS.apiKeyEnv : undefined);
    const io = {
      inputs: [...modelInputs(o), flagPath('data', o.data), flagPath('image-root', o.imageRoot), flagPath('judge-prompt', o.judgePrompt)],
      outputs: [flagPath('out', o.out)],
      lock: [path.resolve(o.out)], // the results folder itself: evaluations into other folders run side by side
    };
    const images = await openImages();
    const stored = await guardOutputs(io, () => runEval(
      {
        name: o.name ?? path.basename(path.resolve(o.adapter ?? o.model)),
        model: o.model,
        adapter: o.adapter,
        bench: o.bench,
        data: o.data,
        imageRoot: o.imageRoot,
        split: o.split,
        limit: o.limit,
        instruction: o.instruction,
        maxNewTokens: o.maxNewTokens,
        answerAfter: o.answerAfter,
        batchSize: o.batchSize,
        describeFirst: o.describeFirst,
        describeTokens: o.describeTokens,
        out: o.out,
        judge: o.judgeUrl === undefined ? undefined : {
          url: o.judgeUrl,
          model: o.judgeModel as string,
          apiKeyEnv: keyEnv,
          maxRetries: o.judgeRetries,
          requestsPerMinute: o.judgeRpm,
          timeoutMs: o.judgeTimeout * 1000,
        },
        judgePrompt: o.judgePrompt,
        threads,
        imageAspect: o.imageAspect,
      },
      { open: openInference, images, progress: progressFactory({ unit: 'answers' }), log: (t) => process.stderr.write(t) },
    ));
    process.stdout.write(formatResultMarkdown(stored));
    process.stdout.write(`\ncomparison (${path.join(o.out, 'comparison.md')}):\n\n`);
    process.stdout.write(await readFile(path.join(o.out, 'comparison.md'), 'utf8').catch(() => formatComparisonMarkdown({ models: [], rows: [] })));
  },
};
