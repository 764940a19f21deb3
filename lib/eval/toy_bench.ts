// Small benchmark files in the official formats, made from the toy world (lib/toy), so `stic eval`
// runs end to end on the built-in model without downloading anything. Questions and answers come
// from the toy scenes' exact truth (lib/toy/text.ts):
//   pope/coco_pope_random.json + val2014/          existence questions (yes / no), JSONL
//   textvqa/TextVQA_0.5.1_val.json + train_images/ count, colour, position, size (10 equal answers), JPEG
//   scienceqa/problems.json, pid_splits.json, images/test/<pid>/image.png   colour, multiple choice
//   chartqa/test_human.json + png/                 count questions, number-word labels
//   mmbench/mmbench_toy.tsv                        colour and position, 4 options, base64 PNG
//   mmvet/mm-vet.json + images/                    count and colour (judge-scored)
import { mkdir } from 'node:fs/promises';
import path from 'node:path';

import sharp from 'sharp';

import { writeFileAtomic, writeJsonAtomic } from '../util/atomic_write.ts';
import { seededRandom } from '../util/seeded.ts';
import { renderScenePng } from '../toy/render.ts';
import { type ToyQa, questions } from '../toy/text.ts';
import { COLOUR_NAMES, POSITIONS } from '../toy/vocab.ts';
import { type ToyScene, generateScenes } from '../toy/world.ts';

export interface ToyBenchOptions {
  out: string;
  /** Scenes (each gives a few questions per benchmark). */
  count: number;
  /** World seed (the built-in model was trained on seed 1; `stic toy-bench` defaults to its held-out evaluation seed). */
  seed: number;
  /** Image side in pixels (`stic toy-bench`: the built-in model's input side). */
  size: number;
}

export interface ToyBenchFiles {
  pope: string;
  textvqa: string;
  scienceqa: string;
  chartqa: string;
  mmbench: string;
  mmvet: string;
}

export async function writeToyBenchmarks(o: ToyBenchOptions): Promise<ToyBenchFiles> {
  const scenes = generateScenes(o.seed, o.count);
  const pngs = await Promise.all(scenes.map((s) => renderScenePng(s, o.size)));
  const qa = scenes.map((s) => questions(s));
  const dirs = Object.fromEntries(['pope', 'textvqa', 'scienceqa', 'chartqa', 'mmbench', 'mmvet'].map((b) => [b, path.join(o.out, b)]));
  for (const d of Object.values(dirs)) await mkdir(d, { recursive: true });

  // POPE: the two existence questions of each scene.
  const pope: object[] = [];
  for (const [k, s] of scenes.entries()) {
    await writeFileAtomic(path.join(dirs.pope, 'val2014', `${s.id}.png`), pngs[k]);
    for (const q of qa[k].filter((x) => x.type === 'exists')) pope.push({ question_id: pope.length + 1, image: `${s.id}.png`, text: q.question, label: q.answer });
  }
  await writeFileAtomic(path.join(dirs.pope, 'coco_pope_random.json'), pope.map((r) => `${JSON.stringify(r)}\n`).join(''));

  // TextVQA: short-answer questions, ten identical human answers.
  const data: object[] = [];
  for (const [k, s] of scenes.entries()) {
    await writeFileAtomic(path.join(dirs.textvqa, 'train_images', `${s.id}.jpg`), await sharp(pngs[k]).jpeg({ quality: 95 }).toBuffer());
    for (const q of qa[k].filter((x) => ['count', 'colour', 'position', 'size'].includes(x.type))) {
      data.push({ question_id: data.length + 1, question: q.question, image_id: s.id, answers: Array(10).fill(q.answer), set_name: 'val' });
    }
  }
  await writeJsonAtomic(path.join(dirs.textvqa, 'TextVQA_0.5.1_val.json'), { dataset_type: 'val', dataset_name: 'textvqa', dataset_version: 'toy', data });

  // ScienceQA: the colour question as multiple choice (the right colour among three).
  const problems: Record<string, object> = {};
  for (const [k, s] of scenes.entries()) {
    const q = qa[k].find((x) => x.type === 'colour');
    if (q === undefined) continue;
    const pid = String(k + 1);
    const { choices, answer } = choicesFor(q, COLOUR_NAMES, 3, s);
    await writeFileAtomic(path.join(dirs.scienceqa, 'images', 'test', pid, 'image.png'), pngs[k]);
    problems[pid] = { question: q.question, choices, answer, hint: '', image: 'image.png', task: 'closed choice', grade: 'grade1', subject: 'natural science', topic: 'toy shapes', category: 'colour', skill: 'identify colours', lecture: '', solution: '', split: 'test' };
  }
  await writeJsonAtomic(path.join(dirs.scienceqa, 'problems.json'), problems);
  await writeJsonAtomic(path.join(dirs.scienceqa, 'pid_splits.json'), { train: [], val: [], test: Object.keys(problems) });

  // ChartQA: the count questions, labels as the number words the toy world answers with.
  const chart: object[] = [];
  for (const [k, s] of scenes.entries()) {
    await writeFileAtomic(path.join(dirs.chartqa, 'png', `${s.id}.png`), pngs[k]);
    for (const q of qa[k].filter((x) => x.type === 'count' || x.type === 'count_kind')) chart.push({ imgname: `${s.id}.png`, query: q.question, label: q.answer });
  }
  await writeJsonAtomic(path.join(dirs.chartqa, 'test_human.json'), chart);

  // MMBench: colour and position as four-option questions, images inline.
  const header = ['index', 'question', 'hint', 'A', 'B', 'C', 'D', 'answer', 'category', 'l2-category', 'split', 'image'];
  const rows: string[] = [header.join('\t')];
  for (const [k, s] of scenes.entries()) {
    for (const q of qa[k].filter((x) => x.type === 'colour' || x.type === 'position')) {
      const { choices, answer } = choicesFor(q, q.type === 'colour' ? COLOUR_NAMES : POSITIONS, 4, s);
      const cells = [String(rows.length - 1), q.question, 'nan', ...choices, 'ABCD'[answer], q.type, q.type === 'colour' ? 'attribute' : 'spatial', 'dev', pngs[k].toString('base64')];
      rows.push(cells.join('\t'));
    }
  }
  await writeFileAtomic(path.join(dirs.mmbench, 'mmbench_toy.tsv'), `${rows.join('\n')}\n`);

  // MM-Vet: count and colour, graded by a judge.
  const mmvet: Record<string, object> = {};
  for (const [k, s] of scenes.entries()) {
    await writeFileAtomic(path.join(dirs.mmvet, 'images', `${s.id}.png`), pngs[k]);
    for (const q of qa[k].filter((x) => x.type === 'count' || x.type === 'colour')) {
      mmvet[`v1_${Object.keys(mmvet).length}`] = { imagename: `${s.id}.png`, capability: q.type === 'count' ? ['rec', 'math'] : ['rec'], question: q.question, answer: q.answer };
    }
  }
  await writeJsonAtomic(path.join(dirs.mmvet, 'mm-vet.json'), mmvet);

  return {
    pope: path.join(dirs.pope, 'coco_pope_random.json'),
    textvqa: path.join(dirs.textvqa, 'TextVQA_0.5.1_val.json'),
    scienceqa: dirs.scienceqa,
    chartqa: dirs.chartqa,
    mmbench: path.join(dirs.mmbench, 'mmbench_toy.tsv'),
    mmvet: path.join(dirs.mmvet, 'mm-vet.json'),
  };
}

// The right answer among n options drawn from `pool` (keyed by the scene), at a drawn position.
function choicesFor(q: ToyQa, pool: readonly string[], n: number, s: ToyScene): { choices: string[]; answer: number } {
  const rng = seededRandom('stic-toy-bench', s.seed, s.index, q.id.length);
  const others = pool.filter((c) => c !== q.answer);
  const picked: string[] = [];
  while (picked.length < n - 1) {
    const c = others[rng.int(others.length)];
    if (!picked.includes(c)) picked.push(c);
  }
  const answer = rng.int(n);
  picked.splice(answer, 0, q.answer);
  return { choices: picked, answer };
}
