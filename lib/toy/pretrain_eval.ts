// Scoring a toy model on held-out scenes through the engine (lib/engine), as any user of the model
// would run it: each question asked alone in a single user turn with the image (the checkpoint's
// chat template), answered greedily, and the answers and descriptions scored by lib/toy/eval.ts
// (VQA accuracy per question type, description precision/recall, CHAIR hallucination).
// Legend: N scenes, S image side.
import { type ChatModel, preprocessFor, userPromptIds } from '../engine/chat_input.ts';
import { type DescriptionOutput, type QaResponse, type ToyEvalReport, evaluateToy } from './eval.ts';
import { scenePixels } from './pretrain_data.ts';
import { type ToyQa, questions } from './text.ts';
import { type ToyScene, generateScenes } from './world.ts';

export interface ToyEvalSet {
  seed: number;
  scenes: ToyScene[];
  /** Every question of every scene ("describe" included), in scene order. */
  questions: ToyQa[];
}

/** Scenes 0..count-1 of world seed `seed` with all their questions. */
export function toyEvalSet(seed: number, count: number): ToyEvalSet {
  const scenes = generateScenes(seed, count);
  return { seed, scenes, questions: scenes.flatMap((s) => questions(s)) };
}

export interface ToyEvalOptions {
  /** New tokens for a short answer (default 8: "top left" plus EOS fits in 3) and for a description (default 96). */
  answerTokens?: number;
  describeTokens?: number;
  /** Requests per native generation batch (default 32). */
  batchSize?: number;
}

export interface ToyEvalOutput {
  report: ToyEvalReport;
  answers: QaResponse[];
  descriptions: DescriptionOutput[];
}

/** Asks every question of the set and scores the responses. */
export async function evaluateToyModel(chat: ChatModel, set: ToyEvalSet, opts: ToyEvalOptions = {}): Promise<ToyEvalOutput> {
  const pixels = await scenePixels(set.scenes, preprocessFor(chat.model.config));
  const floats = 3 * chat.model.config.vision.imageSize ** 2;
  const imageOf = new Map(set.scenes.map((s, i) => [s.id, pixels.subarray(i * floats, (i + 1) * floats)]));
  const requests = set.questions.map((q) => ({
    ids: userPromptIds(chat, q.question, true),
    image: imageOf.get(q.sceneId) as Float32Array,
    maxNewTokens: q.type === 'describe' ? (opts.describeTokens ?? 96) : (opts.answerTokens ?? 8),
    temperature: 0,
  }));
  const results = await chat.model.generate(requests, { batchSize: opts.batchSize ?? 32 });
  const answers: QaResponse[] = [];
  const descriptions: DescriptionOutput[] = [];
  set.questions.forEach((q, i) => {
    const text = results[i].text ?? chat.tokenizer.decode(results[i].ids, { skipSpecialTokens: true });
    if (q.type === 'describe') descriptions.push({ sceneId: q.sceneId, text });
    else answers.push({ id: q.id, response: text });
  });
  return { report: evaluateToy(set.scenes, set.questions, answers, descriptions), answers, descriptions };
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
