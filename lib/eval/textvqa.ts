// TextVQA (Singh et al. 2019), the val set as distributed: TextVQA_0.5.1_val.json
//   {"dataset_name": "textvqa", "data": [{"question_id", "question", "image_id", "answers": [10 strings], ...}]}
// with the images in train_images/<image_id>.jpg (val images live in the train folder). Scored with
// VQA accuracy over the 10 human answers (vqa_normalize.ts), as LLaVA's TextVQA script does.
import path from 'node:path';

import { SHORT_ANSWER, withInstruction } from './prompts.ts';
import { Fields, kindOf, limited, readJson, requireImage } from './read_util.ts';
import { type Benchmark, BenchFileError, type BenchResult, type EvalItem, type ItemScore, type BenchReadOptions, percent } from './types.ts';
import { normalizeVqaAnswer, vqaAccuracy } from './vqa_normalize.ts';

export interface TextVqaQuestion {
  id: string;
  question: string;
  image: string;
  answers: string[];
}

/** Reads the questions; `imageRoot` defaults to <json folder>/train_images. */
export async function readTextVqa(file: string, imageRoot?: string, o: BenchReadOptions = {}): Promise<TextVqaQuestion[]> {
  const { value } = await readJson(file);
  const data = (value as { data?: unknown } | null)?.data;
  if (!Array.isArray(data)) throw new BenchFileError(file, null, `expected a JSON object with a "data" array of questions but received ${kindOf(data === undefined ? value : data)}`);
  const root = imageRoot ?? path.join(path.dirname(file), 'train_images');
  const out: TextVqaQuestion[] = [];
  const seen = new Set<string>();
  for (const [i, raw] of limited(data, o.limit).entries()) {
    const f = Fields.of(file, `data[${i}]`, raw);
    const id = f.id('question_id');
    if (seen.has(id)) f.fail(`question_id ${id} appears twice`);
    seen.add(id);
    const answers = f.stringArray('answers');
    if (answers.length === 0) f.fail('expected "answers" to hold the human answers (10 in TextVQA) but it is empty');
    const image = await requireImage(file, `data[${i}] (question_id ${id})`, path.join(root, `${f.id('image_id')}.jpg`));
    out.push({ id, question: f.string('question'), image, answers });
  }
  return out;
}

export async function textVqaBenchmark(file: string, imageRoot: string | undefined, o: BenchReadOptions = {}): Promise<Benchmark> {
  const questions = await readTextVqa(file, imageRoot, o);
  const items: EvalItem[] = questions.map((q) => ({ id: q.id, image: q.image, question: withInstruction(q.question, o.instruction ?? SHORT_ANSWER), maxNewTokens: o.maxNewTokens ?? 16 }));
  return {
    bench: 'textvqa',
    split: o.split ?? 'val',
    items,
    needsJudge: false,
    score: async (preds) => scoreTextVqa(questions, preds, o.split ?? 'val'),
  };
}

export function scoreTextVqa(questions: TextVqaQuestion[], preds: Map<string, string>, split: string): BenchResult {
  const items: ItemScore[] = questions.map((q) => {
    const prediction = preds.get(q.id) ?? '';
    return { id: q.id, prediction, extracted: normalizeVqaAnswer(prediction), score: vqaAccuracy(prediction, q.answers) };
  });
  const accuracy = percent(items.reduce((s, it) => s + it.score, 0), items.length);
  return {
    bench: 'textvqa',
    split,
    headline: { metric: 'VQA accuracy', value: accuracy },
    metrics: { 'VQA accuracy': accuracy, questions: items.length },
    tables: [],
    items,
    notes: [],
  };
}
