// Scoring one model (base, or base + an adapter) on the demo's held-out toy set, as the paper
// evaluates: greedy decoding (temperature 0), one question per conversation with the image, each
// question put as the benchmarks put theirs (lib/eval/predict.ts evalRequest).
//   VQA: every short-answer question of qa.jsonl, asked as "<image>\n<question>";
//   descriptions: each scene's "describe" question (one of the world's description prompts).
// Answers are scored with lib/toy/eval.ts (VQA accuracy, CHAIR hallucination, description
// precision/recall). The result, with every answer and description, is written to
// <eval>/<name>.json; a re-run reuses it while the model, adapter files and settings are the same.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';

import { writeJsonAtomic } from '../util/atomic_write.ts';
import { type ProgressFactory, silentProgress } from '../util/progress.ts';
import { evalRequest } from '../eval/predict.ts';
import type { ImageApi, InferenceEngine, OpenInference, RgbImage } from '../stic/engine_api.ts';
import { hashFile, hashOptions } from '../stic/manifest.ts';
import { chunks } from '../stic/stages/stage_io.ts';
import { ADAPTER_CONFIG, ADAPTER_WEIGHTS, PROJECTOR_WEIGHTS } from '../train/adapter_io.ts';
import { type DescriptionOutput, type QaResponse, type ToyEvalReport, evaluateToy } from '../toy/eval.ts';
import type { ToyEvalOptions } from '../toy/pretrain_eval.ts';
import type { ToyQa } from '../toy/text.ts';
import type { ToyScene } from '../toy/world.ts';

export interface HeldoutSet {
  /** Folder the scenes' image paths (images/<id>.png) are relative to. */
  dir: string;
  scenes: ToyScene[];
  questions: ToyQa[];
}

/** The toy evaluation's token budgets and batch size (lib/toy/pretrain_eval.ts), every one given. */
export type EvalSettings = Required<ToyEvalOptions>;

export interface ModelUnderTest {
  /** Column name in the table, e.g. "stic final"; the eval file is its slug ("stic-final.json"). */
  name: string;
  model: string;
  adapter?: string;
}

export interface ModelEval {
  name: string;
  model: string;
  adapter: string | null;
  key: string;
  answers: (QaResponse & { question: string; expected: string })[];
  descriptions: (DescriptionOutput & { prompt: string })[];
  report: ToyEvalReport;
}

export interface EvalDeps {
  open: OpenInference;
  images: ImageApi;
  threads?: number;
  progress?: ProgressFactory;
}

/** Scores `m` on `set`, or returns the stored result of an identical earlier evaluation. */
export async function evaluateModel(m: ModelUnderTest, set: HeldoutSet, s: EvalSettings, outDir: string, deps: EvalDeps): Promise<ModelEval> {
  const file = path.join(outDir, `${m.name.replace(/[^A-Za-z0-9]+/g, '-')}.json`);
  const key = await evalKey(m, set, s);
  const stored = await readStored(file);
  if (stored?.key === key) return stored;
  const engine = await deps.open({ model: m.model, adapter: m.adapter, threads: deps.threads });
  let result: ModelEval;
  try {
    result = await runEval(engine, m, key, set, s, deps);
  } finally {
    if (engine.close) await engine.close();
  }
  await writeJsonAtomic(file, result);
  return result;
}

// What the result depends on: the model folder, the adapter's files, the questions and settings.
async function evalKey(m: ModelUnderTest, set: HeldoutSet, s: EvalSettings): Promise<string> {
  const adapterFiles: Record<string, string | null> = {};
  if (m.adapter !== undefined) {
    for (const f of [ADAPTER_CONFIG, ADAPTER_WEIGHTS, PROJECTOR_WEIGHTS]) {
      const p = path.join(m.adapter, f);
      adapterFiles[f] = existsSync(p) ? await hashFile(p) : null;
    }
  }
  return hashOptions({ model: path.resolve(m.model), adapterFiles, questions: set.questions.map((q) => [q.id, q.question]), settings: s });
}

async function readStored(file: string): Promise<ModelEval | null> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as ModelEval;
  } catch {
    return null;
  }
}

interface Ask {
  q: ToyQa;
  image: RgbImage;
}

async function runEval(engine: InferenceEngine, m: ModelUnderTest, key: string, set: HeldoutSet, s: EvalSettings, deps: EvalDeps): Promise<ModelEval> {
  const images = new Map<string, RgbImage>();
  for (const scene of set.scenes) images.set(scene.id, await deps.images.load(path.join(set.dir, 'images', `${scene.id}.png`)));
  const asks: Ask[] = set.questions.map((q) => {
    const image = images.get(q.sceneId);
    if (image === undefined) throw new Error(`${path.join(set.dir, 'qa.jsonl')}: question "${q.id}" is about scene "${q.sceneId}", which is not in truth.jsonl`);
    return { q, image };
  });
  const texts = new Map<string, string>();
  const bar = (deps.progress ?? silentProgress)(`eval ${m.name}`, asks.length);
  try {
    for (const batch of chunks(asks, s.batchSize)) {
      const requests = batch.map((a) => evalRequest(a.q.id, a.image, a.q.question, a.q.type === 'describe' ? s.describeTokens : s.answerTokens));
      const out = await engine.generate(requests);
      batch.forEach((a, i) => texts.set(a.q.id, out[i].text.trim()));
      bar.tick(batch.length);
    }
  } finally {
    bar.stop();
  }
  const answers = asks.filter((a) => a.q.type !== 'describe').map((a) => ({ id: a.q.id, question: a.q.question, expected: a.q.answer, response: texts.get(a.q.id) as string }));
  const descriptions = asks.filter((a) => a.q.type === 'describe').map((a) => ({ sceneId: a.q.sceneId, prompt: a.q.question, text: texts.get(a.q.id) as string }));
  const report = evaluateToy(set.scenes, set.questions, answers, descriptions);
  return { name: m.name, model: m.model, adapter: m.adapter ?? null, key, answers, descriptions, report };
}
