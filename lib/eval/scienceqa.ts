// ScienceQA-IMG (Lu et al. 2022): the test problems that have an image, from the release's
//   problems.json   {"<pid>": {"question", "choices": [...], "answer": <index>, "hint", "image": "image.png"|null,
//                    "subject", "grade", "category", ...}}
//   pid_splits.json {"train": [pid...], "val": [...], "test": [...], ...}
//   images/<split>/<pid>/<image>
// Asked as LLaVA asks it ("Context: <hint>" when there is one, the question, lettered options, then
// the option-letter instruction) and read as LLaVA's ScienceQA script reads the answer:
//   1. the whole answer is an option letter ("A".."E");
//   2. else it starts with a letter followed by ". " ("B. red") -> that letter;
//   3. else the pattern "The answer is X." (any character after the letter) occurs exactly once -> X;
//   4. else the answer failed (wrong). A letter beyond the problem's choices is wrong too.
// Accuracy overall and by subject (NAT/SOC/LAN), context (TXT: has a hint; IMG: has an image; NO:
// neither) and grade (G1-6, G7-12), as the ScienceQA paper's tables break it down.
import path from 'node:path';

import { OPTION_LETTER, multipleChoicePrompt } from './prompts.ts';
import { Fields, kindOf, limited, readJsonObject, requireImage } from './read_util.ts';
import { type Benchmark, BenchFileError, type BenchResult, type EvalItem, type ItemScore, type BenchReadOptions, type ScoreTable, percent } from './types.ts';

const OPTIONS = ['A', 'B', 'C', 'D', 'E'];

export interface ScienceQaProblem {
  id: string;
  question: string;
  choices: string[];
  answer: number;
  hint: string;
  image: string;
  subject: string;
  grade: string;
}

/** LLaVA's reading of an answer: the option letter, or "FAILED". */
export function scienceQaLetter(text: string): string {
  if (OPTIONS.includes(text)) return text;
  if (text.length >= 3 && OPTIONS.includes(text[0]) && text.slice(1, 3) === '. ') return text[0];
  const found = [...text.matchAll(/The answer is ([A-Z])./g)];
  return found.length === 1 ? found[0][1] : 'FAILED';
}

/** The index of the chosen option, or -1 (failed, or a letter the problem does not have). */
export function scienceQaChoice(letter: string, choices: number): number {
  const i = OPTIONS.slice(0, choices).indexOf(letter);
  return i;
}

/** Reads the image problems of a split; `dir` holds problems.json and pid_splits.json. */
export async function readScienceQa(dir: string, imageRoot?: string, o: BenchReadOptions = {}): Promise<ScienceQaProblem[]> {
  const split = o.split ?? 'test';
  const problemsFile = path.join(dir, 'problems.json');
  const splitsFile = path.join(dir, 'pid_splits.json');
  const problems = await readJsonObject(problemsFile, 'problems');
  const splits = await readJsonObject(splitsFile, 'splits');
  const pids = splits[split];
  if (!Array.isArray(pids)) throw new BenchFileError(splitsFile, null, `expected "${split}" to be an array of problem ids but received ${kindOf(pids)} (splits: ${Object.keys(splits).join(', ')})`);
  const root = imageRoot ?? path.join(dir, 'images', split);
  const out: ScienceQaProblem[] = [];
  for (const raw of pids) {
    const pid = String(raw);
    const where = `problem "${pid}"`;
    if (!(pid in problems)) throw new BenchFileError(problemsFile, where, `listed in ${splitsFile} under "${split}" but not in this file`);
    const f = Fields.of(problemsFile, where, problems[pid]);
    const image = f.optionalString('image');
    if (image === null || image === '') continue; // ScienceQA-IMG: image questions only
    const choices = f.stringArray('choices');
    if (choices.length < 2 || choices.length > OPTIONS.length) f.fail(`expected 2 to ${OPTIONS.length} "choices" but received ${choices.length}`);
    const answer = f.integer('answer');
    if (answer < 0 || answer >= choices.length) f.fail(`expected "answer" to index the ${choices.length} choices (0..${choices.length - 1}) but received ${answer}`);
    out.push({
      id: pid,
      question: f.string('question'),
      choices,
      answer,
      hint: f.optionalString('hint') ?? '',
      image: await requireImage(problemsFile, where, path.join(root, pid, image)),
      subject: f.string('subject'),
      grade: f.string('grade'),
    });
    if (o.limit !== undefined && out.length >= o.limit) break;
  }
  return limited(out, o.limit);
}

export function scienceQaPrompt(p: ScienceQaProblem, instruction: string = OPTION_LETTER): string {
  const lines = p.hint.trim() === '' ? [p.question] : [`Context: ${p.hint}`, p.question];
  return multipleChoicePrompt(lines, p.choices, instruction);
}

export async function scienceQaBenchmark(dir: string, imageRoot: string | undefined, o: BenchReadOptions = {}): Promise<Benchmark> {
  const problems = await readScienceQa(dir, imageRoot, o);
  const split = o.split ?? 'test';
  const items: EvalItem[] = problems.map((p) => ({ id: p.id, image: p.image, question: scienceQaPrompt(p, o.instruction), maxNewTokens: o.maxNewTokens ?? 16 }));
  return { bench: 'scienceqa', split, items, needsJudge: false, score: async (preds) => scoreScienceQa(problems, preds, split) };
}

const SUBJECTS: [string, string][] = [['natural science', 'NAT'], ['social science', 'SOC'], ['language science', 'LAN']];

export function scoreScienceQa(problems: ScienceQaProblem[], preds: Map<string, string>, split: string): BenchResult {
  const items: ItemScore[] = problems.map((p) => {
    const prediction = preds.get(p.id) ?? '';
    const letter = scienceQaLetter(prediction);
    return { id: p.id, prediction, extracted: letter, score: scienceQaChoice(letter, p.choices.length) === p.answer ? 1 : 0, answer: OPTIONS[p.answer] };
  });
  const acc = (keep: (p: ScienceQaProblem) => boolean) => {
    const its = items.filter((_, k) => keep(problems[k]));
    return { n: its.length, value: percent(its.reduce((a, it) => a + it.score, 0), its.length) };
  };
  const grade = (g: string) => Number(g.replace(/^grade/, ''));
  const groups: [string, (p: ScienceQaProblem) => boolean][] = [
    ...SUBJECTS.map(([s, label]) => [label, (p: ScienceQaProblem) => p.subject === s] as [string, (p: ScienceQaProblem) => boolean]),
    ['TXT (has context text)', (p) => p.hint !== ''],
    ['IMG (has image)', () => true],
    ['NO (no context)', () => false],
    ['G1-6', (p) => grade(p.grade) >= 1 && grade(p.grade) <= 6],
    ['G7-12', (p) => grade(p.grade) >= 7 && grade(p.grade) <= 12],
  ];
  const table: ScoreTable = {
    title: 'accuracy by subject, context and grade',
    columns: ['accuracy'],
    rows: groups.map(([label, keep]) => {
      const a = acc(keep);
      return { label, n: a.n, values: [a.value] };
    }),
  };
  const overall = acc(() => true).value;
  const failed = items.filter((it) => it.extracted === 'FAILED').length;
  return {
    bench: 'scienceqa',
    split,
    headline: { metric: 'accuracy (IMG)', value: overall },
    metrics: { accuracy: overall, questions: items.length, 'no option read': failed },
    tables: [table],
    items,
    notes: failed > 0 ? [`${failed} answers named no option (scored wrong, as LLaVA's script does)`] : [],
  };
}
