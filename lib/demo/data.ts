// The demo's three toy sets, drawn from one world seed in disjoint index ranges (a scene is a pure
// function of (seed, index), lib/toy/world.ts), so no scene is in two sets and a set does not
// change when another one grows:
//   unlabeled/     images only, no truth: the unlabeled images of stage 1a
//   instructions/  the toy dataset layout (lib/toy/dataset.ts): instructions.jsonl (one LLaVA
//                  conversation of short-answer questions per scene) is stage 2's instruction set
//   heldout/       the toy dataset layout: truth.jsonl and qa.jsonl score the models
// The world seed is DEMO_WORLD_SEED + --seed: far from the seeds the built-in model was trained and
// evaluated on (models/toy-llava/README.md), so every demo scene is new to it. Images are rendered at
// the model's input side (imageSize), as its pretraining rendered them: a smaller render would reach
// it upsampled and blurred. For a model pretrained with --reasoned, the instruction set answers in
// that form too (stage 2 fine-tunes on it; short answers would teach it to drop its reasoning).
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';

import { writeFileAtomic, writeJsonAtomic } from '../util/atomic_write.ts';
import { imagePath, writeToyDataset } from '../toy/dataset.ts';
import type { ToyEvalSet } from '../eval/toy_run.ts';
import { renderScenePng } from '../toy/render.ts';
import type { ToyQa } from '../toy/text.ts';
import { type ToyScene, generateScenes } from '../toy/world.ts';

export const DEMO_WORLD_SEED = 70_000;
/** First scene index of each set: apart by more than any set size the demo accepts. */
export const SET_START = { unlabeled: 0, instructions: 1_000_000, heldout: 2_000_000 } as const;
export const MAX_SET_SIZE = 1_000_000;

export interface DemoSizes {
  images: number;
  instructions: number;
  heldout: number;
}

export interface DemoData {
  /** Folder of the unlabeled PNGs (stage 1a's --images). */
  unlabeled: string;
  /** LLaVA instruction JSONL; image paths relative to its folder. */
  instructions: string;
  heldout: HeldoutSet;
}

/** The held-out set as read back from its folder: the scenes' images are <dir>/images/<id>.png. */
export type HeldoutSet = ToyEvalSet & { dir: string };

export function demoWorldSeed(seed: number): number {
  return DEMO_WORLD_SEED + seed;
}

/** How the model reads and answers: the side its images are rendered at; `reasoned`: instruction answers in the reasoned form. */
export interface DemoModelStyle {
  imageSize: number;
  reasoned: boolean;
}

/** Writes (or finds already written) the three sets under `dir`. */
export async function prepareDemoData(dir: string, seed: number, sizes: DemoSizes, style: DemoModelStyle, onScene?: (set: string, done: number, total: number) => void): Promise<DemoData> {
  const world = demoWorldSeed(seed);
  const unlabeled = path.join(dir, 'unlabeled');
  await writeUnlabeled(unlabeled, world, sizes.images, style.imageSize, (d, t) => onScene?.('unlabeled', d, t));
  const instructions = path.join(dir, 'instructions');
  await writeSet(instructions, world, SET_START.instructions, sizes.instructions, style, (d, t) => onScene?.('instructions', d, t));
  const heldout = path.join(dir, 'heldout');
  await writeSet(heldout, world, SET_START.heldout, sizes.heldout, style, (d, t) => onScene?.('heldout', d, t));
  return {
    unlabeled: path.join(unlabeled, 'images'),
    instructions: path.join(instructions, 'instructions.jsonl'),
    heldout: { dir: heldout, scenes: await readJsonl<ToyScene>(path.join(heldout, 'truth.jsonl')), questions: await readJsonl<ToyQa>(path.join(heldout, 'qa.jsonl')) },
  };
}

// The set's world.json when a complete earlier write made the same set (a re-run reuses it).
async function alreadyWritten(dir: string, want: Record<string, unknown>): Promise<boolean> {
  try {
    const had = JSON.parse(await readFile(path.join(dir, 'world.json'), 'utf8')) as Record<string, unknown>;
    return Object.entries(want).every(([k, v]) => had[k] === v);
  } catch {
    return false;
  }
}

async function writeSet(dir: string, seed: number, start: number, count: number, style: DemoModelStyle, onScene: (done: number, total: number) => void): Promise<void> {
  const { imageSize: size, reasoned } = style;
  if (await alreadyWritten(dir, { seed, start, count, size, reasoned })) return;
  await rm(path.join(dir, 'images'), { recursive: true, force: true }); // no scene of another count or size stays behind
  await writeToyDataset({ outDir: dir, seed, start, count, size, reasoned, onScene });
}

/** The scenes behind the unlabeled images (for reporting on the pairs only; never trained on). */
export function unlabeledScenes(seed: number, count: number): ToyScene[] {
  return generateScenes(demoWorldSeed(seed), count, SET_START.unlabeled);
}

// Images only: the truth of these scenes is never written, as unlabeled images have none. world.json
// goes last, so an interrupted write is redone.
async function writeUnlabeled(dir: string, seed: number, count: number, size: number, onScene: (done: number, total: number) => void): Promise<void> {
  const want = { seed, start: SET_START.unlabeled, count, size, unlabeled: true };
  if (await alreadyWritten(dir, want)) return;
  await rm(path.join(dir, 'images'), { recursive: true, force: true });
  const scenes = generateScenes(seed, count, SET_START.unlabeled);
  for (const [k, scene] of scenes.entries()) {
    await writeFileAtomic(path.join(dir, imagePath(scene)), await renderScenePng(scene, size));
    onScene(k + 1, count);
  }
  await writeJsonAtomic(path.join(dir, 'world.json'), want);
}

async function readJsonl<T>(file: string): Promise<T[]> {
  const text = await readFile(file, 'utf8');
  return text.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as T);
}
