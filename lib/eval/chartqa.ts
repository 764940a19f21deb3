// ChartQA (Masry et al. 2022), the test set as distributed: test/test_human.json and
// test/test_augmented.json, each a JSON array of {"imgname", "query", "label"}, with the charts in
// test/png/<imgname>. Scored with relaxed accuracy (the ChartQA paper; the pix2struct evaluation):
// when both answer and label read as numbers (Python float(), a trailing "%" divides by 100) and the
// label is non-zero, the answer is right within 5% relative error of the label; otherwise the two
// strings must be equal ignoring case.
import { stat } from 'node:fs/promises';
import path from 'node:path';

import { SHORT_ANSWER, withInstruction } from './prompts.ts';
import { pyFloat } from './python_numbers.ts';
import { Fields, limited, readJsonArray, requireImage } from './read_util.ts';
import { type Benchmark, BenchFileError, type BenchResult, type EvalItem, type ItemScore, type BenchReadOptions, type ScoreTable, percent } from './types.ts';

const MAX_RELATIVE_CHANGE = 0.05;

export interface ChartQaQuestion {
  /** "<set>:<index in the file>" (ChartQA has no question ids). */
  id: string;
  set: string;
  question: string;
  image: string;
  label: string;
}

// Python: float(text.rstrip("%")) / 100 when the text ends with "%", else float(text); None on error.
function toFloat(text: string): number | null {
  if (text.endsWith('%')) {
    const v = pyFloat(text.replace(/%+$/, ''));
    return v === null ? null : v / 100;
  }
  return pyFloat(text);
}

/** Relaxed correctness of one answer. */
export function relaxedCorrect(label: string, prediction: string): boolean {
  const p = toFloat(prediction);
  const t = toFloat(label);
  // Python truthiness: a label of 0 (or one that is not a number) falls back to string equality; NaN is truthy.
  if (p !== null && t !== null && t !== 0) return Math.abs(p - t) / Math.abs(t) <= MAX_RELATIVE_CHANGE;
  return prediction.toLowerCase() === label.toLowerCase();
}

/**
 * Reads one set file, or both sets of a test folder (test_human.json, test_augmented.json, images
 * in png/). `imageRoot` defaults to <folder of the json>/png.
 */
export async function readChartQa(data: string, imageRoot?: string, o: BenchReadOptions = {}): Promise<ChartQaQuestion[]> {
  const isDir = (await stat(data).catch(() => null))?.isDirectory() ?? false;
  const files = isDir ? ['test_human.json', 'test_augmented.json'].map((f) => path.join(data, f)) : [data];
  const present = isDir ? (await Promise.all(files.map((f) => stat(f).then(() => f, () => null)))).filter((f): f is string => f !== null) : files;
  if (present.length === 0) throw new BenchFileError(data, null, 'expected test_human.json and/or test_augmented.json in this folder but found neither');
  const out: ChartQaQuestion[] = [];
  for (const file of present) {
    const set = path.basename(file, '.json').replace(/^test_/, '');
    const root = imageRoot ?? path.join(path.dirname(file), 'png');
    for (const [i, { value, line }] of (await readJsonArray(file, 'questions')).entries()) {
      const f = Fields.of(file, String(line), value);
      const image = await requireImage(file, String(line), path.join(root, f.string('imgname')));
      const label = f.value.label;
      if (typeof label !== 'string' && typeof label !== 'number') f.fail(`expected "label" to be a string (or number) but received ${typeof label}`);
      out.push({ id: `${set}:${i}`, set, question: f.string('query'), image, label: String(label) });
    }
  }
  return limited(out, o.limit);
}

export async function chartQaBenchmark(data: string, imageRoot: string | undefined, o: BenchReadOptions = {}): Promise<Benchmark> {
  const questions = await readChartQa(data, imageRoot, o);
  const items: EvalItem[] = questions.map((q) => ({ id: q.id, image: q.image, question: withInstruction(q.question, o.instruction ?? SHORT_ANSWER), maxNewTokens: o.maxNewTokens ?? 16 }));
  const split = o.split ?? 'test';
  return { bench: 'chartqa', split, items, needsJudge: false, score: async (preds) => scoreChartQa(questions, preds, split) };
}

export function scoreChartQa(questions: ChartQaQuestion[], preds: Map<string, string>, split: string): BenchResult {
  const items: ItemScore[] = questions.map((q) => {
    const prediction = preds.get(q.id) ?? '';
    return { id: q.id, prediction, extracted: prediction, score: relaxedCorrect(q.label, prediction) ? 1 : 0, label: q.label };
  });
  const sets = [...new Set(questions.map((q) => q.set))];
  const table: ScoreTable = {
    title: 'relaxed accuracy per set',
    columns: ['relaxed accuracy'],
    rows: sets.map((s) => {
      const its = items.filter((_, k) => questions[k].set === s);
      return { label: s, n: its.length, values: [percent(its.reduce((a, it) => a + it.score, 0), its.length)] };
    }),
  };
  const accuracy = percent(items.reduce((a, it) => a + it.score, 0), items.length);
  return {
    bench: 'chartqa',
    split,
    headline: { metric: 'relaxed accuracy', value: accuracy },
    metrics: { 'relaxed accuracy': accuracy, questions: items.length },
    tables: [table],
    items,
    notes: [],
  };
}
