// Reading model outputs with the toy world's closed vocabulary: shape mentions in a free-form
// description, and answers normalised for exact-match scoring. The rules are deliberately simple
// and written down here, because the metrics of lib/eval/toy_score.ts are only as meaningful as this parser.
//
// Words: the text is lowercased, hyphens become spaces, and it is split into words ([a-z0-9']+)
// and clause marks (. , ; : ! ?). Synonyms are mapped first: grey->gray, centre->center,
// upper->top, lower->bottom, big->large, little/tiny->small.
//
// A mention is one occurrence of a kind word, singular or plural ("circle", "circles"):
// - colour and size: the colour and size words directly in front of it ("a large red circle");
//   the nearest colour wins. Colours written after the noun ("the circle is red") are not read.
// - negation: a mention is negated (and ignored by the metrics) when the word in front of its
//   adjectives, or in front of one article/number word there, is "no", "not", "without" or
//   "zero": "there is no red circle", "there is not a star", "zero crosses".
// - position: the first position phrase after the noun and before the clause ends (a clause mark,
//   "and", "but", "while", "with", or the next kind word): "a red circle in the top left".
//   Phrases: <vertical> <horizontal> with vertical in {top, middle, center, bottom} and horizontal
//   in {left, middle, center, right}; alone, "top"/"bottom" mean the middle of that row,
//   "left"/"right" the middle of that column, "center"/"middle" the center.
import { BACKGROUND_NAMES, type BackgroundName, COLOUR_NAMES, type ColourName, KIND_PLURALS, NUMBER_WORDS, type PositionName, SHAPE_KINDS, type ShapeKind, SIZES, type SizeName, positionName } from './vocab.ts';

const SYNONYMS: Record<string, string> = {
  grey: 'gray',
  centre: 'center',
  upper: 'top',
  lower: 'bottom',
  big: 'large',
  little: 'small',
  tiny: 'small',
};

const CLAUSE_MARKS = new Set(['.', ',', ';', ':', '!', '?']);
const CLAUSE_WORDS = new Set(['and', 'but', 'while', 'with']);
const NEGATIONS = new Set(['no', 'not', 'without', 'zero']);
const DETERMINERS = new Set(['a', 'an', 'any', 'the', ...NUMBER_WORDS.slice(1)]);

const KIND_BY_WORD = new Map<string, ShapeKind>(SHAPE_KINDS.flatMap((k) => [[k, k] as const, [KIND_PLURALS[k], k] as const]));
/** Shape colours and background-only ones ("a gray circle" mentions a colour no shape has). */
export type ColourWord = ColourName | BackgroundName;
const COLOUR_SET = new Set<string>([...COLOUR_NAMES, ...BACKGROUND_NAMES]);
const SIZE_SET = new Set<string>(SIZES);

const VERTICAL: Record<string, number> = { top: 0, middle: 1, center: 1, bottom: 2 };
const HORIZONTAL: Record<string, number> = { left: 0, middle: 1, center: 1, right: 2 };
/** One-word positions: [row, col]. */
const LONE_POSITION: Record<string, [number, number]> = { top: [0, 1], bottom: [2, 1], left: [1, 0], right: [1, 2], center: [1, 1], middle: [1, 1] };

/** Lowercased words and clause marks, synonyms mapped. */
export function words(text: string): string[] {
  const raw = text.toLowerCase().replace(/-/g, ' ').match(/[a-z0-9']+|[.,;:!?]/g) ?? [];
  return raw.map((w) => SYNONYMS[w] ?? w);
}

export interface ShapeMention {
  kind: ShapeKind;
  colour: ColourWord | null;
  size: SizeName | null;
  position: PositionName | null;
  plural: boolean;
  negated: boolean;
}

/** Every kind word of `text` with what the rules above attach to it, in text order. */
export function parseMentions(text: string): ShapeMention[] {
  const w = words(text);
  const out: ShapeMention[] = [];
  w.forEach((word, i) => {
    const kind = KIND_BY_WORD.get(word);
    if (kind === undefined) return;
    let colour: ColourWord | null = null;
    let size: SizeName | null = null;
    let j = i - 1;
    for (; j >= 0 && (COLOUR_SET.has(w[j]) || SIZE_SET.has(w[j])); j--) {
      if (COLOUR_SET.has(w[j])) colour ??= w[j] as ColourWord;
      else size ??= w[j] as SizeName;
    }
    if (j >= 0 && DETERMINERS.has(w[j]) && !NEGATIONS.has(w[j])) j--;
    const negated = j >= 0 && NEGATIONS.has(w[j]);
    out.push({ kind, colour, size, position: positionAfter(w, i + 1), plural: word !== kind, negated });
  });
  return out;
}

/** The first position phrase in w[start..] before the clause ends. */
function positionAfter(w: string[], start: number): PositionName | null {
  let end = start;
  while (end < w.length && !CLAUSE_MARKS.has(w[end]) && !CLAUSE_WORDS.has(w[end]) && !KIND_BY_WORD.has(w[end])) end++;
  for (let s = start; s < end; s++) {
    const found = positionAt(w, s, end);
    if (found !== null) return found.position;
  }
  return null;
}

/** A position phrase starting at w[s] (within w[..end]), and how many words it takes. */
function positionAt(w: string[], s: number, end: number): { position: PositionName; length: number } | null {
  const v = VERTICAL[w[s]];
  const h = s + 1 < end ? HORIZONTAL[w[s + 1]] : undefined;
  if (v !== undefined && h !== undefined) return { position: positionName(v, h), length: 2 };
  const lone = LONE_POSITION[w[s]];
  return lone === undefined ? null : { position: positionName(lone[0], lone[1]), length: 1 };
}

/** Words that carry no answer ("It is in the top left corner." -> "top left"). */
const FILLER = new Set(['a', 'an', 'the', 'it', 'its', "it's", 'is', 'are', 'there', 'in', 'at', 'on', 'of', 'located', 'corner', 'this', 'image', 'picture', 'shape', 'shapes']);
const YES = new Set(['yes', 'yeah', 'yep', 'true', 'correct']);
const NO = new Set(['no', 'nope', 'false', 'incorrect']);

/**
 * An answer reduced to its content: words() without clause marks, digits 0-10 as number words,
 * yes/no variants as "yes"/"no", filler words dropped, joined by single spaces.
 * "There are 3 shapes." -> "three"; "Yep." -> "yes"; "In the upper left corner." -> "top left".
 */
export function normaliseAnswer(text: string): string {
  return words(text)
    .filter((w) => !CLAUSE_MARKS.has(w))
    .map((w) => (/^\d+$/.test(w) && Number(w) < NUMBER_WORDS.length ? NUMBER_WORDS[Number(w)] : w))
    .map((w) => (YES.has(w) ? 'yes' : NO.has(w) ? 'no' : w))
    .filter((w) => !FILLER.has(w))
    .join(' ');
}

/**
 * A normalised answer with every position phrase replaced by its cell name, so "top center",
 * "upper middle" and "top" all read "top middle", and "middle" alone reads "center".
 */
export function canonicalPositions(normalised: string): string {
  const w = normalised.split(' ').filter((x) => x.length > 0);
  const out: string[] = [];
  for (let s = 0; s < w.length; ) {
    const found = positionAt(w, s, w.length);
    if (found === null) {
      out.push(w[s]);
      s++;
    } else {
      out.push(found.position);
      s += found.length;
    }
  }
  return out.join(' ');
}
