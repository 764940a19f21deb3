// Image corruptions for dispreferred responses (STIC stage 1a) and related methods, as one native
// call per batch (native/image/corrupt.cpp). Each image has its own seed; every random choice is a
// pure function of that seed (Philox streams), so an image's corruption does not depend on the
// batch it came in, and the parameters each image drew come back with it for provenance.
//
// Kinds and defaults:
//   lowres     shorter side to 20 px, Pillow bilinear with antialias (torchvision Resize(20) on a PIL
//              image); the normal preprocessing scales it back up.                    [STIC]
//   jitter     torchvision ColorJitter semantics on uint8 tensors, ops in random order: brightness
//              U[0.5, 1.5], hue U[-0.3, 0.3] (contrast, saturation off unless given).  [STIC]
//   stic       50/50 lowres or jitter per image (STIC's corruption branch).
//   noise      y = x + 255 sigma z, z ~ N(0, 1) per byte; sigma 0.1.
//   diffusion  DDPM forward noise at step t (default 500) of a linear beta schedule 1e-4 .. 0.02
//              over 1000 steps, in [-1, 1] pixel space.                                [POVID]
//   blur       Gaussian, sigma U[0.1, 2.0] (torchvision GaussianBlur's default), kernel 2 ceil(3 sigma) + 1.
//   mask       patches of 14 px (a ViT-L/14 token), half of them filled with black.
import { createHash } from 'node:crypto';

import { native } from '../native/index.ts';
import type { NativeCorruptionParams, NativeCorruptionSpec, RgbImage } from '../native/index.ts';

export type CorruptionKind = NativeCorruptionSpec['kind'];
export const CORRUPTION_KINDS: readonly CorruptionKind[] = ['lowres', 'jitter', 'noise', 'diffusion', 'blur', 'mask', 'stic'];

type Range = [number, number];
/** A fixed value or a [lo, hi] range drawn uniformly per image. */
export type ValueOrRange = number | Range;

export interface CorruptionOptions {
  lowresSize?: ValueOrRange;
  brightness?: ValueOrRange | null;
  contrast?: ValueOrRange | null;
  saturation?: ValueOrRange | null;
  hue?: ValueOrRange | null;
  noiseSigma?: ValueOrRange;
  diffusionStep?: ValueOrRange;
  diffusionSteps?: number;
  betaStart?: number;
  betaEnd?: number;
  blurSigma?: ValueOrRange;
  /** Odd kernel size; 0 picks 2 ceil(3 sigma) + 1 per image. */
  blurKernel?: number;
  patchSize?: number;
  maskRatio?: ValueOrRange;
  maskFill?: [number, number, number];
  /** stic: probability of lowres (else jitter). */
  lowresProbability?: number;
}

export const CORRUPTION_DEFAULTS = {
  lowresSize: 20,
  brightness: [0.5, 1.5] as Range,
  contrast: null,
  saturation: null,
  hue: [-0.3, 0.3] as Range,
  noiseSigma: 0.1,
  diffusionStep: 500,
  diffusionSteps: 1000,
  betaStart: 1e-4,
  betaEnd: 0.02,
  blurSigma: [0.1, 2.0] as Range,
  blurKernel: 0,
  patchSize: 14,
  maskRatio: 0.5,
  maskFill: [0, 0, 0] as [number, number, number],
  lowresProbability: 0.5,
} satisfies Required<CorruptionOptions>;

function show(v: unknown): string {
  if (typeof v === 'string') return `a string "${v}"`;
  if (Array.isArray(v)) return `[${v.map((x) => (typeof x === 'number' ? String(x) : typeof x)).join(', ')}]`;
  return String(v);
}

function rangeOf(v: ValueOrRange, name: string, min: number, max: number, integer = false): Range {
  const r: unknown[] = typeof v === 'number' ? [v, v] : Array.isArray(v) ? v : [];
  const ok =
    r.length === 2 &&
    r.every((x) => typeof x === 'number' && Number.isFinite(x) && x >= min && x <= max && (!integer || Number.isInteger(x))) &&
    (r[0] as number) <= (r[1] as number);
  if (!ok) {
    const what = integer ? 'an integer' : 'a number';
    throw new TypeError(`Expected ${what} or a [lo, hi] range with ${min} <= lo <= hi <= ${max} for ${name} but received ${show(v)}`);
  }
  return r as Range;
}

function intIn(v: number, name: string, min: number, max: number): number {
  if (!Number.isInteger(v) || v < min || v > max) throw new TypeError(`Expected an integer in [${min}, ${max}] for ${name} but received ${show(v)}`);
  return v;
}

function numIn(v: number, name: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
    throw new TypeError(`Expected a number in [${min}, ${max}] for ${name} but received ${show(v)}`);
  }
  return v;
}

/**
 * One corruption as the STIC pipeline configures it: a single kind with its parameters (the 'stic'
 * mixture is the pipeline's own draw between kinds, lib/stic/stages/pref_plan.ts). These field names
 * are what `stic pref` stores in its output's settings and in the provenance of a pair whose
 * corruption was not applied; specOptions gives this library's options for one.
 */
export type CorruptionSpec =
  | { kind: 'lowres'; size: number } // shorter side to `size` px; preprocessing scales it back up
  | { kind: 'jitter'; brightness: [number, number]; hue: [number, number] } // factor range, hue-circle fraction range
  | { kind: 'noise'; std: number } // additive Gaussian noise on [0, 1] pixels
  | { kind: 'diffusion'; step: number; steps: number } // forward diffusion noise at `step` of a linear beta schedule
  | { kind: 'blur'; sigma: number } // Gaussian blur, pixels
  | { kind: 'mask'; patch: number; ratio: number }; // square patches of `patch` px, fraction `ratio` masked

/** The kinds a CorruptionSpec names: every kind but the 'stic' mixture, in CORRUPTION_KINDS' order. */
export const SPEC_KINDS = CORRUPTION_KINDS.filter((k): k is CorruptionSpec['kind'] => k !== 'stic');

/** A spec in this library's option names (unset options keep their defaults). */
export function specOptions(spec: CorruptionSpec): CorruptionOptions {
  switch (spec.kind) {
    case 'lowres':
      return { lowresSize: spec.size };
    case 'jitter':
      return { brightness: spec.brightness, hue: spec.hue };
    case 'noise':
      return { noiseSigma: spec.std };
    case 'diffusion':
      return { diffusionStep: spec.step, diffusionSteps: spec.steps };
    case 'blur':
      return { blurSigma: spec.sigma };
    case 'mask':
      return { patchSize: spec.patch, maskRatio: spec.ratio };
  }
}

/** The full native spec for `kind`: defaults, then `options`, validated with the option names. */
export function corruptionSpec(kind: CorruptionKind, options: CorruptionOptions = {}): NativeCorruptionSpec {
  if (!CORRUPTION_KINDS.includes(kind)) throw new TypeError(`Expected one of ${CORRUPTION_KINDS.join(', ')} for kind but received ${show(kind)}`);
  const o = { ...CORRUPTION_DEFAULTS, ...options };
  const steps = intIn(o.diffusionSteps, 'diffusionSteps', 1, 100000);
  const blurKernel = intIn(o.blurKernel, 'blurKernel', 0, 1001);
  if (blurKernel !== 0 && blurKernel % 2 === 0) throw new TypeError(`Expected an odd integer (or 0 for automatic) for blurKernel but received ${blurKernel}`);
  const fill = o.maskFill;
  if (!Array.isArray(fill) || fill.length !== 3 || fill.some((c) => !Number.isInteger(c) || c < 0 || c > 255)) {
    throw new TypeError(`Expected 3 integers in [0, 255] for maskFill but received ${show(fill)}`);
  }
  const betaStart = numIn(o.betaStart, 'betaStart', 1e-12, 0.999);
  const betaEnd = numIn(o.betaEnd, 'betaEnd', betaStart, 0.999);
  const jitterOp = (v: ValueOrRange | null, name: string, min: number, max: number): Range | null =>
    v === null ? null : rangeOf(v, name, min, max);
  return {
    kind,
    lowres: rangeOf(o.lowresSize, 'lowresSize', 1, 8192, true),
    brightness: jitterOp(o.brightness, 'brightness', 0, 1e6),
    contrast: jitterOp(o.contrast, 'contrast', 0, 1e6),
    saturation: jitterOp(o.saturation, 'saturation', 0, 1e6),
    hue: jitterOp(o.hue, 'hue', -0.5, 0.5),
    noiseSigma: rangeOf(o.noiseSigma, 'noiseSigma', 0, 1e6),
    diffusionStep: rangeOf(o.diffusionStep, 'diffusionStep', 0, steps - 1, true),
    diffusionSteps: steps,
    betaStart,
    betaEnd,
    blurSigma: rangeOf(o.blurSigma, 'blurSigma', 1e-3, 1000),
    blurKernel,
    patchSize: intIn(o.patchSize, 'patchSize', 1, 8192),
    maskRatio: rangeOf(o.maskRatio, 'maskRatio', 0, 1),
    maskFill: fill,
    lowresProbability: numIn(o.lowresProbability, 'lowresProbability', 0, 1),
  };
}

/** A corrupted image with its seed and what the kernel drew (the pipeline's ImageApi turns the params into provenance JSON). */
export interface SeededCorruption {
  image: RgbImage;
  seed: number;
  params: NativeCorruptionParams;
}

/** Corrupts a batch in one native call; seeds[i] belongs to images[i]. */
export async function corruptImages(images: RgbImage[], seeds: number[], spec: NativeCorruptionSpec): Promise<SeededCorruption[]> {
  if (seeds.length !== images.length) {
    throw new RangeError(`Expected one seed per image (${images.length}) for seeds but received ${seeds.length}`);
  }
  seeds.forEach((s, i) => {
    if (!Number.isSafeInteger(s) || s < 0) throw new TypeError(`Expected a non-negative integer below 2^53 for seeds[${i}] but received ${show(s)}`);
  });
  const results = await native().corruptImages(images, seeds, spec);
  return results.map((r, i) => ({ image: r.image, seed: seeds[i], params: r.params }));
}

/**
 * A per-image seed from the run seed and a stable name (file name or record id): the first 53 bits
 * of SHA-256("stic-corrupt", runSeed, name). Independent of order and batch.
 */
export function imageSeed(runSeed: number, name: string): number {
  const h = createHash('sha256').update(`stic-corrupt\u0000${runSeed}\u0000${name}`).digest();
  return h.readUIntBE(0, 6) * 32 + (h[6] >>> 3); // 48 + 5 = 53 bits
}

/** The drawn parameters as plain JSON (typed arrays become arrays), for JSONL provenance. */
export function provenance(p: NativeCorruptionParams): Record<string, unknown> {
  return p.masked ? { ...p, masked: Array.from(p.masked) } : { ...p };
}

/** One line for logs: "jitter hue=+0.123 brightness=1.310", "lowres 20px", ... */
export function describeCorruption(p: NativeCorruptionParams): string {
  const n = (x: number | undefined, digits = 3) => (x === undefined ? '?' : x.toFixed(digits));
  switch (p.kind) {
    case 'lowres':
      return `lowres ${p.size}px`;
    case 'jitter':
      return `jitter ${(p.order ?? []).map((op) => `${op}=${op === 'hue' && (p.hue ?? 0) >= 0 ? '+' : ''}${n(p[op])}`).join(' ')}`.trim();
    case 'noise':
      return `noise sigma=${n(p.sigma)}`;
    case 'diffusion':
      return `diffusion t=${p.step} alphaBar=${n(p.alphaBar, 4)}`;
    case 'blur':
      return `blur sigma=${n(p.sigma)} kernel=${p.kernelSize}`;
    case 'mask':
      return `mask ${p.masked?.length ?? 0} patches of ${p.patchSize}px (ratio ${n(p.ratio)})`;
  }
}
