// MMBench (Liu et al. 2023) as VLMEvalKit distributes it: a TSV with columns index, question, hint,
// A, B, C, D (E...), answer, category, l2-category, split and image (base64; a short number instead
// refers to the row with that index, whose image it shares). Cells pandas reads as NaN ("", "nan",
// "None", ...) are absent options / no hint, as in the official tools.
// Circular evaluation: a question is asked once per rotation of its options (N options, N passes;
// the option texts move, the letters stay) and counts as right only when every pass is right. A TSV
// that already holds the rotated copies (rows with index >= 1e6, grouped by index mod 1e6) is asked
// as given. Answers are read with option_extract.ts; a test-split question without an answer key is
// asked but not scored.
import { createHash } from 'node:crypto';
import { mkdir, stat } from 'node:fs/promises';
import path from 'node:path';

import { writeFileAtomic } from '../util/atomic_write.ts';
import { extractOption } from './option_extract.ts';
import { OPTION_LETTER, multipleChoicePrompt } from './prompts.ts';
import { readText } from './read_util.ts';
import { isPandasNa, parseTsv, type TsvRow } from './tsv.ts';
import { type Benchmark, BenchFileError, type BenchResult, type EvalItem, type ItemScore, type BenchReadOptions, type ScoreTable, percent } from './types.ts';

const CIRCULAR_OFFSET = 1_000_000;
const LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ'.split('');

/** One pass of one question: the options in this pass's order. */
export interface MmbenchPass {
  id: string;
  /** Index of the question (the first pass's row index). */
  question: string;
  options: Record<string, string>;
  /** Letter of the right option in this pass, or null when the file has no answer key. */
  answer: string | null;
  prompt: string;
  image: string;
  category: string;
  l2: string;
}

/**
 * Reads the TSV into passes. Images are decoded from base64 once into `imageDir/<content hash>.<ext>`
 * (the engine reads files; the folder is reused by later runs).
 */
export async function readMmbench(file: string, imageDir: string, o: BenchReadOptions = {}): Promise<MmbenchPass[]> {
  const instruction = o.instruction ?? OPTION_LETTER;
  const { header, rows } = parseTsv(file, await readText(file));
  for (const col of ['index', 'question', 'image', 'A', 'B']) {
    if (!header.includes(col)) throw new BenchFileError(file, '1', `expected a column "${col}" in the header but the columns are ${header.join(', ')}`);
  }
  const letters = LETTERS.filter((l) => header.includes(l));
  const byIndex = new Map<number, TsvRow>();
  for (const r of rows) {
    const index = Number(r.cells.index);
    if (!Number.isInteger(index) || index < 0) throw new BenchFileError(file, String(r.line), `expected "index" to be a non-negative integer but received ${JSON.stringify(r.cells.index)}`);
    if (byIndex.has(index)) throw new BenchFileError(file, String(r.line), `index ${index} appears twice`);
    byIndex.set(index, r);
  }
  const hasCopies = [...byIndex.keys()].some((i) => i >= CIRCULAR_OFFSET);
  const mains = [...byIndex.keys()].filter((i) => i < CIRCULAR_OFFSET).sort((a, b) => a - b);
  await mkdir(imageDir, { recursive: true });
  const passes: MmbenchPass[] = [];
  for (const main of o.limit === undefined ? mains : mains.slice(0, o.limit)) {
    const row = byIndex.get(main) as TsvRow;
    const image = await decodeImage(file, row, byIndex, imageDir);
    if (hasCopies) {
      const copies = [...byIndex.keys()].filter((i) => i % CIRCULAR_OFFSET === main).sort((a, b) => a - b);
      for (const i of copies) passes.push(passOf(file, byIndex.get(i) as TsvRow, letters, String(main), String(i), image, instruction));
    } else {
      const first = passOf(file, row, letters, String(main), String(main), image, instruction);
      const texts = Object.values(first.options);
      const right = first.answer === null ? null : LETTERS.indexOf(first.answer);
      for (let k = 0; k < texts.length; k++) {
        if (k === 0) {
          passes.push(first);
          continue;
        }
        const rotated = [...texts.slice(k), ...texts.slice(0, k)]; // pass k: option k comes first
        const options = Object.fromEntries(rotated.map((t, j) => [LETTERS[j], t]));
        const answer = right === null ? null : LETTERS[(right - k + texts.length) % texts.length];
        passes.push({ ...first, id: `${main}/${k}`, options, answer, prompt: promptOf(row, rotated, instruction) });
      }
    }
  }
  return passes;
}

function passOf(file: string, row: TsvRow, letters: string[], question: string, id: string, image: string, instruction: string): MmbenchPass {
  const present = letters.filter((l) => !isPandasNa(row.cells[l]));
  // Options are consecutive letters from A; a gap would shift every later letter.
  present.forEach((l, j) => {
    if (l !== LETTERS[j]) throw new BenchFileError(file, String(row.line), `expected options ${LETTERS.slice(0, present.length).join(', ')} but option ${LETTERS[j]} is empty while ${l} is given`);
  });
  if (present.length < 2) throw new BenchFileError(file, String(row.line), `expected at least 2 options (columns A, B, ...) but received ${present.length}`);
  const texts = present.map((l) => row.cells[l]);
  const key = row.cells.answer;
  let answer: string | null = null;
  if (!isPandasNa(key)) {
    if (!present.includes(key)) throw new BenchFileError(file, String(row.line), `expected "answer" to be one of the options ${present.join(', ')} but received ${JSON.stringify(key)}`);
    answer = key;
  }
  return {
    id,
    question,
    options: Object.fromEntries(present.map((l, j) => [l, texts[j]])),
    answer,
    prompt: promptOf(row, texts, instruction),
    image,
    category: row.cells.category ?? '',
    l2: row.cells['l2-category'] ?? '',
  };
}

// LLaVA's MMBench prompt: hint (when present) and question, the lettered options, the letter instruction.
function promptOf(row: TsvRow, options: string[], instruction: string): string {
  const hint = row.cells.hint;
  const lines = isPandasNa(hint) ? [row.cells.question] : [hint, row.cells.question];
  return multipleChoicePrompt(lines, options, instruction);
}

async function decodeImage(file: string, row: TsvRow, byIndex: Map<number, TsvRow>, dir: string): Promise<string> {
  let data = row.cells.image;
  if (data.length <= 64 && /^\d+$/.test(data)) {
    const ref = byIndex.get(Number(data));
    if (ref === undefined) throw new BenchFileError(file, String(row.line), `"image" refers to row index ${data}, which is not in the file`);
    data = ref.cells.image;
  }
  const bytes = Buffer.from(data, 'base64');
  const ext = bytes.subarray(0, 4).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47])) ? 'png' : bytes.subarray(0, 2).equals(Buffer.from([0xff, 0xd8])) ? 'jpg' : null;
  if (ext === null) throw new BenchFileError(file, String(row.line), 'expected "image" to hold a base64 PNG or JPEG but it decodes to neither');
  // Named by content: rows that carry the same picture (circular copies, several questions about one
  // image) share one file, so describe-and-respond describes each picture once.
  const out = path.join(dir, `${createHash('sha256').update(bytes).digest('hex').slice(0, 20)}.${ext}`);
  const existing = await stat(out).catch(() => null);
  if (existing?.size !== bytes.length) await writeFileAtomic(out, bytes);
  return out;
}

export async function mmbenchBenchmark(file: string, imageDir: string, o: BenchReadOptions = {}): Promise<Benchmark> {
  const passes = await readMmbench(file, imageDir, o);
  const items: EvalItem[] = passes.map((p) => ({ id: p.id, image: p.image, question: p.prompt, maxNewTokens: o.maxNewTokens ?? 16 }));
  const split = o.split ?? 'dev';
  return { bench: 'mmbench', split, items, needsJudge: false, score: async (preds) => scoreMmbench(passes, preds, split) };
}

export function scoreMmbench(passes: MmbenchPass[], preds: Map<string, string>, split: string): BenchResult {
  const items: ItemScore[] = passes.map((p) => {
    const prediction = preds.get(p.id) ?? '';
    const letter = extractOption(prediction, p.options);
    return { id: p.id, prediction, extracted: letter, score: p.answer !== null && letter === p.answer ? 1 : 0, answer: p.answer, question: p.question };
  });
  // question -> every pass right?
  const questions = new Map<string, { right: boolean; scored: boolean; firstRight: boolean; category: string; l2: string }>();
  passes.forEach((p, k) => {
    const q = questions.get(p.question);
    const right = items[k].score === 1;
    if (q === undefined) questions.set(p.question, { right, scored: p.answer !== null, firstRight: right, category: p.category, l2: p.l2 });
    else {
      q.right &&= right;
      q.scored &&= p.answer !== null;
    }
  });
  const scored = [...questions.values()].filter((q) => q.scored);
  const acc = (qs: typeof scored) => percent(qs.filter((q) => q.right).length, qs.length);
  const breakdown = (title: string, key: 'category' | 'l2'): ScoreTable => {
    const labels = [...new Set(scored.map((q) => q[key]))].sort();
    return { title, columns: ['circular accuracy'], rows: labels.map((l) => { const qs = scored.filter((q) => q[key] === l); return { label: l, n: qs.length, values: [acc(qs)] }; }) };
  };
  const circular = acc(scored);
  const unscored = questions.size - scored.length;
  return {
    bench: 'mmbench',
    split,
    headline: { metric: 'circular accuracy', value: circular },
    metrics: {
      'circular accuracy': circular,
      'first-pass accuracy': percent(scored.filter((q) => q.firstRight).length, scored.length),
      questions: scored.length,
      passes: passes.length,
      'no option read': items.filter((it) => it.extracted === null).length,
    },
    tables: [breakdown('by ability (l2-category)', 'l2'), breakdown('by category', 'category')],
    items,
    notes: unscored > 0 ? [`${unscored} questions have no answer key (test split) and were asked but not scored`] : [],
  };
}
