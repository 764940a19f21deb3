// What every benchmark of `stic eval` is made of: the questions to ask (EvalItem), the scorer that
// turns the model's answers into numbers (Benchmark.score), and the result (BenchResult) that the
// tables, JSON and charts are built from. One reader + scorer per benchmark lives beside this file.
import type { JudgeClient } from './judge.ts';

/** One generation to run: an image and the question asked about it (one user turn). */
export interface EvalItem {
  /** Unique within the benchmark split; the key of the predictions file. */
  id: string;
  /** Absolute path of the image file. */
  image: string;
  /** The user turn after the image, e.g. "What is written on the sign?\nAnswer the question using a single word or phrase." */
  question: string;
  /** New tokens at most for this answer. */
  maxNewTokens: number;
}

/** A model's answer to one item as stored in predictions.jsonl. */
export interface Prediction {
  id: string;
  text: string;
}

/** A breakdown table, e.g. accuracy per subject: one row per group. */
export interface ScoreTable {
  title: string;
  /** Metric names of the value columns, e.g. ["accuracy"]. */
  columns: string[];
  rows: { label: string; n: number; values: (number | null)[] }[];
}

/** How one item was scored (written to scores.jsonl, for reading the model's mistakes). */
export interface ItemScore {
  id: string;
  prediction: string;
  /** What the scorer read from the prediction (an option letter, a normalised answer, "yes"/"no", a judge's grade...). */
  extracted: string | null;
  /** 1 correct, 0 wrong, or a fraction (VQA accuracy, a judge's grade). */
  score: number;
  [extra: string]: unknown;
}

export interface BenchResult {
  bench: string;
  split: string;
  /** The number the comparison table shows for this benchmark (percent, higher is better). */
  headline: { metric: string; value: number | null };
  /** Every top-level number (percent unless the name says otherwise). */
  metrics: Record<string, number | null>;
  tables: ScoreTable[];
  items: ItemScore[];
  /** Things the reader must know, e.g. "120 test questions have no answer key and were not scored". */
  notes: string[];
}

/** What a scorer may need besides the predictions. */
export interface ScoreContext {
  /** The judge model, for MM-Vet, LLaVA-Bench and MathVista; absent when none was configured. */
  judge?: JudgeClient;
  log?: (text: string) => void;
}

/** A benchmark split read from its official files, ready to ask and to score. */
export interface Benchmark {
  /** Registry name, e.g. "textvqa". */
  bench: string;
  /** e.g. "val", "test", "random", "dev"; "all" when the format has no splits. */
  split: string;
  items: EvalItem[];
  /** True when score() needs ctx.judge. */
  needsJudge: boolean;
  /** Scores answers; `predictions` holds one text per item id. */
  score(predictions: Map<string, string>, ctx: ScoreContext): Promise<BenchResult>;
}

/** Options every reader takes. */
export interface BenchReadOptions {
  /** New tokens for a short answer (default per benchmark). */
  maxNewTokens?: number;
  /** Split to read when the files hold several (ScienceQA: test; POPE: random...). */
  split?: string;
  /** Keep only the first N items (quick looks). */
  limit?: number;
  /** Replaces the instruction appended to each question (default: the benchmark's LLaVA phrasing; "" for none). */
  instruction?: string;
}

/** Percent with the arithmetic kept in one place: 100 * num / den, null when den is 0. */
export function percent(num: number, den: number): number | null {
  return den === 0 ? null : (100 * num) / den;
}

/** Error for a benchmark file that is not in the expected format: "file:where: problem". */
export class BenchFileError extends Error {
  constructor(
    readonly file: string,
    where: string | null,
    problem: string,
  ) {
    super(`${file}${where === null ? '' : `:${where}`}: ${problem}`);
    this.name = 'BenchFileError';
  }
}
