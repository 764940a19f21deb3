// MathVista (Lu et al. 2024), testmini as the official repository ships it: testmini.json, an object
// keyed by pid (or an array) of {"pid", "query", "image": "images/<pid>.jpg", "choices": [...]|null,
// "question_type": "multi_choice"|"free_form", "answer_type": "text"|"integer"|"float"|"list",
// "precision", "answer", "metadata": {"task", "skills", ...}}; image paths are relative to the file.
// The model is asked the "query" (question with its answer-format hint). Scoring as the official
// scripts do:
//  extraction: "" -> ""; a multiple-choice answer equal to a choice -> itself; for integer answers
//    Python int(response), for float answers str(float(response)), when they parse; otherwise the
//    judge extracts the answer (the prompt file's few-shot instructions).
//  normalisation: multiple choice: the first "(x)" letter, upper-cased; an option letter -> its
//    choice text; anything else -> the choice with the smallest Levenshtein distance (first on ties);
//    integer: str(int(float(x))); float: str(round(float(x), precision)); list: as is; failures are
//    wrong. Then exact string equality with the answer.
// Accuracy overall and per task, question type, answer type and skill.
import path from 'node:path';

import { defaultJudgePromptFile, fillTemplate, loadJudgePrompt } from './judge_prompt.ts';
import type { JudgeClient } from './judge.ts';
import { pyFloat, pyFloatStr, pyInt, pyIntStr, pyRound, pyTrunc } from './python_numbers.ts';
import { Fields, kindOf, limited, readJson, requireImage } from './read_util.ts';
import { type Benchmark, BenchFileError, type BenchResult, type EvalItem, type ItemScore, type BenchReadOptions, type ScoreTable, percent } from './types.ts';
import { levenshtein } from '../util/edit_distance.ts';

export interface MathVistaProblem {
  id: string;
  query: string;
  image: string;
  choices: string[] | null;
  questionType: 'multi_choice' | 'free_form';
  answerType: 'text' | 'integer' | 'float' | 'list';
  precision: number | null;
  answer: string;
  task: string;
  skills: string[];
}

const ANSWER_TYPES = ['text', 'integer', 'float', 'list'];

export async function readMathVista(file: string, imageRoot?: string, o: BenchReadOptions = {}): Promise<MathVistaProblem[]> {
  const { value } = await readJson(file);
  if (value === null || typeof value !== 'object') throw new BenchFileError(file, null, `expected an object of problems keyed by pid (or an array) but received ${kindOf(value)}`);
  const entries: [string, unknown][] = Array.isArray(value) ? value.map((v, i) => [`[${i}]`, v]) : Object.entries(value);
  const root = imageRoot ?? path.dirname(file);
  const out: MathVistaProblem[] = [];
  for (const [key, raw] of limited(entries, o.limit)) {
    const f = Fields.of(file, `problem ${key}`, raw);
    const id = f.id('pid');
    const qt = f.string('question_type');
    if (qt !== 'multi_choice' && qt !== 'free_form') f.fail(`expected "question_type" to be multi_choice or free_form but received ${JSON.stringify(qt)}`);
    const at = f.string('answer_type');
    if (!ANSWER_TYPES.includes(at)) f.fail(`expected "answer_type" to be one of ${ANSWER_TYPES.join(', ')} but received ${JSON.stringify(at)}`);
    const choices = f.value.choices === null || f.value.choices === undefined ? null : f.stringArray('choices');
    if (qt === 'multi_choice' && (choices === null || choices.length === 0)) f.fail('expected "choices" for a multi_choice problem but received none');
    const p = f.value.precision;
    const precision = typeof p === 'number' && Number.isInteger(p) ? p : null;
    if (at === 'float' && precision === null) f.fail(`expected an integer "precision" for a float answer but received ${kindOf(p)}`);
    const answer = f.value.answer;
    if (typeof answer !== 'string' && typeof answer !== 'number') f.fail(`expected "answer" to be a string but received ${kindOf(answer)}`);
    const meta = (f.value.metadata ?? {}) as Record<string, unknown>;
    out.push({
      id,
      query: f.string('query'),
      image: await requireImage(file, `problem ${key}`, path.join(root, f.string('image'))),
      choices,
      questionType: qt as MathVistaProblem['questionType'],
      answerType: at as MathVistaProblem['answerType'],
      precision,
      answer: String(answer),
      task: typeof meta.task === 'string' ? meta.task : '',
      skills: Array.isArray(meta.skills) ? meta.skills.filter((s): s is string => typeof s === 'string') : [],
    });
  }
  return out;
}

/** The rule-based part of extraction; null when the judge has to extract. */
export function quickExtract(response: string, p: MathVistaProblem): string | null {
  if (response === '') return '';
  if (p.questionType === 'multi_choice' && (p.choices as string[]).includes(response)) return response;
  if (p.answerType === 'integer') {
    const v = pyInt(response);
    if (v !== null) return pyIntStr(v);
  }
  if (p.answerType === 'float') {
    const v = pyFloat(response);
    if (v !== null) return pyFloatStr(v);
  }
  return null;
}

/** The official normalisation of an extracted answer; null where it fails (scored wrong). */
export function normalizeExtraction(extraction: string, p: MathVistaProblem): string | null {
  if (p.questionType === 'multi_choice') {
    const choices = p.choices as string[];
    let e = extraction.trim();
    const letter = /\(([a-zA-Z])\)/.exec(e);
    if (letter !== null) e = letter[1].toUpperCase();
    const options = choices.map((_, i) => String.fromCharCode(65 + i));
    const k = options.indexOf(e);
    if (k >= 0) return choices[k];
    const d = choices.map((c) => levenshtein(e, c));
    return choices[d.indexOf(Math.min(...d))];
  }
  if (p.answerType === 'integer') {
    const v = pyFloat(extraction);
    const t = v === null ? null : pyTrunc(v);
    return t === null ? null : pyIntStr(t);
  }
  if (p.answerType === 'float') {
    const v = pyFloat(extraction);
    return v === null ? null : pyFloatStr(pyRound(v, p.precision as number));
  }
  return extraction;
}

export async function extractAnswer(judge: JudgeClient | undefined, template: string, system: string | undefined, p: MathVistaProblem, response: string): Promise<{ extraction: string; byJudge: boolean }> {
  const quick = quickExtract(response, p);
  if (quick !== null) return { extraction: quick, byJudge: false };
  if (judge === undefined) throw new Error('mathvista: answer extraction needs a judge model (--judge-url, --judge-model)');
  const reply = await judge.complete({ system, user: fillTemplate(template, { query: p.query, response }), temperature: 0, maxTokens: 256 });
  return { extraction: reply.trim(), byJudge: true };
}

export async function mathVistaBenchmark(file: string, imageRoot: string | undefined, o: BenchReadOptions & { judgePrompt?: string } = {}): Promise<Benchmark> {
  const problems = await readMathVista(file, imageRoot, o);
  const prompt = await loadJudgePrompt(o.judgePrompt ?? defaultJudgePromptFile('mathvista'), ['query', 'response']);
  const items: EvalItem[] = problems.map((p) => ({ id: p.id, image: p.image, question: p.query, maxNewTokens: o.maxNewTokens ?? 512 }));
  const split = o.split ?? 'testmini';
  return {
    bench: 'mathvista',
    split,
    items,
    needsJudge: true,
    score: async (preds, ctx) => {
      const scored: ItemScore[] = [];
      for (const p of problems) {
        const prediction = preds.get(p.id) ?? '';
        const { extraction, byJudge } = await extractAnswer(ctx.judge, prompt.template, prompt.system, p, prediction);
        const normalized = normalizeExtraction(extraction, p);
        scored.push({ id: p.id, prediction, extracted: normalized, score: normalized === p.answer ? 1 : 0, answer: p.answer, raw_extraction: extraction, by_judge: byJudge });
      }
      return summarizeMathVista(problems, scored, split);
    },
  };
}

export function summarizeMathVista(problems: MathVistaProblem[], items: ItemScore[], split: string): BenchResult {
  const table = (title: string, labelsOf: (p: MathVistaProblem) => string[]): ScoreTable => {
    const labels = [...new Set(problems.flatMap(labelsOf))].sort();
    return {
      title,
      columns: ['accuracy'],
      rows: labels.map((l) => {
        const its = items.filter((_, k) => labelsOf(problems[k]).includes(l));
        return { label: l, n: its.length, values: [percent(its.reduce((a, it) => a + it.score, 0), its.length)] };
      }),
    };
  };
  const accuracy = percent(items.reduce((a, it) => a + it.score, 0), items.length);
  return {
    bench: 'mathvista',
    split,
    headline: { metric: 'accuracy', value: accuracy },
    metrics: { accuracy, questions: items.length, 'extracted by the judge': items.filter((it) => it.by_judge).length },
    tables: [
      table('by task', (p) => (p.task === '' ? [] : [p.task])),
      table('by question type', (p) => [p.questionType]),
      table('by answer type', (p) => [p.answerType]),
      table('by skill', (p) => p.skills),
    ],
    items,
    notes: [],
  };
}
