// A toy dataset on disk: rendered images and every text derived from their truth, in the formats
// the rest of the project reads. Layout of `outDir` (image paths in records are relative to it):
//   images/<scene id>.png   the scenes (and images_<S>px/ for each extra size)
//   truth.jsonl             one ToyScene per line
//   captions.jsonl          {id, image, captions: [3 phrasings]}
//   qa.jsonl                {id, sceneId, image, type, question, answer}
//   instructions.jsonl      LLaVA instruction samples, one per scene: its short-answer questions as
//                           one conversation, "<image>\n" in front of the first (stage 2b's input)
//   world.json              how the set was drawn (seed, first index, count, sizes, shape range)
import path from 'node:path';

import { IMAGE_TOKEN } from '../model/tokenizer.ts';
import { writeFileAtomic, writeJsonAtomic } from '../util/atomic_write.ts';
import { TOY_IMAGE_SIZE, renderScenePng } from './render.ts';
import { type ToyQa, captions, questions, reasonedAnswer } from './text.ts';
import { type ToyScene, type WorldOptions, generateScenes } from './world.ts';

export interface ToyDatasetOptions extends WorldOptions {
  outDir: string;
  seed: number;
  count: number;
  /** Index of the first scene (default 0): disjoint ranges of one seed are disjoint sets. */
  start?: number;
  /** Side of images/ in pixels (default TOY_IMAGE_SIZE). */
  size?: number;
  /** Further sides, each rendered into images_<S>px/ (e.g. 336 to look at them). */
  extraSizes?: number[];
  /** instructions.jsonl in the reasoned form (text.ts reasonedAnswer), for a model pretrained with --reasoned. */
  reasoned?: boolean;
  /** Called after each scene is rendered (progress). */
  onScene?: (done: number, total: number) => void;
}

export interface ToyDatasetSummary {
  scenes: number;
  questions: number;
  files: string[];
}

export function imagePath(scene: ToyScene): string {
  return `images/${scene.id}.png`;
}

export async function writeToyDataset(opts: ToyDatasetOptions): Promise<ToyDatasetSummary> {
  const size = opts.size ?? TOY_IMAGE_SIZE;
  const extra = opts.extraSizes ?? [];
  const start = opts.start ?? 0;
  const scenes = generateScenes(opts.seed, opts.count, start, opts);
  for (const [k, scene] of scenes.entries()) {
    await writeFileAtomic(path.join(opts.outDir, imagePath(scene)), await renderScenePng(scene, size));
    for (const s of extra) await writeFileAtomic(path.join(opts.outDir, `images_${s}px`, `${scene.id}.png`), await renderScenePng(scene, s));
    opts.onScene?.(k + 1, scenes.length);
  }
  const qa = scenes.flatMap((scene) => questions(scene).map((q) => ({ ...q, image: imagePath(scene) })));
  const files: [string, string][] = [
    ['truth.jsonl', jsonl(scenes)],
    ['captions.jsonl', jsonl(scenes.map((s) => ({ id: s.id, image: imagePath(s), captions: captions(s) })))],
    ['qa.jsonl', jsonl(qa)],
    ['instructions.jsonl', jsonl(scenes.map((s) => instructionSample(s, questions(s), opts.reasoned ?? false)))],
  ];
  for (const [name, text] of files) await writeFileAtomic(path.join(opts.outDir, name), text);
  const world = { seed: opts.seed, start, count: opts.count, size, extraSizes: extra, minShapes: opts.minShapes ?? null, maxShapes: opts.maxShapes ?? null, reasoned: opts.reasoned ?? false };
  await writeJsonAtomic(path.join(opts.outDir, 'world.json'), world);
  return { scenes: scenes.length, questions: qa.length, files: [...files.map(([n]) => n), 'world.json'] };
}

/** A scene's short-answer questions as one LLaVA conversation (the image token on the first turn); `reasoned`: answers in the reasoned form. */
export function instructionSample(scene: ToyScene, qa: readonly ToyQa[], reasoned = false): Record<string, unknown> {
  const turns = qa.filter((q) => q.type !== 'describe');
  return {
    id: scene.id,
    image: imagePath(scene),
    conversations: turns.flatMap((q, i) => [
      { from: 'human', value: i === 0 ? `${IMAGE_TOKEN}\n${q.question}` : q.question },
      { from: 'gpt', value: reasoned ? reasonedAnswer(scene, q) : q.answer },
    ]),
  };
}

function jsonl(records: readonly unknown[]): string {
  return records.map((r) => `${JSON.stringify(r)}\n`).join('');
}
