// The closed vocabulary of the toy world: shape kinds, colours (with the exact RGB each is drawn in),
// sizes, grid positions, backgrounds and number words. The world, its texts, the description parser
// and the tokenizer all read these lists, so a word the world can produce is always one the parser
// understands and the tokenizer keeps whole.

export const SHAPE_KINDS = ['circle', 'square', 'triangle', 'star', 'cross', 'hexagon'] as const;
export type ShapeKind = (typeof SHAPE_KINDS)[number];

/** Plural of each kind, for "How many stars are there?" and for parsing "two red crosses". */
export const KIND_PLURALS: Record<ShapeKind, string> = {
  circle: 'circles',
  square: 'squares',
  triangle: 'triangles',
  star: 'stars',
  cross: 'crosses',
  hexagon: 'hexagons',
};

/** Shape colours, each drawn as exactly this sRGB triple (tests sample these values back). */
export const SHAPE_COLOURS = {
  red: [220, 30, 30],
  green: [30, 160, 50],
  blue: [30, 70, 220],
  yellow: [245, 210, 20],
  purple: [140, 50, 180],
  orange: [245, 130, 20],
  white: [255, 255, 255],
  black: [0, 0, 0],
} as const satisfies Record<string, readonly [number, number, number]>;
export type ColourName = keyof typeof SHAPE_COLOURS;
export const COLOUR_NAMES = Object.keys(SHAPE_COLOURS) as ColourName[];

/** Backgrounds; a shape never has its background's colour (it would be invisible). */
export const BACKGROUNDS = {
  white: [255, 255, 255],
  black: [0, 0, 0],
  gray: [128, 128, 128],
} as const satisfies Record<string, readonly [number, number, number]>;
export type BackgroundName = keyof typeof BACKGROUNDS;
export const BACKGROUND_NAMES = Object.keys(BACKGROUNDS) as BackgroundName[];

export const SIZES = ['small', 'large'] as const;
export type SizeName = (typeof SIZES)[number];

/** The scene is a 3x3 grid; a shape's coarse position is the name of its cell, row-major. */
export const GRID = 3;
export const POSITIONS = [
  'top left',
  'top middle',
  'top right',
  'middle left',
  'center',
  'middle right',
  'bottom left',
  'bottom middle',
  'bottom right',
] as const;
export type PositionName = (typeof POSITIONS)[number];

export function positionName(row: number, col: number): PositionName {
  return POSITIONS[row * GRID + col];
}

/** Number words, index = value. Canonical count answers are words ("three"); digits are accepted. */
export const NUMBER_WORDS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten'] as const;

export const MIN_SHAPES = 1;
export const MAX_SHAPES = 6;

export function numberWord(n: number): string {
  if (!Number.isInteger(n) || n < 0 || n >= NUMBER_WORDS.length) throw new RangeError(`Expected an integer in [0, ${NUMBER_WORDS.length - 1}] for a number word but received ${n}`);
  return NUMBER_WORDS[n];
}

/** "a" or "an" before `word` (only "orange" among the world's words starts with a vowel). */
export function article(word: string): 'a' | 'an' {
  return /^[aeiou]/i.test(word) ? 'an' : 'a';
}
