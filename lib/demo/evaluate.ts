// Scoring one model (base, or base + an adapter) on the demo's held-out toy set with the toy
// evaluation through the pipeline's inference engine (lib/eval/toy_run.ts evaluateToyEngine: every
// question of qa.jsonl alone with its scene's image, greedy, scored by lib/eval/toy_score.ts), the
// images read from the scenes' PNG files. The result, with every answer and description, is written
// to <eval>/<name>.json; a re-run reuses it while the model, adapter files and settings are the same.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';

import { writeJsonAtomic } from '../util/atomic_write.ts';
import { type ProgressFactory, silentProgress } from '../util/progress.ts';
import type { DescriptionOutput, QaResponse, ToyEvalReport } from '../eval/toy_score.ts';
import { type ToyEvalOutput, type ToyEvalSettings, evaluateToyEngine } from '../eval/toy_run.ts';
import type { ImageApi, InferenceEngine, OpenInference, RgbImage } from '../stic/engine_api.ts';
import { hashFile, hashOptions } from '../stic/manifest.ts';
import { ADAPTER_CONFIG, ADAPTER_WEIGHTS, PROJECTOR_WEIGHTS } from '../train/adapter_io.ts';
import type { ToyQa } from '../toy/text.ts';
import type { HeldoutSet } from './data.ts';

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

export interface ModelEvalDeps {
  open: OpenInference;
  images: ImageApi;
  threads?: number;
  progress?: ProgressFactory;
}

/** Scores `m` on `set`, or returns the stored result of an identical earlier evaluation. */
export async function evaluateModel(m: ModelUnderTest, set: HeldoutSet, s: ToyEvalSettings, outDir: string, deps: ModelEvalDeps): Promise<ModelEval> {
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
async function evalKey(m: ModelUnderTest, set: HeldoutSet, s: ToyEvalSettings): Promise<string> {
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

async function runEval(engine: InferenceEngine, m: ModelUnderTest, key: string, set: HeldoutSet, s: ToyEvalSettings, deps: ModelEvalDeps): Promise<ModelEval> {
  const images = await sceneImages(set, deps.images);
  const bar = (deps.progress ?? silentProgress)(`eval ${m.name}`, set.questions.length);
  let out: ToyEvalOutput;
  try {
    out = await evaluateToyEngine(engine, set, images, s, (answered) => bar.tick(answered));
  } finally {
    bar.stop();
  }
  // The stored file keeps each answer's question and expected answer, and each description's prompt.
  const byId = new Map(set.questions.map((q) => [q.id, q]));
  const answers = out.answers.map((a) => {
    const q = byId.get(a.id) as ToyQa;
    return { id: a.id, question: q.question, expected: q.answer, response: a.response };
  });
  const prompts = set.questions.filter((q) => q.type === 'describe').map((q) => q.question);
  const descriptions = out.descriptions.map((d, i) => ({ sceneId: d.sceneId, prompt: prompts[i], text: d.text }));
  return { name: m.name, model: m.model, adapter: m.adapter ?? null, key, answers, descriptions, report: out.report };
}

// Each scene's image, decoded once; every question must be about one of the scenes.
async function sceneImages(set: HeldoutSet, api: ImageApi): Promise<Map<string, RgbImage>> {
  const images = new Map<string, RgbImage>();
  for (const scene of set.scenes) images.set(scene.id, await api.load(path.join(set.dir, 'images', `${scene.id}.png`)));
  for (const q of set.questions) {
    if (!images.has(q.sceneId)) throw new Error(`${path.join(set.dir, 'qa.jsonl')}: question "${q.id}" is about scene "${q.sceneId}", which is not in truth.jsonl`);
  }
  return images;
}
