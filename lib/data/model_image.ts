// An image as the model takes it: its normalised crops and how its features become image tokens.
//   single tile (LLaVA-1.5; LLaVA-NeXT with --image-aspect pad): one (3, S, S) crop, Ti tokens;
//   anyres (LLaVA-NeXT): the whole image squashed to S x S, then the crops of its grid canvas, and a
//     token count that depends on the image's size (lib/data/anyres.ts).
// Legend: K crops, S crop side.
import type { NativeImageLayout } from '../native/contract.ts';
import type { AnyresLayout } from './anyres.ts';

export interface ModelImage {
  /** (K, 3, S, S) normalised pixels. */
  pixels: Float32Array;
  /** null: a single tile (K = 1); otherwise the anyres layout (K = layout.crops). */
  layout: AnyresLayout | null;
  /** Image tokens it fills in a prompt. */
  tokens: number;
}

/** How images are shaped for a LLaVA-NeXT model: its anyres tiling, or one padded square tile (LLaVA-1.5 style, what the public STIC code trains v1.6 with). */
export type ImageAspect = 'anyres' | 'pad';
export const IMAGE_ASPECTS: readonly ImageAspect[] = ['anyres', 'pad'];

/** Resize arithmetic of anyres crops: torch's uint8 antialiased bicubic (transformers 5's default) or Pillow's. */
export type ResizeBackend = 'torchvision' | 'pil';
export const RESIZE_BACKENDS: readonly ResizeBackend[] = ['torchvision', 'pil'];

/** The layout the native engine reads for an image (a single tile is 1 crop and no grid). */
export function nativeLayout(image: ModelImage): NativeImageLayout {
  return image.layout ?? { crops: 1, gridRows: 0, gridCols: 0, keepRow0: 0, keepRows: 0, keepCol0: 0, keepCols: 0 };
}
