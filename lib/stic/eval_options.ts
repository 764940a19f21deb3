// Options of `stic eval`, declared once for its flags, its --config file and the `eval:` section of
// a `stic run` config (which takes the benchmark keys, not the model, output or judge ones).
import type { ImageAspect } from '../data/model_image.ts';
import { JUDGE_DEFAULTS } from '../eval/judge.ts';
import { BENCHMARKS, type BenchName, DATA_HELP } from '../eval/registry.ts';
import { type OptionTable, THREADS_SPEC } from './options.ts';
import { IMAGE_ASPECT_OPTION } from './stage_options.ts';

/** What is asked of the benchmark: the keys a `stic run` eval section may give too. */
export interface EvalBenchOptions {
  bench: BenchName;
  data: string;
  imageRoot?: string;
  split?: string;
  limit?: number;
  instruction?: string;
  maxNewTokens?: number;
  answerAfter?: string;
  batchSize: number;
  describeFirst: boolean;
  describeTokens: number;
  imageAspect: ImageAspect;
}

export interface EvalOptions extends EvalBenchOptions {
  model: string;
  adapter?: string;
  name?: string;
  out: string;
  judgeUrl?: string;
  judgeModel?: string;
  judgeKeyEnv?: string;
  judgePrompt?: string;
  judgeRetries: number;
  judgeRpm: number;
  judgeTimeout: number;
  threads?: number;
}

const BENCH_LIST = BENCHMARKS.map((b) => `${b}: ${DATA_HELP[b]}`).join('; ');

export const EVAL_BENCH_OPTIONS: OptionTable<EvalBenchOptions> = {
  bench: { type: 'string', choices: BENCHMARKS, required: true, describe: 'Which benchmark to run (read in its official format, see --data)' },
  data: { type: 'string', path: true, required: true, describe: `The benchmark's files as distributed (${BENCH_LIST})` },
  imageRoot: { type: 'string', path: true, describe: 'Image folder (default: where the official layout puts it, see --data)' },
  split: { type: 'string', describe: 'Split (default: scienceqa test, mmbench dev, textvqa val, chartqa test, pope: every split file given, mathvista testmini)' },
  limit: { type: 'integer', min: 1, describe: 'Ask only the first N questions (default: all)' },
  instruction: { type: 'string', empty: true, describe: 'Replaces the instruction appended to each question, "" for none (default: LLaVA\'s: "Answer the question using a single word or phrase." or "Answer with the option\'s letter from the given choices directly.")' },
  maxNewTokens: { type: 'integer', min: 1, describe: 'New tokens per answer (default: 16 for short answers and options, 8 for POPE, 512 for judged benchmarks; 96 for a toy model pretrained with --reasoned)' },
  answerAfter: { type: 'string', describe: 'Score only what follows the last occurrence of this text in each answer, for a model that reasons before it answers; predictions.jsonl keeps the whole answer (default: ", so " for a toy model pretrained with --reasoned, else the whole answer)' },
  batchSize: { type: 'integer', min: 1, default: 8, describe: 'Requests per generation batch' },
  describeFirst: { type: 'boolean', default: false, describe: 'Describe-and-respond: the model describes each image first and the description goes before the question' },
  describeTokens: { type: 'integer', min: 1, default: 256, describe: 'New tokens of a --describe-first description' },
  imageAspect: IMAGE_ASPECT_OPTION,
};

export const EVAL_OPTIONS: OptionTable<EvalOptions> = {
  model: { type: 'string', path: true, required: true, describe: 'Model directory in Hugging Face layout' },
  adapter: { type: 'string', path: true, describe: 'Adapter folder (stic dpo / stic sft output) applied to the model (default: none, the base model)' },
  name: { type: 'string', describe: 'Column name of this model in the comparison and its folder in --out (default: the adapter\'s or model\'s folder name)' },
  ...EVAL_BENCH_OPTIONS,
  out: { type: 'string', path: true, required: true, describe: 'Output folder: <name>/<bench>-<split>/ (predictions, scores, results) and comparison.{md,json,png}' },
  judgeUrl: { type: 'string', describe: 'OpenAI-compatible endpoint of the judge, e.g. https://api.openai.com/v1 (default: none; required for mmvet, llava-bench, mathvista)' },
  judgeModel: { type: 'string', describe: 'Judge model name, e.g. gpt-4-0613 (default: none; required with --judge-url)' },
  judgeKeyEnv: { type: 'string', describe: `Environment variable holding the judge's API key (default: ${JUDGE_DEFAULTS.apiKeyEnv} when it is set, else no key)` },
  judgePrompt: { type: 'string', path: true, describe: 'JSON file replacing the judge prompt (default: lib/eval/judge_prompts/<bench>.json)' },
  judgeRetries: { type: 'integer', min: 0, default: JUDGE_DEFAULTS.maxRetries, describe: 'Retries of a failed judge request (network, timeout, HTTP 429/5xx)' },
  judgeRpm: { type: 'integer', min: 0, default: JUDGE_DEFAULTS.requestsPerMinute, describe: 'Judge requests per minute at most (0: no limit)' },
  judgeTimeout: { type: 'integer', min: 1, default: JUDGE_DEFAULTS.timeoutMs / 1000, describe: 'Seconds to wait for one judge reply' },
  threads: { ...THREADS_SPEC, describe: 'CPU threads, at most 1024 (default: all cores, or STIC_THREADS)' },
};
