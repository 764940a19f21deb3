// Scoring a model on the toy world against the truth: VQA accuracy, object hallucination, and
// description precision/recall. Outputs are read with the rules of lib/toy/parse.ts. Definitions:
//
// VQA (every question type but "describe"): an answer is correct when
//   - exists: the first word of normaliseAnswer(response) equals the canonical "yes"/"no"
//     ("Yes, there is a red star." is right; "Maybe yes" is wrong);
//   - position: canonicalPositions(normaliseAnswer(response)) equals the canonical cell name;
//   - count, count_kind, colour, size: normaliseAnswer(response) equals normaliseAnswer(answer)
//     (so "3", "three" and "There are 3 shapes." all match "three"; "The star is red." does not
//     match "red": the kind word is not filler).
//   A reasoned answer ("a red circle: no, a blue star: yes, so blue", lib/toy/text.ts) is scored on
//   what follows its last ", so " (finalAnswer), the same rules applied to that.
//   accuracy = correct / asked, overall and per type.
//
// Descriptions: for description d of scene s, with M(d) the non-negated mentions of lib/toy/parse.ts and
// S(s) the scene's shapes, three levels of sets (a set, so repeating a shape counts once):
//   shape:          mentioned = {kind of m}                         truth = {kind of x in S}
//   shape_colour:   mentioned = {(kind, colour) of m with a colour}   truth = {(kind, colour) of x}
//   shape_position: mentioned = {(kind, position) of m with one}     truth = {(kind, position) of x}
//   precision = sum_d |mentioned ∩ truth| / sum_d |mentioned|   (pooled over descriptions)
//   recall    = sum_d |mentioned ∩ truth| / sum_d |truth|
//   f1        = 2PR / (P + R)
// A ratio whose denominator is 0 is null (e.g. precision when nothing was mentioned).
//
// Object hallucination, at the shape level (CHAIR, Rohrbach et al. 2018, "Object Hallucination in
// Image Captioning", with shape kinds as the object categories):
//   rate (CHAIR_i)    = sum_d |mentioned \ truth| / sum_d |mentioned| = 1 - shape precision
//   descriptions (CHAIR_s) = share of descriptions with at least one hallucinated kind
//   perDescription    = mean over descriptions that mention a kind of |mentioned \ truth| / |mentioned|
import { canonicalPositions, normaliseAnswer, parseMentions } from '../toy/parse.ts';
import { QUESTION_TYPES, type QuestionType, type ToyQa, finalAnswer } from '../toy/text.ts';
import type { ToyScene } from '../toy/world.ts';

/** A model's answer to one question (joined to the question by id, never by position). */
export interface QaResponse {
  id: string;
  response: string;
}

export interface VqaResult {
  asked: number;
  correct: number;
  /** correct / asked, null when nothing was asked. */
  accuracy: number | null;
  byType: Partial<Record<QuestionType, { asked: number; correct: number; accuracy: number }>>;
}

/** True when `response` answers `qa` correctly under the rules above. */
export function isCorrectAnswer(qa: Pick<ToyQa, 'type' | 'answer'>, response: string): boolean {
  const got = normaliseAnswer(finalAnswer(response));
  switch (qa.type) {
    case 'exists':
      return (got.split(' ')[0] ?? '') === qa.answer;
    case 'position':
      return canonicalPositions(got) === qa.answer;
    case 'describe':
      throw new Error(`Expected a question with a short answer but received a "describe" question: score descriptions with scoreDescriptions`);
    default:
      return got === normaliseAnswer(qa.answer);
  }
}

/**
 * VQA accuracy of `responses` on `questions` ("describe" questions are skipped). Every question
 * needs exactly one response with its id; a missing or unknown id is an error naming it.
 */
export function scoreVqa(questions: readonly ToyQa[], responses: readonly QaResponse[]): VqaResult {
  const byId = new Map<string, string>();
  for (const r of responses) {
    if (byId.has(r.id)) throw new Error(`Expected one response per question but received two for question id "${r.id}"`);
    byId.set(r.id, r.response);
  }
  const asked = questions.filter((q) => q.type !== 'describe');
  const known = new Set(questions.map((q) => q.id));
  for (const r of responses) {
    if (!known.has(r.id)) throw new Error(`Expected responses to questions of this set but received one for unknown question id "${r.id}"`);
  }
  const counts = new Map<QuestionType, { asked: number; correct: number }>();
  let correct = 0;
  for (const q of asked) {
    const response = byId.get(q.id);
    if (response === undefined) throw new Error(`Expected a response for question id "${q.id}" (${q.type}: ${JSON.stringify(q.question)}) but found none`);
    const ok = isCorrectAnswer(q, response);
    const c = counts.get(q.type) ?? { asked: 0, correct: 0 };
    c.asked++;
    if (ok) {
      c.correct++;
      correct++;
    }
    counts.set(q.type, c);
  }
  const byType: VqaResult['byType'] = {};
  for (const t of QUESTION_TYPES) {
    const c = counts.get(t);
    if (c) byType[t] = { ...c, accuracy: c.correct / c.asked };
  }
  return { asked: asked.length, correct, accuracy: ratio(correct, asked.length), byType };
}

/** A description of one scene (joined to the truth by scene id). */
export interface DescriptionOutput {
  sceneId: string;
  text: string;
}

export const DESCRIPTION_LEVELS = ['shape', 'shape_colour', 'shape_position'] as const;
export type DescriptionLevel = (typeof DESCRIPTION_LEVELS)[number];

export interface PrecisionRecall {
  /** Sums over descriptions of |mentioned ∩ truth|, |mentioned|, |truth|. */
  matched: number;
  mentioned: number;
  truth: number;
  precision: number | null;
  recall: number | null;
  f1: number | null;
}

/** One description's sets at every level, and its hallucinated kinds. */
export interface DescriptionDetail {
  sceneId: string;
  mentioned: Record<DescriptionLevel, string[]>;
  truth: Record<DescriptionLevel, string[]>;
  hallucinated: string[];
}

export interface HallucinationResult {
  /** CHAIR_i: hallucinated kinds / mentioned kinds, pooled. */
  rate: number | null;
  /** CHAIR_s: share of descriptions with at least one hallucinated kind. */
  descriptions: number | null;
  /** Mean per-description rate over descriptions mentioning at least one kind. */
  perDescription: number | null;
}

export interface DescriptionResult {
  count: number;
  levels: Record<DescriptionLevel, PrecisionRecall>;
  hallucination: HallucinationResult;
  details: DescriptionDetail[];
}

/** The sets of one description (see the header for what each level holds). */
export function describeSets(scene: ToyScene, text: string): DescriptionDetail {
  const mentions = parseMentions(text).filter((m) => !m.negated);
  const mentioned: Record<DescriptionLevel, string[]> = {
    shape: uniqueSorted(mentions.map((m) => m.kind)),
    shape_colour: uniqueSorted(mentions.filter((m) => m.colour !== null).map((m) => `${m.colour} ${m.kind}`)),
    shape_position: uniqueSorted(mentions.filter((m) => m.position !== null).map((m) => `${m.kind} @ ${m.position}`)),
  };
  const truth: Record<DescriptionLevel, string[]> = {
    shape: uniqueSorted(scene.shapes.map((s) => s.kind)),
    shape_colour: uniqueSorted(scene.shapes.map((s) => `${s.colour} ${s.kind}`)),
    shape_position: uniqueSorted(scene.shapes.map((s) => `${s.kind} @ ${s.position}`)),
  };
  const present = new Set(truth.shape);
  return { sceneId: scene.id, mentioned, truth, hallucinated: mentioned.shape.filter((k) => !present.has(k)) };
}

/** Description metrics of `outputs` against `scenes`; every output's scene must be among them. */
export function scoreDescriptions(scenes: readonly ToyScene[], outputs: readonly DescriptionOutput[]): DescriptionResult {
  const byId = new Map(scenes.map((s) => [s.id, s]));
  const details = outputs.map((o, i) => {
    const scene = byId.get(o.sceneId);
    if (scene === undefined) throw new Error(`Expected descriptions of the given scenes but description ${i} is of unknown scene id "${o.sceneId}"`);
    return describeSets(scene, o.text);
  });
  const levels = {} as Record<DescriptionLevel, PrecisionRecall>;
  for (const level of DESCRIPTION_LEVELS) {
    let matched = 0;
    let mentioned = 0;
    let truth = 0;
    for (const d of details) {
      const t = new Set(d.truth[level]);
      matched += d.mentioned[level].filter((x) => t.has(x)).length;
      mentioned += d.mentioned[level].length;
      truth += d.truth[level].length;
    }
    const precision = ratio(matched, mentioned);
    const recall = ratio(matched, truth);
    const f1 = precision === null || recall === null ? null : precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
    levels[level] = { matched, mentioned, truth, precision, recall, f1 };
  }
  const mentioning = details.filter((d) => d.mentioned.shape.length > 0);
  const hallucinatedKinds = details.reduce((n, d) => n + d.hallucinated.length, 0);
  const hallucination: HallucinationResult = {
    rate: ratio(hallucinatedKinds, levels.shape.mentioned),
    descriptions: ratio(details.filter((d) => d.hallucinated.length > 0).length, details.length),
    perDescription: ratio(
      mentioning.reduce((sum, d) => sum + d.hallucinated.length / d.mentioned.shape.length, 0),
      mentioning.length,
    ),
  };
  return { count: details.length, levels, hallucination, details };
}

/** Everything the demo reports for one model. */
export interface ToyEvalReport {
  vqa: VqaResult;
  descriptions: DescriptionResult;
}

export function evaluateToy(
  scenes: readonly ToyScene[],
  questions: readonly ToyQa[],
  answers: readonly QaResponse[],
  descriptions: readonly DescriptionOutput[],
): ToyEvalReport {
  return { vqa: scoreVqa(questions, answers), descriptions: scoreDescriptions(scenes, descriptions) };
}

function ratio(num: number, den: number): number | null {
  return den === 0 ? null : num / den;
}

function uniqueSorted(xs: string[]): string[] {
  return [...new Set(xs)].sort();
}
