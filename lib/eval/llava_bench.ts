// LLaVA-Bench (In-the-Wild) (Liu et al. 2023) as distributed: questions.jsonl {"question_id",
// "image", "text", "category": "conv"|"detail"|"complex"}, context.jsonl {"image", "caption"},
// answers_gpt4.jsonl {"question_id", "text"} (the reference answers) and images/. Reviewed by the
// judge as LLaVA's review script does: the caption, the question, the reference answer (Assistant
// 1) and the model's answer (Assistant 2) and the category's rule; the first line of the review,
// commas read as spaces, split on single spaces, must be exactly two numbers, else the pair is
// (-1, -1) and still counted (as the official summary counts it). Per category and overall: the
// mean of both scores, rounded to 3 decimals, and the relative score 100 * model / reference.
import path from 'node:path';

import { defaultJudgePromptFile, fillTemplate, loadJudgePrompt } from './judge_prompt.ts';
import { pyFloat, pyRound } from './python_numbers.ts';
import { Fields, limited, readJsonLines, requireImage } from './read_util.ts';
import { type Benchmark, BenchFileError, type BenchResult, type EvalItem, type ItemScore, type BenchReadOptions, type ScoreTable } from './types.ts';

export const LLAVA_BENCH_CATEGORIES = ['conv', 'detail', 'complex'];

export interface LlavaBenchQuestion {
  id: string;
  question: string;
  category: string;
  image: string;
  context: string;
  reference: string;
}

/** `dir` holds questions.jsonl, context.jsonl, answers_gpt4.jsonl and images/. */
export async function readLlavaBench(dir: string, imageRoot?: string, o: BenchReadOptions = {}): Promise<LlavaBenchQuestion[]> {
  const qFile = path.join(dir, 'questions.jsonl');
  const cFile = path.join(dir, 'context.jsonl');
  const aFile = path.join(dir, 'answers_gpt4.jsonl');
  const captions = new Map<string, string>();
  for (const { value, line } of await readJsonLines(cFile)) {
    const f = Fields.of(cFile, String(line), value);
    captions.set(f.string('image'), f.string('caption'));
  }
  const references = new Map<string, string>();
  for (const { value, line } of await readJsonLines(aFile)) {
    const f = Fields.of(aFile, String(line), value);
    references.set(f.id('question_id'), f.string('text'));
  }
  const root = imageRoot ?? path.join(dir, 'images');
  const out: LlavaBenchQuestion[] = [];
  for (const { value, line } of limited(await readJsonLines(qFile), o.limit)) {
    const f = Fields.of(qFile, String(line), value);
    const id = f.id('question_id');
    const imageName = f.string('image');
    const category = f.string('category');
    if (!LLAVA_BENCH_CATEGORIES.includes(category)) f.fail(`expected "category" to be one of ${LLAVA_BENCH_CATEGORIES.join(', ')} but received ${JSON.stringify(category)}`);
    const context = captions.get(imageName);
    if (context === undefined) throw new BenchFileError(qFile, String(line), `image ${imageName} has no caption in ${cFile}`);
    const reference = references.get(id);
    if (reference === undefined) throw new BenchFileError(qFile, String(line), `question_id ${id} has no reference answer in ${aFile}`);
    out.push({ id, question: f.string('text'), category, image: await requireImage(qFile, String(line), path.join(root, imageName)), context, reference });
  }
  return out;
}

/** The official reading of a review's score pair. */
export function parseReviewScores(review: string): [number, number] {
  const parts = review.split('\n')[0].replaceAll(',', ' ').split(' ');
  if (parts.length !== 2) return [-1, -1];
  const a = pyFloat(parts[0]);
  const b = pyFloat(parts[1]);
  return a === null || b === null ? [-1, -1] : [a, b];
}

export async function llavaBenchBenchmark(dir: string, imageRoot: string | undefined, o: BenchReadOptions & { judgePrompt?: string } = {}): Promise<Benchmark> {
  const questions = await readLlavaBench(dir, imageRoot, o);
  const prompt = await loadJudgePrompt(o.judgePrompt ?? defaultJudgePromptFile('llava_bench'), ['context', 'question', 'reference', 'prediction', 'rule'], LLAVA_BENCH_CATEGORIES);
  const items: EvalItem[] = questions.map((q) => ({ id: q.id, image: q.image, question: q.question, maxNewTokens: o.maxNewTokens ?? 512 }));
  const split = o.split ?? 'all';
  return {
    bench: 'llava-bench',
    split,
    items,
    needsJudge: true,
    score: async (preds, ctx) => {
      if (ctx.judge === undefined) throw new Error('llava-bench: reviewing needs a judge model (--judge-url, --judge-model)');
      const scored: ItemScore[] = [];
      for (const q of questions) {
        const prediction = preds.get(q.id) ?? '';
        const user = fillTemplate(prompt.template, { context: q.context, question: q.question, reference: q.reference, prediction, rule: prompt.rules[q.category] });
        const review = await ctx.judge.complete({ system: prompt.system, user, temperature: 0.2, maxTokens: 1024 });
        const [ref, model] = parseReviewScores(review);
        scored.push({ id: q.id, prediction, extracted: review.split('\n')[0], score: model, reference_score: ref, category: q.category });
      }
      return summarizeLlavaBench(questions, scored, split);
    },
  };
}

export function summarizeLlavaBench(questions: LlavaBenchQuestion[], items: ItemScore[], split: string): BenchResult {
  const stats = (keep: (q: LlavaBenchQuestion) => boolean) => {
    const its = items.filter((_, k) => keep(questions[k]));
    if (its.length === 0) return { n: 0, ref: null, model: null, relative: null };
    const ref = pyRound(its.reduce((a, it) => a + (it.reference_score as number), 0) / its.length, 3);
    const model = pyRound(its.reduce((a, it) => a + it.score, 0) / its.length, 3);
    return { n: its.length, ref, model, relative: ref === 0 ? null : (100 * model) / ref };
  };
  const rows = [
    ...LLAVA_BENCH_CATEGORIES.map((c) => ({ label: c, ...stats((q) => q.category === c) })).filter((r) => r.n > 0),
    { label: 'all', ...stats(() => true) },
  ];
  const table: ScoreTable = {
    title: 'relative score (model / reference, %) and mean scores (1-10) per category',
    columns: ['relative score', 'reference mean', 'model mean'],
    rows: rows.map((r) => ({ label: r.label, n: r.n, values: [r.relative, r.ref, r.model] })),
  };
  const all = rows[rows.length - 1];
  const failed = items.filter((it) => it.score === -1).length;
  return {
    bench: 'llava-bench',
    split,
    headline: { metric: 'relative score', value: all.relative },
    metrics: { 'relative score': all.relative, 'reference mean (1-10)': all.ref, 'model mean (1-10)': all.model, questions: items.length, 'unreadable reviews': failed },
    tables: [table],
    items,
    notes: failed > 0 ? [`${failed} reviews had no readable score pair and count as (-1, -1), as in LLaVA's summary`] : [],
  };
}
