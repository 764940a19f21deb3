// Texts derived from a scene's truth: reference captions in a few templated phrasings, and
// question/answer pairs with exact canonical answers. Everything is built from the closed
// vocabulary of vocab.ts, so the parser of eval and the tokenizer know every word.
//
// Canonical answer forms (what eval compares against after normalising both sides):
//   count, count_kind -> a number word ("three", "zero"); colour -> a colour word ("red");
//   position -> a cell name ("top left", "center"); size -> "small" | "large";
//   exists -> "yes" | "no"; describe -> the first reference caption (scored by description metrics).
import { seededRandom, type SeededRandom } from '../util/seeded.ts';
import { parseMentions } from './parse.ts';
import { COLOUR_NAMES, type ColourName, KIND_PLURALS, SHAPE_KINDS, type ShapeKind, article, numberWord } from './vocab.ts';
import { type ToyScene, type ToyShape, kindsIn } from './world.ts';

export const QUESTION_TYPES = ['count', 'count_kind', 'colour', 'position', 'size', 'exists', 'describe'] as const;
export type QuestionType = (typeof QUESTION_TYPES)[number];

export interface ToyQa {
  /** "<scene id>-<type>", or "<scene id>-exists-yes" / "-exists-no" for the two existence questions. */
  id: string;
  sceneId: string;
  type: QuestionType;
  question: string;
  answer: string;
}

/** Description requests of the world (the "describe" questions draw one of these per scene). */
export const DESCRIBE_PROMPTS = [
  'Describe the image.',
  'What is in this picture?',
  'Describe the shapes in the image and where they are.',
  'List the shapes you can see.',
] as const;

/** "a large red circle": how every text names a shape. */
export function shapePhrase(s: ToyShape): string {
  return `${article(s.size)} ${s.size} ${s.colour} ${s.kind}`;
}

/** "a large red circle in the top left". */
function placedPhrase(s: ToyShape): string {
  return `${shapePhrase(s)} in the ${s.position}`;
}

/** "x", "x and y", "x, y and z". */
function joinList(items: string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

function countPhrase(n: number): string {
  return `${numberWord(n)} ${n === 1 ? 'shape' : 'shapes'}`;
}

function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** Number of caption phrasings. */
export const CAPTION_VARIANTS = 3;

/**
 * Reference caption `variant` (0..CAPTION_VARIANTS-1); every phrasing names each shape with its
 * size, colour, kind and position, in reading order, and the background.
 */
export function caption(scene: ToyScene, variant = 0): string {
  const n = scene.shapes.length;
  const placed = scene.shapes.map(placedPhrase);
  switch (variant) {
    case 0:
      return `There ${n === 1 ? 'is' : 'are'} ${countPhrase(n)} on a ${scene.background} background: ${joinList(placed)}.`;
    case 1:
      return [`A ${scene.background} background with ${countPhrase(n)}.`, ...scene.shapes.map((s) => `${capitalise(shapePhrase(s))} is in the ${s.position}.`)].join(' ');
    case 2:
      return `The image shows ${joinList(placed)}. The background is ${scene.background}.`;
    default:
      throw new RangeError(`Expected a caption variant in [0, ${CAPTION_VARIANTS - 1}] but received ${String(variant)}`);
  }
}

/** All reference captions of a scene. */
export function captions(scene: ToyScene): string[] {
  return Array.from({ length: CAPTION_VARIANTS }, (_, v) => caption(scene, v));
}

/**
 * The question/answer pairs of a scene: one of each type, two for existence (one "yes", one "no",
 * so the answer is balanced by construction). "colour" is asked only when some kind occurs once (the
 * question names the kind alone); every other type is always asked. Choices are drawn from a
 * generator keyed by the scene's seed and index, so they are as reproducible as the scene.
 */
export function questions(scene: ToyScene): ToyQa[] {
  const rng = seededRandom('stic-toy-qa', scene.seed, scene.index);
  const qa = (type: QuestionType, question: string, answer: string, suffix = ''): ToyQa => ({
    id: `${scene.id}-${type}${suffix}`,
    sceneId: scene.id,
    type,
    question,
    answer,
  });
  const out: ToyQa[] = [qa('count', 'How many shapes are there?', numberWord(scene.shapes.length))];
  const kind = SHAPE_KINDS[rng.int(SHAPE_KINDS.length)];
  out.push(qa('count_kind', `How many ${KIND_PLURALS[kind]} are there?`, numberWord(scene.shapes.filter((s) => s.kind === kind).length)));
  const unique = scene.shapes.filter((s) => scene.shapes.filter((t) => t.kind === s.kind).length === 1);
  if (unique.length > 0) {
    const s = pick(rng, unique);
    out.push(qa('colour', `What colour is the ${s.kind}?`, s.colour));
  }
  const where = pick(rng, scene.shapes);
  out.push(qa('position', `Where is the ${where.colour} ${where.kind}?`, where.position));
  const sized = pick(rng, scene.shapes);
  out.push(qa('size', `Is the ${sized.colour} ${sized.kind} small or large?`, sized.size));
  out.push(qa('exists', existsQuestion(positiveReferent(rng, scene)), 'yes', '-yes'));
  out.push(qa('exists', existsQuestion(negativeReferent(rng, scene)), 'no', '-no'));
  out.push(qa('describe', pick(rng, DESCRIBE_PROMPTS), caption(scene, 0)));
  return out;
}

/** What an existence question asks about: a kind alone, or a kind in a colour. */
interface Referent {
  kind: ShapeKind;
  colour: ColourName | null;
}

function existsQuestion(r: Referent): string {
  const noun = r.colour === null ? r.kind : `${r.colour} ${r.kind}`;
  return `Is there ${article(noun)} ${noun}?`;
}

/** A shape of the scene, named by kind or by colour and kind (50/50). */
function positiveReferent(rng: SeededRandom, scene: ToyScene): Referent {
  const s = pick(rng, scene.shapes);
  return { kind: s.kind, colour: rng.next() < 0.5 ? null : s.colour };
}

/**
 * Something absent: half the time (when some kind is absent) a missing kind; otherwise a kind the
 * scene has, in a colour it does not have it in — the hard negative that only seeing colour answers.
 */
function negativeReferent(rng: SeededRandom, scene: ToyScene): Referent {
  const present = kindsIn(scene);
  const absent = SHAPE_KINDS.filter((k) => !present.includes(k));
  if (absent.length > 0 && rng.next() < 0.5) return { kind: pick(rng, absent), colour: null };
  const kind = pick(rng, present);
  const used = new Set(scene.shapes.filter((s) => s.kind === kind).map((s) => s.colour));
  // A kind occurs at most 6 times, so of 8 colours at least 2 are unused by it.
  return { kind, colour: pick(rng, COLOUR_NAMES.filter((c) => !used.has(c))) };
}

/** What a reasoned answer puts before the final answer: "..., so blue". */
export const REASONED_SEPARATOR = ', so ';

/** Question types whose question names a shape: the ones a reasoned answer walks the scene for. */
export const NAMING_TYPES: readonly QuestionType[] = ['count_kind', 'colour', 'position', 'size', 'exists'];

/**
 * The answer to `qa` that first says, for every shape of the scene in reading order, whether it is
 * the one the question names, then the canonical answer:
 *   "What colour is the star?" -> "a red circle: no, a blue star: yes, so blue"
 * Each shape is named with what the question's type needs (its position for "Where ...", its size
 * for "Is the ... small or large?"). Why: answered directly, the verdict depends on the match of
 * the question's noun and a shape seen, which the toy decoder never learned; here each comparison
 * sits right before its verdict, which it learns (models/toy-llava/README.md, "What opens the
 * comparison"). Types that name no shape (count, describe) keep their answer.
 */
export function reasonedAnswer(scene: ToyScene, qa: ToyQa): string {
  if (!NAMING_TYPES.includes(qa.type)) return qa.answer;
  const named = referentOf(qa);
  const items = scene.shapes.map((s) => {
    const base = qa.type === 'size' ? `${article(s.size)} ${s.size} ${s.colour} ${s.kind}` : `${article(s.colour)} ${s.colour} ${s.kind}`;
    const phrase = qa.type === 'position' ? `${base} in the ${s.position}` : base;
    const match = s.kind === named.kind && (named.colour === null || s.colour === named.colour);
    return `${phrase}: ${match ? 'yes' : 'no'}`;
  });
  return `${items.join(', ')}${REASONED_SEPARATOR}${qa.answer}`;
}

/** The final answer of a response: what follows the last `marker` (", so " of a reasoned answer), else all of it. */
export function finalAnswer(response: string, marker: string = REASONED_SEPARATOR): string {
  const at = response.lastIndexOf(marker);
  return at < 0 ? response : response.slice(at + marker.length);
}

/** The shape a question of a naming type names: its kind, and its colour when the question gives one (parse.ts reads them). */
function referentOf(qa: ToyQa): Referent {
  const [named] = parseMentions(qa.question);
  if (named === undefined) throw new Error(`question ${qa.id}: expected a shape kind in "${qa.question}" but found none`);
  // A question's colour word is a shape colour (questions() names shapes, never backgrounds).
  return { kind: named.kind, colour: named.colour as ColourName | null };
}

function pick<T>(rng: SeededRandom, items: readonly T[]): T {
  return items[rng.int(items.length)];
}
