// Asking a model every item of a benchmark, as the paper evaluates: greedy decoding (temperature 0),
// one user turn "<image>\n<question>" rendered with the model's chat template (LLaVA's conversation
// template for LLaVA models), batches of `batchSize` requests. Answers are appended to
// predictions.jsonl and fsync'ed per batch, so a killed run resumes where it stopped; the settings
// the answers depend on are kept in predictions.meta.json and a resume with different ones is
// refused (never a file that mixes two models).
// Describe-and-respond (STIC.md): the model first describes each distinct image (descriptions.jsonl,
// resumable too), and the description is put before the question of every item about that image.
import { readFile } from 'node:fs/promises';

import { DEFAULT_PROMPTS, formatInfusion } from '../data/prompts.ts';
import { userTurn } from '../data/records/preference.ts';
import type { ChatGenerateRequest, ImageApi, InferenceDeps, RgbImage } from '../engine/inference_api.ts';
import { chunks } from '../generate/batching.ts';
import { writeJsonAtomic } from '../util/atomic_write.ts';
import { JsonlWriter } from '../util/jsonl_writer.ts';
import { silentProgress } from '../util/progress.ts';
import { DESCRIBE_PROMPT } from './prompts.ts';
import { readJsonLines } from './read_util.ts';
import type { EvalItem } from './types.ts';

export interface PredictOptions {
  batchSize: number;
  describeFirst: boolean;
  /** New tokens of a describe-first description. */
  describeTokens: number;
}

/** What the answers depend on; a stored predictions file is reused only when this is equal. */
export type PredictionsKey = Record<string, unknown>;

export interface PredictionRecord {
  id: string;
  /** The user turn as asked (after the image token). */
  question: string;
  text: string;
  finish: string;
  new_tokens: number;
}

/** Answers for every item (id -> text), generating only those `dir`'s files do not hold yet. */
export async function predict(items: EvalItem[], files: { predictions: string; descriptions: string; meta: string }, key: PredictionsKey, o: PredictOptions, deps: InferenceDeps): Promise<Map<string, string>> {
  await checkKey(files.meta, key);
  await writeJsonAtomic(files.meta, key);
  let asked = items;
  if (o.describeFirst) {
    const images = [...new Set(items.map((it) => it.image))];
    const describeItems = images.map((image) => ({ id: image, image, question: DESCRIBE_PROMPT, maxNewTokens: o.describeTokens }));
    const descriptions = await generateAll(describeItems, files.descriptions, deps, o.batchSize, 'describe');
    asked = items.map((it) => ({ ...it, question: `${formatInfusion(DEFAULT_PROMPTS.infusion, descriptions.get(it.image) as string)}${it.question}` }));
  }
  return generateAll(asked, files.predictions, deps, o.batchSize, 'answer');
}

async function checkKey(file: string, key: PredictionsKey): Promise<void> {
  let stored: PredictionsKey;
  try {
    stored = JSON.parse(await readFile(file, 'utf8')) as PredictionsKey;
  } catch {
    return; // no earlier run (or an unreadable meta file, which the run rewrites)
  }
  const differ = [...new Set([...Object.keys(stored), ...Object.keys(key)])].filter((k) => JSON.stringify(stored[k]) !== JSON.stringify(key[k]));
  if (differ.length > 0) {
    throw new Error(
      `${file}: the predictions beside it were made with different settings (${differ.map((k) => `${k}: ${JSON.stringify(stored[k])} -> ${JSON.stringify(key[k])}`).join('; ')}); ` +
        'use another --out or --name, or delete that folder to start over',
    );
  }
}

// Generates the items missing from `file` and returns every answer the file then holds for `items`.
async function generateAll(items: EvalItem[], file: string, deps: InferenceDeps, batchSize: number, label: string): Promise<Map<string, string>> {
  const writer = await JsonlWriter.open(file);
  const answers = new Map<string, string>();
  try {
    const asked = new Map(items.map((it) => [it.id, it.question]));
    for (const { value, line } of await readJsonLines(file)) {
      const r = value as PredictionRecord;
      const question = asked.get(String(r.id));
      if (question !== undefined && r.question !== question) {
        throw new Error(`${file}:${line}: item ${r.id} was asked ${JSON.stringify(r.question)} but the benchmark now asks ${JSON.stringify(question)}; use another --out or --name, or delete the file to start over`);
      }
      answers.set(String(r.id), String(r.text));
    }
    const todo = items.filter((it) => !answers.has(it.id));
    const bar = (deps.progress ?? silentProgress)(label, items.length, items.length - todo.length);
    try {
      for (const batch of chunks(todo, batchSize)) {
        const decoded = await loadBatchImages(batch, deps.images);
        const requests = batch.map((it) => evalRequest(it.id, decoded.get(it.image) as RgbImage, it.question, it.maxNewTokens));
        const out = await deps.engine.generate(requests);
        const records: PredictionRecord[] = batch.map((it, k) => ({ id: it.id, question: it.question, text: out[k].text, finish: out[k].finish, new_tokens: out[k].newTokens }));
        await writer.append(records);
        for (const r of records) answers.set(r.id, r.text);
        bar.tick(batch.length);
      }
    } finally {
      bar.stop();
    }
  } finally {
    await writer.close();
  }
  return answers;
}

/**
 * A question as the paper's evaluation asks it: alone in one user turn after the image token, answered
 * greedily (seed 0, so the answer does not depend on the batch). The benchmarks and the demo's toy
 * evaluation (lib/demo/evaluate.ts) ask theirs this way.
 */
export function evalRequest(id: string, image: RgbImage, question: string, maxNewTokens: number): ChatGenerateRequest {
  return {
    id,
    image,
    messages: [userTurn(question)],
    sampling: { temperature: 0, topP: 1, topK: 0, maxNewTokens },
    seed: 0,
  };
}

// Each distinct image of a batch decoded once (MMBench's rotations of one question share it).
async function loadBatchImages(batch: EvalItem[], images: ImageApi): Promise<Map<string, RgbImage>> {
  const out = new Map<string, RgbImage>();
  for (const it of batch) {
    if (out.has(it.image)) continue;
    try {
      out.set(it.image, await images.load(it.image));
    } catch (err) {
      throw new Error(`item ${it.id}: cannot read its image ${it.image}: ${(err as Error).message}`);
    }
  }
  return out;
}
