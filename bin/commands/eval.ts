// `stic eval`: a model (optionally base + adapter) on one benchmark in its official format, scored as
// the benchmark's official script scores (lib/eval/). Results per benchmark and a comparison across
// every model evaluated into the same --out.
import { readFile } from 'node:fs/promises';
import path from 'node:path';

import type { CommandModule } from 'yargs';

import { BENCHMARKS, type BenchName, DATA_HELP } from '../../lib/eval/registry.ts';
import { JUDGE_DEFAULTS } from '../../lib/eval/judge.ts';
import { formatComparisonMarkdown, formatResultMarkdown } from '../../lib/eval/report.ts';
import { runEval } from '../../lib/eval/run_eval.ts';
import type { ImageAspect } from '../../lib/data/model_image.ts';
import { IMAGE_ASPECT_FLAG, THREADS_FLAG } from '../../lib/stic/cli_common.ts';
import { openImages, openInference } from '../../lib/stic/engines.ts';
import { checkThreads } from '../../lib/stic/options.ts';
import { flagPath, guardOutputs, modelInputs } from '../../lib/stic/output_guard.ts';
import { native } from '../../lib/native/index.ts';
import { progressFactory } from '../../lib/util/progress.ts';

interface EvalArgs {
  model: string;
  adapter?: string;
  name?: string;
  bench: BenchName;
  data: string;
  'image-root'?: string;
  split?: string;
  limit?: number;
  instruction?: string;
  'max-new-tokens'?: number;
  'batch-size': number;
  'describe-first': boolean;
  'describe-tokens': number;
  out: string;
  'judge-url'?: string;
  'judge-model'?: string;
  'judge-key-env'?: string;
  'judge-prompt'?: string;
  'judge-retries': number;
  'judge-rpm': number;
  'judge-timeout': number;
  'image-aspect': ImageAspect;
  threads?: number;
}

const BENCH_LIST = BENCHMARKS.map((b) => `${b}: ${DATA_HELP[b]}`).join('; ');

export const command: CommandModule<object, EvalArgs> = {
  command: 'eval',
  describe: 'Evaluate a model (base, or base + adapter) on a benchmark in its official format, scored as its official script scores',
  builder: (y) =>
    y
      .options({
        model: { type: 'string', demandOption: true, describe: 'Model directory in Hugging Face layout' },
        adapter: { type: 'string', describe: 'Adapter folder (stic dpo / stic sft output) applied to the model (default: none, the base model)' },
        name: { type: 'string', describe: 'Column name of this model in the comparison and its folder in --out (default: the adapter\'s or model\'s folder name)' },
        bench: { type: 'string', choices: BENCHMARKS, demandOption: true, describe: 'Which benchmark to run (read in its official format, see --data)' },
        data: { type: 'string', demandOption: true, describe: `The benchmark's files as distributed (${BENCH_LIST})` },
        'image-root': { type: 'string', describe: 'Image folder (default: where the official layout puts it, see --data)' },
        split: { type: 'string', describe: 'Split (default: scienceqa test, mmbench dev, textvqa val, chartqa test, pope: every split file given, mathvista testmini)' },
        limit: { type: 'number', describe: 'Ask only the first N questions (default: all)' },
        instruction: { type: 'string', describe: 'Replaces the instruction appended to each question, "" for none (default: LLaVA\'s: "Answer the question using a single word or phrase." or "Answer with the option\'s letter from the given choices directly.")' },
        'max-new-tokens': { type: 'number', describe: 'New tokens per answer (default: 16 for short answers and options, 8 for POPE, 512 for judged benchmarks)' },
        'batch-size': { type: 'number', default: 8, describe: 'Requests per generation batch' },
        'describe-first': { type: 'boolean', default: false, describe: 'Describe-and-respond: the model describes each image first and the description goes before the question' },
        'describe-tokens': { type: 'number', default: 256, describe: 'New tokens of a --describe-first description' },
        out: { type: 'string', demandOption: true, describe: 'Output folder: <name>/<bench>-<split>/ (predictions, scores, results) and comparison.{md,json,png}' },
        'judge-url': { type: 'string', describe: 'OpenAI-compatible endpoint of the judge, e.g. https://api.openai.com/v1 (default: none; required for mmvet, llava-bench, mathvista)' },
        'judge-model': { type: 'string', describe: 'Judge model name, e.g. gpt-4-0613 (default: none; required with --judge-url)' },
        'judge-key-env': { type: 'string', describe: `Environment variable holding the judge's API key (default: ${JUDGE_DEFAULTS.apiKeyEnv} when it is set, else no key)` },
        'judge-prompt': { type: 'string', describe: 'JSON file replacing the judge prompt (default: lib/eval/judge_prompts/<bench>.json)' },
        'judge-retries': { type: 'number', default: JUDGE_DEFAULTS.maxRetries, describe: 'Retries of a failed judge request (network, timeout, HTTP 429/5xx)' },
        'judge-rpm': { type: 'number', default: JUDGE_DEFAULTS.requestsPerMinute, describe: 'Judge requests per minute at most (0: no limit)' },
        'judge-timeout': { type: 'number', default: JUDGE_DEFAULTS.timeoutMs / 1000, describe: 'Seconds to wait for one judge reply' },
        'image-aspect': IMAGE_ASPECT_FLAG,
        threads: THREADS_FLAG,
      })
      .example('$0 eval --model models/toy-llava --bench pope --data data/pope/coco_pope_random.json --out runs/eval', '') as never,
  handler: async (args) => {
    for (const [flag, min] of [['batch-size', 1], ['limit', 1], ['max-new-tokens', 1], ['describe-tokens', 1], ['judge-retries', 0], ['judge-rpm', 0], ['judge-timeout', 1]] as const) {
      const v = args[flag];
      if (v !== undefined && !(Number.isInteger(v) && v >= min)) throw new Error(`Expected an integer >= ${min} for --${flag} but received ${v}`);
    }
    if ((args['judge-url'] === undefined) !== (args['judge-model'] === undefined)) throw new Error('--judge-url and --judge-model go together: give both or neither');
    const threads = checkThreads(args.threads);
    if (threads !== undefined) native().setThreads(threads);
    const keyEnv = args['judge-key-env'] ?? (process.env[JUDGE_DEFAULTS.apiKeyEnv] ? JUDGE_DEFAULTS.apiKeyEnv : undefined);
    const io = {
      inputs: [...modelInputs(args), flagPath('data', args.data), flagPath('image-root', args['image-root']), flagPath('judge-prompt', args['judge-prompt'])],
      outputs: [flagPath('out', args.out)],
      lock: [path.resolve(args.out)], // the results folder itself: evaluations into other folders run side by side
    };
    const images = await openImages();
    const stored = await guardOutputs(io, () => runEval(
      {
        name: args.name ?? path.basename(path.resolve(args.adapter ?? args.model)),
        model: args.model,
        adapter: args.adapter,
        bench: args.bench,
        data: args.data,
        imageRoot: args['image-root'],
        split: args.split,
        limit: args.limit,
        instruction: args.instruction,
        maxNewTokens: args['max-new-tokens'],
        batchSize: args['batch-size'],
        describeFirst: args['describe-first'],
        describeTokens: args['describe-tokens'],
        out: args.out,
        judge: args['judge-url'] === undefined ? undefined : {
          url: args['judge-url'],
          model: args['judge-model'] as string,
          apiKeyEnv: keyEnv,
          maxRetries: args['judge-retries'],
          requestsPerMinute: args['judge-rpm'],
          timeoutMs: args['judge-timeout'] * 1000,
        },
        judgePrompt: args['judge-prompt'],
        threads,
        imageAspect: args['image-aspect'],
      },
      { open: openInference, images, progress: progressFactory({ unit: 'answers' }), log: (t) => process.stderr.write(t) },
    ));
    process.stdout.write(formatResultMarkdown(stored));
    process.stdout.write(`\ncomparison (${path.join(args.out, 'comparison.md')}):\n\n`);
    process.stdout.write(await readFile(path.join(args.out, 'comparison.md'), 'utf8').catch(() => formatComparisonMarkdown({ models: [], rows: [] })));
  },
};
