// Scene -> SVG -> PNG (sharp/librsvg). Shapes are drawn at their truth's geometry scaled to the
// requested side, in the exact palette colours of vocab.ts, so the interior of every shape (its
// centre in particular) has exactly its colour; only edges are anti-aliased.
import sharp from 'sharp';

import { BACKGROUNDS, SHAPE_COLOURS } from './vocab.ts';
import type { ToyScene, ToyShape } from './world.ts';

/**
 * Default side in pixels: 84 = 6 x 6 patches of 14 px, so each grid cell is exactly 2 x 2 patches
 * of a CLIP-style tower with patch 14 (the tiny model's 36 image tokens).
 */
export const TOY_IMAGE_SIZE = 84;
const MIN_SIZE = 16;
const MAX_SIZE = 4096;

/** Shape proportions relative to the bounding radius; each outline stays inside that circle. */
const SQUARE_HALF_SIDE = Math.SQRT1_2; // the square inscribed in the bounding circle
const STAR_INNER = 0.45; // inner/outer radius of the five-pointed star
const CROSS_HALF_WIDTH = 0.3; // arm half-width; arm tips at sqrt(0.95^2 + 0.3^2) < 1
const CROSS_ARM = 0.95;

/** The SVG of a scene at `size` x `size` pixels. */
export function sceneToSvg(scene: ToyScene, size: number = TOY_IMAGE_SIZE): string {
  checkSize(size);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}" viewBox="0 0 ${size} ${size}">`,
    `<rect x="0" y="0" width="${size}" height="${size}" fill="${rgb(BACKGROUNDS[scene.background])}"/>`,
    ...scene.shapes.map((s) => shapeElement(s, size)),
    '</svg>',
  ];
  return parts.join('\n');
}

/** The scene as an RGB PNG of `size` x `size` pixels. */
export async function renderScenePng(scene: ToyScene, size: number = TOY_IMAGE_SIZE): Promise<Buffer> {
  const svg = sceneToSvg(scene, size);
  // density 72: one SVG user unit is one pixel, so the output is exactly width x height.
  return sharp(Buffer.from(svg), { density: 72 }).removeAlpha().png().toBuffer();
}

function shapeElement(s: ToyShape, size: number): string {
  const cx = s.cx * size;
  const cy = s.cy * size;
  const r = s.radius * size;
  const fill = `fill="${rgb(SHAPE_COLOURS[s.colour])}"`;
  switch (s.kind) {
    case 'circle':
      return `<circle cx="${f(cx)}" cy="${f(cy)}" r="${f(r)}" ${fill}/>`;
    case 'square': {
      const h = r * SQUARE_HALF_SIDE;
      return `<rect x="${f(cx - h)}" y="${f(cy - h)}" width="${f(2 * h)}" height="${f(2 * h)}" ${fill}/>`;
    }
    case 'triangle':
      return polygon(regularPolygon(cx, cy, r, 3), fill);
    case 'hexagon':
      return polygon(regularPolygon(cx, cy, r, 6), fill);
    case 'star':
      return polygon(starPoints(cx, cy, r), fill);
    case 'cross':
      return polygon(crossPoints(cx, cy, r), fill);
  }
}

/** Vertices of a regular n-gon with circumradius r, one vertex straight up (y grows downwards). */
function regularPolygon(cx: number, cy: number, r: number, n: number): [number, number][] {
  return Array.from({ length: n }, (_, i) => {
    const a = -Math.PI / 2 + (2 * Math.PI * i) / n;
    return [cx + r * Math.cos(a), cy + r * Math.sin(a)];
  });
}

/** Five outer points at radius r alternating with five inner ones, the first pointing up. */
function starPoints(cx: number, cy: number, r: number): [number, number][] {
  return Array.from({ length: 10 }, (_, i) => {
    const a = -Math.PI / 2 + (Math.PI * i) / 5;
    const rr = i % 2 === 0 ? r : r * STAR_INNER;
    return [cx + rr * Math.cos(a), cy + rr * Math.sin(a)];
  });
}

/** A plus sign: twelve corners, arms of half-width w reaching out to a. */
function crossPoints(cx: number, cy: number, r: number): [number, number][] {
  const w = r * CROSS_HALF_WIDTH;
  const a = r * CROSS_ARM;
  const corners: [number, number][] = [
    [-w, -a], [w, -a], [w, -w], [a, -w], [a, w], [w, w],
    [w, a], [-w, a], [-w, w], [-a, w], [-a, -w], [-w, -w],
  ];
  return corners.map(([x, y]) => [cx + x, cy + y]);
}

function polygon(points: [number, number][], fill: string): string {
  return `<polygon points="${points.map(([x, y]) => `${f(x)},${f(y)}`).join(' ')}" ${fill}/>`;
}

function rgb(c: readonly [number, number, number]): string {
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

/** Coordinates to 3 decimals: sub-pixel exact at any size this renders, and a stable SVG text. */
function f(v: number): string {
  return v.toFixed(3);
}

function checkSize(size: number): void {
  if (!Number.isInteger(size) || size < MIN_SIZE || size > MAX_SIZE) {
    throw new RangeError(`Expected an integer image size in [${MIN_SIZE}, ${MAX_SIZE}] pixels but received ${String(size)}`);
  }
}
