// One evaluation: a model (optionally with an adapter) on one benchmark split. Read the benchmark,
// check that a judge is configured when it needs one (before any generation), generate the missing
// answers, score, write the per-benchmark results and rewrite the comparison across everything
// evaluated into the same output folder.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';

import type { ImageAspect } from '../data/model_image.ts';
import type { ImageApi, OpenInference } from '../engine/inference_api.ts';
import { ADAPTER_CONFIG, ADAPTER_WEIGHTS, PROJECTOR_WEIGHTS } from '../train/adapter_io.ts';
import type { ProgressFactory } from '../util/progress.ts';
import { JudgeClient, type JudgeOptions } from './judge.ts';
import { predict } from './predict.ts';
import { REASONED_ANSWER_TOKENS, toyAnswersReasoned } from '../toy/answer_form.ts';
import { REASONED_SEPARATOR, finalAnswer } from '../toy/text.ts';
import { type BenchName, loadBenchmark } from './registry.ts';
import { type StoredResult, benchFolder, writeBenchResult, writeComparison } from './report.ts';

export interface EvalJob {
  /** Column name of the model in the comparison ("base", "stage1", ...). */
  name: string;
  model: string;
  adapter?: string;
  bench: BenchName;
  data: string;
  imageRoot?: string;
  split?: string;
  limit?: number;
  instruction?: string;
  maxNewTokens?: number;
  /** Score what follows the last occurrence of this text in an answer (default: answerFormOf). */
  answerAfter?: string;
  batchSize: number;
  describeFirst: boolean;
  describeTokens: number;
  out: string;
  /** The judge endpoint (without the cache file: <out>/judge-cache.jsonl). */
  judge?: Omit<JudgeOptions, 'cacheFile' | 'log'>;
  judgePrompt?: string;
  threads?: number;
  /** LLaVA-NeXT models: anyres tiles (default) or one padded tile; other models ignore it. */
  imageAspect?: ImageAspect;
  /** Model column order of the comparison. */
  order?: string[];
}

export interface EvalDeps {
  open: OpenInference;
  images: ImageApi;
  progress?: ProgressFactory;
  log: (text: string) => void;
}

export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export async function runEval(job: EvalJob, deps: EvalDeps): Promise<StoredResult> {
  if (!NAME_PATTERN.test(job.name)) throw new Error(`--name: expected letters, digits, ".", "_" or "-" (a folder name) but received ${JSON.stringify(job.name)}`);
  const form = answerFormOf(job);
  const bench = await loadBenchmark(job.bench, path.resolve(job.data), {
    imageRoot: job.imageRoot,
    split: job.split,
    limit: job.limit,
    instruction: job.instruction,
    maxNewTokens: form.maxNewTokens,
    judgePrompt: job.judgePrompt,
    decodedImages: path.join(job.out, 'images', job.bench),
  });
  if (bench.items.length === 0) throw new Error(`${job.data}: the ${job.bench} ${bench.split} split holds no questions to ask`);
  if (bench.needsJudge && job.judge === undefined) {
    throw new Error(`${job.bench} is scored by a judge model: give --judge-url and --judge-model (an OpenAI-compatible chat endpoint)`);
  }
  const dir = path.join(job.out, job.name, benchFolder(bench.bench, bench.split, job.describeFirst));
  deps.log(`eval ${job.name}: ${bench.bench} ${bench.split}, ${bench.items.length} generations -> ${dir}\n`);
  const key = {
    model: path.resolve(job.model),
    adapter: job.adapter === undefined ? null : path.resolve(job.adapter),
    adapterFiles: job.adapter === undefined ? null : await adapterHashes(job.adapter),
    describeFirst: job.describeFirst,
    describeTokens: job.describeFirst ? job.describeTokens : null,
    decoding: 'greedy',
    imageAspect: job.imageAspect ?? 'anyres',
  };
  const engine = await deps.open({ model: job.model, adapter: job.adapter, threads: job.threads, log: deps.log, imageAspect: job.imageAspect });
  let predictions: Map<string, string>;
  try {
    predictions = await predict(
      bench.items,
      { predictions: path.join(dir, 'predictions.jsonl'), descriptions: path.join(dir, 'descriptions.jsonl'), meta: path.join(dir, 'predictions.meta.json') },
      key,
      { batchSize: job.batchSize, describeFirst: job.describeFirst, describeTokens: job.describeTokens },
      { engine, images: deps.images, progress: deps.progress },
    );
  } finally {
    if (engine.close) await engine.close();
  }
  const judge = job.judge === undefined || !bench.needsJudge ? undefined : await JudgeClient.open({ ...job.judge, cacheFile: path.join(job.out, 'judge-cache.jsonl'), log: deps.log });
  let stored: StoredResult;
  try {
    const result = await bench.score(form.answerAfter === undefined ? predictions : finalAnswers(predictions, form.answerAfter), { judge, log: deps.log });
    stored = await writeBenchResult(dir, result, { name: job.name, model: job.model, adapter: job.adapter ?? null, describeFirst: job.describeFirst });
  } finally {
    if (judge) {
      deps.log(`judge: ${judge.requests} requests, ${judge.cacheHits} answered from ${path.join(job.out, 'judge-cache.jsonl')}\n`);
      await judge.close();
    }
  }
  await writeComparison(job.out, job.order);
  return stored;
}

// The token budget and the answer marker: as given, else what a toy model pretrained with --reasoned
// needs (lib/toy/answer_form.ts), else the benchmark's defaults and the whole answer.
function answerFormOf(job: EvalJob): { maxNewTokens?: number; answerAfter?: string } {
  const reasoned = toyAnswersReasoned(job.model);
  return {
    maxNewTokens: job.maxNewTokens ?? (reasoned ? REASONED_ANSWER_TOKENS : undefined),
    answerAfter: job.answerAfter ?? (reasoned ? REASONED_SEPARATOR : undefined),
  };
}

// Each answer cut to what follows the last `marker` (the whole answer where it has none).
function finalAnswers(predictions: Map<string, string>, marker: string): Map<string, string> {
  return new Map([...predictions].map(([id, text]) => [id, finalAnswer(text, marker)]));
}

// What the answers depend on in an adapter folder: its weights and projector.
async function adapterHashes(dir: string): Promise<Record<string, string | null>> {
  const out: Record<string, string | null> = {};
  for (const f of [ADAPTER_CONFIG, ADAPTER_WEIGHTS, PROJECTOR_WEIGHTS]) {
    const p = path.join(dir, f);
    out[f] = existsSync(p) ? createHash('sha256').update(await readFile(p)).digest('hex') : null;
  }
  return out;
}
