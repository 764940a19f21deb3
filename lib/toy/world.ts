// The toy world: procedurally drawn scenes of 1-6 coloured shapes on a plain background, with the
// exact ground truth of each. A scene is a pure function of (seed, index): its generator is keyed
// by both (lib/util/seeded.ts), so scene 41 of seed 7 is the same whether 0 or 40 scenes were drawn
// before it, and held-out sets are simply other seeds.
//
// Geometry: the image is the unit square (x right, y down). It is cut into a 3x3 grid; each shape
// takes its own cell, and the circle bounding it lies inside that cell (with a margin), so no two
// shapes overlap and the cell name is always the true coarse position. Inside its cell the centre is
// jittered, so a shape's pixel position varies while its position word stays exact.
import { seededRandom, type SeededRandom } from '../util/seeded.ts';
import {
  BACKGROUND_NAMES,
  type BackgroundName,
  COLOUR_NAMES,
  type ColourName,
  GRID,
  MAX_SHAPES,
  MIN_SHAPES,
  type PositionName,
  SHAPE_KINDS,
  type ShapeKind,
  SIZES,
  type SizeName,
  positionName,
} from './vocab.ts';

export interface ToyShape {
  kind: ShapeKind;
  colour: ColourName;
  size: SizeName;
  /** Grid cell, 0-based from the top left. */
  row: number;
  col: number;
  /** The cell's name: the position word of every text about this shape. */
  position: PositionName;
  /** Centre, as fractions of the image side. */
  cx: number;
  cy: number;
  /** Radius of the circle that bounds the drawn shape, as a fraction of the image side. */
  radius: number;
}

export interface ToyScene {
  /** Unique across seeds: "toy-<seed>-<index>". */
  id: string;
  seed: number;
  index: number;
  background: BackgroundName;
  /** In reading order (row-major by cell), the order every caption lists them in. */
  shapes: ToyShape[];
}

export interface WorldOptions {
  /** Fewest shapes per scene (default 1). */
  minShapes?: number;
  /** Most shapes per scene (default 6). */
  maxShapes?: number;
}

const CELL = 1 / GRID;
/** Bounding radii as fractions of a cell: large shapes nearly fill it, small ones are ~60% of that. */
export const LARGE_RADIUS = 0.4 * CELL;
export const SMALL_RADIUS = 0.24 * CELL;
/** Gap kept between a shape's bounding circle and its cell's border, so neighbours never touch. */
export const CELL_MARGIN = 0.03 * CELL;

/** The scene of `index` under `seed`. */
export function generateScene(seed: number, index: number, opts: WorldOptions = {}): ToyScene {
  checkNonNegativeInt(seed, 'seed');
  checkNonNegativeInt(index, 'scene index');
  const { minShapes, maxShapes } = shapeCountRange(opts);
  const rng = seededRandom('stic-toy-scene', seed, index);
  const background = BACKGROUND_NAMES[rng.int(BACKGROUND_NAMES.length)];
  const count = minShapes + rng.int(maxShapes - minShapes + 1);
  const cells = drawDistinct(rng, GRID * GRID, count).sort((a, b) => a - b);
  const shapes: ToyShape[] = [];
  for (const cell of cells) shapes.push(drawShape(rng, cell, background, shapes));
  return { id: `toy-${seed}-${index}`, seed, index, background, shapes };
}

/** Scenes start .. start+count-1 of `seed`. */
export function generateScenes(seed: number, count: number, start = 0, opts: WorldOptions = {}): ToyScene[] {
  checkNonNegativeInt(count, 'scene count');
  checkNonNegativeInt(start, 'first scene index');
  return Array.from({ length: count }, (_, i) => generateScene(seed, start + i, opts));
}

/**
 * One shape in `cell`: a kind, a colour that differs from the background and makes a (kind, colour)
 * pair not already in the scene (so "the red circle" always names one shape), a size, and a centre
 * jittered inside the cell.
 */
function drawShape(rng: SeededRandom, cell: number, background: BackgroundName, placed: readonly ToyShape[]): ToyShape {
  const kind = SHAPE_KINDS[rng.int(SHAPE_KINDS.length)];
  const taken = new Set(placed.filter((s) => s.kind === kind).map((s) => s.colour));
  // At most 5 colours are taken and one is the background's: of 8 colours, 2 or more stay free.
  const free = COLOUR_NAMES.filter((c) => c !== background && !taken.has(c));
  const colour = free[rng.int(free.length)];
  const size = SIZES[rng.int(SIZES.length)];
  const radius = size === 'large' ? LARGE_RADIUS : SMALL_RADIUS;
  const row = Math.floor(cell / GRID);
  const col = cell % GRID;
  const slack = CELL / 2 - radius - CELL_MARGIN;
  const cx = (col + 0.5) * CELL + rng.uniform(-slack, slack);
  const cy = (row + 0.5) * CELL + rng.uniform(-slack, slack);
  return { kind, colour, size, row, col, position: positionName(row, col), cx, cy, radius };
}

/** `k` distinct integers of [0, n), in draw order (a partial Fisher-Yates shuffle). */
function drawDistinct(rng: SeededRandom, n: number, k: number): number[] {
  const pool = Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < k; i++) {
    const j = i + rng.int(n - i);
    [pool[i], pool[j]] = [pool[j], pool[i]];
  }
  return pool.slice(0, k);
}

function shapeCountRange(opts: WorldOptions): { minShapes: number; maxShapes: number } {
  const minShapes = opts.minShapes ?? MIN_SHAPES;
  const maxShapes = opts.maxShapes ?? MAX_SHAPES;
  for (const [name, v] of [['minShapes', minShapes], ['maxShapes', maxShapes]] as const) {
    if (!Number.isInteger(v) || v < MIN_SHAPES || v > MAX_SHAPES) {
      throw new RangeError(`Expected an integer in [${MIN_SHAPES}, ${MAX_SHAPES}] for ${name} but received ${String(v)}`);
    }
  }
  if (minShapes > maxShapes) throw new RangeError(`Expected minShapes <= maxShapes but received minShapes ${minShapes} and maxShapes ${maxShapes}`);
  return { minShapes, maxShapes };
}

function checkNonNegativeInt(v: number, name: string): void {
  if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`Expected a non-negative integer for the ${name} but received ${String(v)}`);
}

/** The kinds present in a scene, in SHAPE_KINDS order. */
export function kindsIn(scene: ToyScene): ShapeKind[] {
  return SHAPE_KINDS.filter((k) => scene.shapes.some((s) => s.kind === k));
}
