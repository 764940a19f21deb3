// MM-Vet (Yu et al. 2023) as distributed: mm-vet.json {"v1_0": {"imagename", "capability": [...],
// "question", "answer"}, ...} with the images in images/. Graded by the judge as the official
// evaluator grades: the ground truth with "<AND>"/"<OR>" spaced out; the judge's reply is read up to
// its first space as a number; a reply that is not a number in [0, 1] is asked again with the
// temperature raised by 0.5, and after 5 failed tries the grade is 0. Scores (percent): the mean
// grade per capability (recognition, OCR, knowledge, generation, spatial, math; a question counts
// for each capability it needs), per capability combination, and in total.
import path from 'node:path';

import { defaultJudgePromptFile, fillTemplate, loadJudgePrompt } from './judge_prompt.ts';
import type { JudgeClient } from './judge.ts';
import { pyFloat } from './python_numbers.ts';
import { Fields, limited, readJsonObject, requireImage } from './read_util.ts';
import { type Benchmark, type BenchResult, type EvalItem, type ItemScore, type BenchReadOptions, type ScoreTable, percent } from './types.ts';

const TRIES = 5;

export interface MmvetQuestion {
  id: string;
  question: string;
  answer: string;
  capabilities: string[];
  image: string;
}

export async function readMmvet(file: string, imageRoot?: string, o: BenchReadOptions = {}): Promise<MmvetQuestion[]> {
  const all = await readJsonObject(file, 'questions');
  const root = imageRoot ?? path.join(path.dirname(file), 'images');
  const out: MmvetQuestion[] = [];
  for (const [id, raw] of limited(Object.entries(all), o.limit)) {
    const f = Fields.of(file, `question "${id}"`, raw);
    const capabilities = f.stringArray('capability');
    if (capabilities.length === 0) f.fail('expected "capability" to name at least one capability but it is empty');
    const image = await requireImage(file, `question "${id}"`, path.join(root, f.string('imagename')));
    out.push({ id, question: f.string('question'), answer: f.string('answer'), capabilities, image });
  }
  return out;
}

/**
 * The official reading of a grade: Python float() of the reply up to its first space, in [0, 1];
 * else null. (The official check would let "nan" through; we ask again instead.)
 */
export function parseMmvetGrade(reply: string): number | null {
  const v = pyFloat(reply.split(' ')[0]);
  return v !== null && v >= 0 && v <= 1 ? v : null;
}

export async function gradeMmvet(judge: JudgeClient, template: string, system: string | undefined, q: MmvetQuestion, prediction: string): Promise<{ grade: number; reply: string }> {
  const user = fillTemplate(template, {
    question: q.question,
    answer: q.answer.replaceAll('<AND>', ' <AND> ').replaceAll('<OR>', ' <OR> '),
    prediction,
  });
  let reply = '';
  for (let t = 0; t < TRIES; t++) {
    reply = await judge.complete({ system, user, temperature: 0.5 * t, maxTokens: 3 });
    const grade = parseMmvetGrade(reply);
    if (grade !== null) return { grade, reply };
  }
  return { grade: 0, reply };
}

export async function mmvetBenchmark(file: string, imageRoot: string | undefined, o: BenchReadOptions & { judgePrompt?: string } = {}): Promise<Benchmark> {
  const questions = await readMmvet(file, imageRoot, o);
  const prompt = await loadJudgePrompt(o.judgePrompt ?? defaultJudgePromptFile('mmvet'), ['question', 'answer', 'prediction']);
  const items: EvalItem[] = questions.map((q) => ({ id: q.id, image: q.image, question: q.question, maxNewTokens: o.maxNewTokens ?? 512 }));
  const split = o.split ?? 'all';
  return {
    bench: 'mmvet',
    split,
    items,
    needsJudge: true,
    score: async (preds, ctx) => {
      if (ctx.judge === undefined) throw new Error('mmvet: grading needs a judge model (--judge-url, --judge-model)');
      const graded: ItemScore[] = [];
      for (const q of questions) {
        const prediction = preds.get(q.id) ?? '';
        const { grade, reply } = await gradeMmvet(ctx.judge, prompt.template, prompt.system, q, prediction);
        graded.push({ id: q.id, prediction, extracted: reply, score: grade });
      }
      return summarizeMmvet(questions, graded, split);
    },
  };
}

export function summarizeMmvet(questions: MmvetQuestion[], items: ItemScore[], split: string): BenchResult {
  const mean = (ks: number[]) => percent(ks.reduce((a, k) => a + items[k].score, 0), ks.length);
  const caps = [...new Set(questions.flatMap((q) => q.capabilities))].sort();
  const combos = [...new Set(questions.map((q) => [...q.capabilities].sort().join('_')))].sort();
  const idx = questions.map((_, k) => k);
  const capTable: ScoreTable = {
    title: 'by capability',
    columns: ['score'],
    rows: caps.map((c) => { const ks = idx.filter((k) => questions[k].capabilities.includes(c)); return { label: c, n: ks.length, values: [mean(ks)] }; }),
  };
  const comboTable: ScoreTable = {
    title: 'by capability combination',
    columns: ['score'],
    rows: combos.map((c) => { const ks = idx.filter((k) => [...questions[k].capabilities].sort().join('_') === c); return { label: c, n: ks.length, values: [mean(ks)] }; }),
  };
  const total = mean(idx);
  return { bench: 'mmvet', split, headline: { metric: 'score', value: total }, metrics: { score: total, questions: items.length }, tables: [capTable, comboTable], items, notes: [] };
}
