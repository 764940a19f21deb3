// Benchmark names -> readers, and what --data points at for each.
import path from 'node:path';

import { chartQaBenchmark } from './chartqa.ts';
import { llavaBenchBenchmark } from './llava_bench.ts';
import { mathVistaBenchmark } from './mathvista.ts';
import { mmbenchBenchmark } from './mmbench.ts';
import { mmvetBenchmark } from './mmvet.ts';
import { popeBenchmark } from './pope.ts';
import { scienceQaBenchmark } from './scienceqa.ts';
import { textVqaBenchmark } from './textvqa.ts';
import type { Benchmark, BenchReadOptions } from './types.ts';

export const BENCHMARKS = ['scienceqa', 'mmbench', 'textvqa', 'chartqa', 'pope', 'mmvet', 'llava-bench', 'mathvista'] as const;
export type BenchName = (typeof BENCHMARKS)[number];

/** What --data is for each benchmark (for --help and messages). */
export const DATA_HELP: Record<BenchName, string> = {
  scienceqa: 'folder with problems.json, pid_splits.json (images: <data>/images/<split>/<pid>/)',
  mmbench: 'the VLMEvalKit TSV (base64 images)',
  textvqa: 'TextVQA_0.5.1_val.json (images: <data folder>/train_images/)',
  chartqa: 'test folder with test_human.json / test_augmented.json, or one of them (images: png/)',
  pope: 'coco_pope_<split>.json, or a folder of them (images: <data folder>/val2014/)',
  mmvet: 'mm-vet.json (images: <data folder>/images/)',
  'llava-bench': 'folder with questions.jsonl, context.jsonl, answers_gpt4.jsonl, images/',
  mathvista: 'testmini.json (image paths relative to it)',
};

export interface BenchLoadOptions extends BenchReadOptions {
  imageRoot?: string;
  /** Judge prompt file replacing the default (mmvet, llava-bench, mathvista). */
  judgePrompt?: string;
  /** Where MMBench's base64 images are decoded to. */
  decodedImages: string;
}

export function isBenchName(s: string): s is BenchName {
  return (BENCHMARKS as readonly string[]).includes(s);
}

export async function loadBenchmark(name: BenchName, data: string, o: BenchLoadOptions): Promise<Benchmark> {
  const root = o.imageRoot === undefined ? undefined : path.resolve(o.imageRoot);
  switch (name) {
    case 'scienceqa':
      return scienceQaBenchmark(data, root, o);
    case 'mmbench':
      return mmbenchBenchmark(data, o.decodedImages, o);
    case 'textvqa':
      return textVqaBenchmark(data, root, o);
    case 'chartqa':
      return chartQaBenchmark(data, root, o);
    case 'pope':
      return popeBenchmark(data, root, o);
    case 'mmvet':
      return mmvetBenchmark(data, root, o);
    case 'llava-bench':
      return llavaBenchBenchmark(data, root, o);
    case 'mathvista':
      return mathVistaBenchmark(data, root, o);
  }
}
