// Scoring a toy model on held-out scenes, the one way every caller does it (`stic toy pretrain`'s
// evaluations, `stic demo`'s table of models, scripts/toy_probe.ts): each question asked alone in a
// single user turn with its scene's image, answered greedily, `batchSize` questions per generation
// call (short answers and descriptions with their own token budgets), and the answers and
// descriptions scored by ./toy_score.ts (VQA accuracy per question type, description precision/recall,
// CHAIR hallucination). How a batch reaches the model is one of two ways (AskBatch): evaluateToyModel
// renders the scenes and generates through a loaded ChatModel (the pretrainer, the probe);
// evaluateToyEngine asks an InferenceEngine with the scenes' decoded images, as the benchmarks ask
// theirs (the demo, lib/demo/evaluate.ts, which reads the images from the scenes' PNG files).
// Legend: N scenes, S image side.
import { type ChatModel, preprocessFor, userPromptIds } from '../engine/chat_input.ts';
import type { InferenceEngine, RgbImage } from '../engine/inference_api.ts';
import { chunks } from '../generate/batching.ts';
import { checkInt } from '../util/expect.ts';
import { evalRequest } from './predict.ts';
import { type DescriptionOutput, type QaResponse, type ToyEvalReport, evaluateToy } from './toy_score.ts';
import { scenePixels } from '../toy/pretrain_data.ts';
import { type ToyQa, questions } from '../toy/text.ts';
import { type ToyScene, generateScenes } from '../toy/world.ts';

export interface ToyEvalSet {
  /** The world seed the scenes were drawn from, when they were drawn (not read from files). */
  seed?: number;
  scenes: ToyScene[];
  /** Every question of every scene ("describe" included), in scene order. */
  questions: ToyQa[];
}

/** Scenes 0..count-1 of world seed `seed` with all their questions. */
export function toyEvalSet(seed: number, count: number): ToyEvalSet {
  const scenes = generateScenes(seed, count);
  return { seed, scenes, questions: scenes.flatMap((s) => questions(s)) };
}

export interface ToyEvalSettings {
  /** New tokens for a short answer ("top left" plus EOS fits in 3) and for a description. */
  answerTokens: number;
  describeTokens: number;
  /** Questions per generation call. */
  batchSize: number;
}

export const TOY_EVAL_DEFAULTS: ToyEvalSettings = { answerTokens: 8, describeTokens: 96, batchSize: 32 };

/** One question as put to the model: alone, with its scene's image, greedy, at most maxNewTokens new tokens. */
export interface ToyAsk {
  qa: ToyQa;
  maxNewTokens: number;
}

/** Puts one batch of questions to the model; the response texts in batch order. */
export type AskBatch = (batch: ToyAsk[]) => Promise<string[]>;

export interface ToyEvalOutput {
  report: ToyEvalReport;
  /** The short answers and the descriptions, each in question order. */
  answers: QaResponse[];
  descriptions: DescriptionOutput[];
}

/** Asks every question of the set, `s.batchSize` at a time through `ask`, and scores the responses. */
export async function runToyEval(set: ToyEvalSet, s: ToyEvalSettings, ask: AskBatch): Promise<ToyEvalOutput> {
  for (const key of ['answerTokens', 'describeTokens', 'batchSize'] as const) checkInt(s[key], `toy evaluation ${key}`, 1);
  const asks = set.questions.map((qa) => ({ qa, maxNewTokens: qa.type === 'describe' ? s.describeTokens : s.answerTokens }));
  const texts: string[] = [];
  for (const batch of chunks(asks, s.batchSize)) {
    const out = await ask(batch);
    if (out.length !== batch.length) throw new Error(`Expected ${batch.length} responses to a batch of toy questions but received ${out.length}`);
    texts.push(...out);
  }
  const answers: QaResponse[] = [];
  const descriptions: DescriptionOutput[] = [];
  set.questions.forEach((q, i) => {
    if (q.type === 'describe') descriptions.push({ sceneId: q.sceneId, text: texts[i] });
    else answers.push({ id: q.id, response: texts[i] });
  });
  return { report: evaluateToy(set.scenes, set.questions, answers, descriptions), answers, descriptions };
}

/** runToyEval through a loaded model: the scenes rendered and preprocessed as the pretrainer's batches are. */
export async function evaluateToyModel(chat: ChatModel, set: ToyEvalSet, s: ToyEvalSettings = TOY_EVAL_DEFAULTS): Promise<ToyEvalOutput> {
  const pixels = await scenePixels(set.scenes, preprocessFor(chat.model.config)); // [N, 3, S, S]
  const floats = 3 * chat.model.config.vision.imageSize ** 2;
  const imageOf = new Map(set.scenes.map((sc, i) => [sc.id, pixels.subarray(i * floats, (i + 1) * floats)]));
  return runToyEval(set, s, async (batch) => {
    const requests = batch.map((a) => ({ ids: userPromptIds(chat, a.qa.question, true), image: imageOf.get(a.qa.sceneId) as Float32Array, maxNewTokens: a.maxNewTokens, temperature: 0 }));
    const results = await chat.model.generate(requests, { batchSize: s.batchSize });
    return results.map((r) => r.text ?? chat.tokenizer.decode(r.ids, { skipSpecialTokens: true }));
  });
}

/**
 * runToyEval through an inference engine: each question with its scene's image from `images` (by
 * scene id; every scene of the set must have one), asked as predict.ts's evalRequest asks a
 * benchmark's question, the answer trimmed. `onBatch` hears how many questions each batch answered.
 */
export async function evaluateToyEngine(
  engine: InferenceEngine,
  set: ToyEvalSet,
  images: ReadonlyMap<string, RgbImage>,
  s: ToyEvalSettings,
  onBatch?: (answered: number) => void,
): Promise<ToyEvalOutput> {
  const missing = set.questions.find((q) => !images.has(q.sceneId));
  if (missing) throw new Error(`Expected an image for every scene of the toy evaluation but question "${missing.id}" is about scene "${missing.sceneId}", which has none`);
  return runToyEval(set, s, async (batch) => {
    const results = await engine.generate(batch.map((a) => evalRequest(a.qa.id, images.get(a.qa.sceneId) as RgbImage, a.qa.question, a.maxNewTokens)));
    onBatch?.(batch.length);
    return results.map((r) => r.text.trim());
  });
}

/** The headline numbers of a report, flat (for metrics rows and README tables). */
export function evalSummary(r: ToyEvalReport): Record<string, number | null> {
  const out: Record<string, number | null> = {
    vqa_accuracy: r.vqa.accuracy,
    chair_i: r.descriptions.hallucination.rate,
    chair_s: r.descriptions.hallucination.descriptions,
  };
  for (const [t, v] of Object.entries(r.vqa.byType)) out[`vqa_${t}`] = v.accuracy;
  for (const [level, pr] of Object.entries(r.descriptions.levels)) {
    out[`${level}_precision`] = pr.precision;
    out[`${level}_recall`] = pr.recall;
  }
  return out;
}

/**
 * The blind baseline: for each question type, always give the answer that is most frequent among
 * the questions of `reference` (training scenes), scored on `set`. It is what a model that learned
 * the answer priors but never looked at the image gets, so "better than chance" means above it.
 */
export function majorityBaseline(reference: readonly ToyQa[], set: ToyEvalSet): { accuracy: number; byType: Record<string, number> } {
  const counts = new Map<string, Map<string, number>>();
  for (const q of reference) {
    if (q.type === 'describe') continue;
    const c = counts.get(q.type) ?? new Map<string, number>();
    c.set(q.answer, (c.get(q.answer) ?? 0) + 1);
    counts.set(q.type, c);
  }
  const guess = new Map([...counts].map(([t, c]) => [t, [...c].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0][0]]));
  const asked = set.questions.filter((q) => q.type !== 'describe');
  const byType: Record<string, number> = {};
  let correct = 0;
  for (const t of new Set(asked.map((q) => q.type))) {
    const of = asked.filter((q) => q.type === t);
    const ok = of.filter((q) => q.answer === guess.get(t)).length;
    byType[t] = ok / of.length;
    correct += ok;
  }
  return { accuracy: correct / asked.length, byType };
}
