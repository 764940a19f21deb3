// LLaVA-NeXT "anyres" image geometry, exactly as transformers 5.x computes it (LlavaNextImageProcessor
// and LlavaNextProcessor): which grid resolution an image gets, the size it is resized to inside it,
// its padding, its crops, the kept window of the feature grid (unpad) and so its number of image
// tokens. The pixels are produced natively (native/image/anyres.cpp, anyresPreprocess) from these
// numbers; the model packs the features with the same window (native/model/image_layout.h).
// Sizes are [height, width] like transformers' pinpoints. Legend: S crop side, g = S / patch.

import type { NativeImageLayout } from '../native/contract.ts';

/**
 * Where an anyres image's pixels and tokens come from in the model: crops = 1 (the whole image
 * squashed) + gridRows * gridCols; keep* = the kept window of the (gridRows*g) x (gridCols*g) feature map.
 */
export type AnyresLayout = NativeImageLayout;

export interface AnyresGeometry {
  /** The chosen pinpoint [H, W]: the canvas. */
  best: [number, number];
  /** The image's size inside the canvas [h, w]. */
  resized: [number, number];
  /** Black padding [top, bottom, left, right]. */
  pad: [number, number, number, number];
  layout: AnyresLayout;
  /** Image tokens of the image: g*g base features + keepRows * (keepCols + 1). */
  tokens: number;
}

/**
 * transformers' select_best_resolution: the pinpoint that keeps the most of the image's pixels after
 * an aspect-preserving fit (capped at the image's own area, so a small image gets the smallest
 * pinpoint that holds it), then the least wasted canvas; the first listed wins a tie.
 */
export function selectBestResolution(height: number, width: number, pinpoints: readonly [number, number][]): [number, number] {
  let best: [number, number] | null = null;
  let maxEffective = 0;
  let minWasted = Infinity;
  for (const [H, W] of pinpoints) {
    const scale = Math.min(W / width, H / height);
    const effective = Math.min(Math.trunc(width * scale) * Math.trunc(height * scale), width * height);
    const wasted = H * W - effective;
    if (effective > maxEffective || (effective === maxEffective && wasted < minWasted)) {
      maxEffective = effective;
      minWasted = wasted;
      best = [H, W];
    }
  }
  if (best === null) throw new RangeError(`no grid pinpoint fits a ${width}x${height} image (pinpoints ${JSON.stringify(pinpoints)})`);
  return best;
}

/** get_patch_output_size: fit inside [H, W] keeping the aspect, the fitted side rounded up. */
export function resizedSize(height: number, width: number, target: [number, number]): [number, number] {
  const [H, W] = target;
  const scaleW = W / width;
  const scaleH = H / height;
  if (scaleW < scaleH) return [Math.min(Math.ceil(height * scaleW), H), W];
  return [H, Math.min(Math.ceil(width * scaleH), W)];
}

/** Python's int(round(x, 7)) for x >= 0: rounded to 7 decimals, then truncated. */
function truncRound7(x: number): number {
  return Math.trunc(Math.round(x * 1e7) / 1e7);
}

/**
 * unpad_image on a rows x cols feature map of an image of (height, width): the window it keeps.
 * The image is wider than the map: rows lose (rows - int(round(h * cols / w, 7))) // 2 at each end
 * (a floor: a partly filled row can go); otherwise the columns do.
 */
export function unpadWindow(height: number, width: number, rows: number, cols: number): { row0: number; rows: number; col0: number; cols: number } {
  if (width / height > cols / rows) {
    const newRows = truncRound7(height * (cols / width));
    const p = Math.floor((rows - newRows) / 2);
    return { row0: p, rows: rows - 2 * p, col0: 0, cols };
  }
  const newCols = truncRound7(width * (rows / height));
  const p = Math.floor((cols - newCols) / 2);
  return { row0: 0, rows, col0: p, cols: cols - 2 * p };
}

/** The whole anyres geometry of an image of (height, width) for crop side S and patch size p. */
export function anyresGeometry(height: number, width: number, pinpoints: readonly [number, number][], S: number, patch: number): AnyresGeometry {
  if (!(Number.isInteger(height) && height > 0 && Number.isInteger(width) && width > 0)) {
    throw new RangeError(`Expected a positive integer image size but received ${width}x${height}`);
  }
  const best = selectBestResolution(height, width, pinpoints);
  const resized = resizedSize(height, width, best);
  const top = Math.floor((best[0] - resized[0]) / 2);
  const left = Math.floor((best[1] - resized[1]) / 2);
  const gridRows = best[0] / S;
  const gridCols = best[1] / S;
  if (!Number.isInteger(gridRows) || !Number.isInteger(gridCols)) {
    throw new RangeError(`grid pinpoint ${best[0]}x${best[1]} (height x width) is not a multiple of the crop side ${S}`);
  }
  const g = S / patch;
  const keep = unpadWindow(height, width, gridRows * g, gridCols * g);
  return {
    best,
    resized,
    pad: [top, best[0] - resized[0] - top, left, best[1] - resized[1] - left],
    layout: { crops: 1 + gridRows * gridCols, gridRows, gridCols, keepRow0: keep.row0, keepRows: keep.rows, keepCol0: keep.col0, keepCols: keep.cols },
    tokens: g * g + keep.rows * (keep.cols + 1),
  };
}
