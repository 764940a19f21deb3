// POPE (Li et al. 2023, object hallucination), as distributed: coco_pope_{random,popular,adversarial}.json,
// each a JSON Lines file of {"question_id", "image", "text", "label": "yes"|"no"}, images from COCO
// val2014. Answers are read as LLaVA's POPE script reads them: keep the text before the first ".",
// delete commas, split on spaces; the answer is "no" when one of the words is exactly "No", "no"
// or "not", else "yes". Per split: accuracy, precision, recall, F1 (positive = "yes") and the
// share of "yes" answers; the headline is F1 averaged over the splits read (LLaVA-1.5 reports it so).
import { stat } from 'node:fs/promises';
import path from 'node:path';

import { SHORT_ANSWER, withInstruction } from './prompts.ts';
import { Fields, limited, readJsonLines, requireImage } from './read_util.ts';
import { type Benchmark, BenchFileError, type BenchResult, type EvalItem, type ItemScore, type BenchReadOptions, type ScoreTable, percent } from './types.ts';

export const POPE_SPLITS = ['random', 'popular', 'adversarial'] as const;

export interface PopeQuestion {
  /** "<split>:<question_id>". */
  id: string;
  split: string;
  question: string;
  image: string;
  label: 'yes' | 'no';
}

/** LLaVA's yes/no reading of a free-text answer. */
export function popeAnswer(text: string): 'yes' | 'no' {
  const first = text.includes('.') ? text.split('.')[0] : text;
  const words = first.replaceAll(',', '').split(' ');
  return words.includes('No') || words.includes('not') || words.includes('no') ? 'no' : 'yes';
}

export interface PopeCounts {
  tp: number;
  fp: number;
  tn: number;
  fn: number;
}

export interface PopeMetrics {
  accuracy: number | null;
  precision: number | null;
  recall: number | null;
  f1: number | null;
  'yes ratio': number | null;
}

export function popeMetrics(c: PopeCounts): PopeMetrics {
  const n = c.tp + c.fp + c.tn + c.fn;
  const precision = percent(c.tp, c.tp + c.fp);
  const recall = percent(c.tp, c.tp + c.fn);
  const f1 = precision === null || recall === null || precision + recall === 0 ? null : (2 * precision * recall) / (precision + recall);
  return { accuracy: percent(c.tp + c.tn, n), precision, recall, f1, 'yes ratio': percent(c.tp + c.fp, n) };
}

/**
 * Reads one split file, or every coco_pope_<split>.json of a folder. The split of a file is the
 * last "_"-separated word of its name. `imageRoot` defaults to <folder of the file>/val2014.
 */
export async function readPope(data: string, imageRoot?: string, o: BenchReadOptions = {}): Promise<PopeQuestion[]> {
  const isDir = (await stat(data).catch(() => null))?.isDirectory() ?? false;
  let files = [data];
  if (isDir) {
    const found = await Promise.all(POPE_SPLITS.map((s) => path.join(data, `coco_pope_${s}.json`)).map((f) => stat(f).then(() => f, () => null)));
    files = found.filter((f): f is string => f !== null);
    if (o.split !== undefined) files = files.filter((f) => splitOf(f) === o.split);
    if (files.length === 0) throw new BenchFileError(data, null, `expected coco_pope_{${POPE_SPLITS.join(',')}}.json in this folder${o.split ? ` (split ${o.split})` : ''} but found none`);
  }
  const out: PopeQuestion[] = [];
  for (const file of files) {
    const split = splitOf(file);
    const root = imageRoot ?? path.join(path.dirname(file), 'val2014');
    const seen = new Set<string>();
    for (const { value, line } of limited(await readJsonLines(file), o.limit)) {
      const f = Fields.of(file, String(line), value);
      const qid = f.id('question_id');
      if (seen.has(qid)) f.fail(`question_id ${qid} appears twice`);
      seen.add(qid);
      const label = f.string('label');
      if (label !== 'yes' && label !== 'no') f.fail(`expected "label" to be "yes" or "no" but received ${JSON.stringify(label)}`);
      const image = await requireImage(file, String(line), path.join(root, f.string('image')));
      out.push({ id: `${split}:${qid}`, split, question: f.string('text'), image, label: label as 'yes' | 'no' });
    }
  }
  return out;
}

function splitOf(file: string): string {
  return path.basename(file).replace(/\.jsonl?$/, '').split('_').pop() as string;
}

export async function popeBenchmark(data: string, imageRoot: string | undefined, o: BenchReadOptions = {}): Promise<Benchmark> {
  const questions = await readPope(data, imageRoot, o);
  const items: EvalItem[] = questions.map((q) => ({ id: q.id, image: q.image, question: withInstruction(q.question, o.instruction ?? SHORT_ANSWER), maxNewTokens: o.maxNewTokens ?? 8 }));
  const splits = [...new Set(questions.map((q) => q.split))];
  const split = splits.length === 1 ? splits[0] : 'all';
  return { bench: 'pope', split, items, needsJudge: false, score: async (preds) => scorePope(questions, preds, split) };
}

export function scorePope(questions: PopeQuestion[], preds: Map<string, string>, split: string): BenchResult {
  const items: ItemScore[] = questions.map((q) => {
    const prediction = preds.get(q.id) ?? '';
    const answer = popeAnswer(prediction);
    return { id: q.id, prediction, extracted: answer, score: answer === q.label ? 1 : 0, label: q.label };
  });
  const splits = [...new Set(questions.map((q) => q.split))];
  const perSplit = splits.map((s) => {
    const c: PopeCounts = { tp: 0, fp: 0, tn: 0, fn: 0 };
    questions.forEach((q, k) => {
      if (q.split !== s) return;
      const yes = items[k].extracted === 'yes';
      if (q.label === 'yes') yes ? c.tp++ : c.fn++;
      else yes ? c.fp++ : c.tn++;
    });
    return { split: s, n: c.tp + c.fp + c.tn + c.fn, m: popeMetrics(c) };
  });
  const columns = ['accuracy', 'precision', 'recall', 'f1', 'yes ratio'] as const;
  const table: ScoreTable = {
    title: 'per split',
    columns: [...columns],
    rows: perSplit.map((p) => ({ label: p.split, n: p.n, values: columns.map((c) => p.m[c]) })),
  };
  const f1s = perSplit.map((p) => p.m.f1);
  const meanF1 = f1s.some((v) => v === null) ? null : (f1s as number[]).reduce((a, b) => a + b, 0) / f1s.length;
  const metrics: Record<string, number | null> = { 'F1 (mean over splits)': meanF1, questions: items.length };
  for (const p of perSplit) for (const c of columns) metrics[`${p.split} ${c}`] = p.m[c];
  return { bench: 'pope', split, headline: { metric: 'F1', value: meanF1 }, metrics, tables: [table], items, notes: [] };
}
