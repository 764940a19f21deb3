// Options of the data stages (pref, describe, infuse), declared once for their commands and for the
// `pref:` / `describe:` / `infuse:` sections of a `stic run` config. Defaults are the paper's
// (STIC.md): temperature 0.2, up to 1024 new tokens, 50/50 dispreferred branches, 50/50 low-res
// (20 px) / colour jitter (brightness x[0.5, 1.5], hue +-0.3).
import type { ImageAspect } from '../data/model_image.ts';
import { type CorruptionSpec, SPEC_KINDS } from '../data/corrupt.ts';
import type { RequestSampling } from './engine_api.ts';
import { type OptionSpec, type OptionTable, validateOptions } from './options.ts';
import { DEFAULT_SEED } from '../util/seeded.ts';

export interface SamplingFlags extends RequestSampling {
  imageAspect: ImageAspect;
  batchSize: number;
  limit?: number;
  seed: number;
}

export interface PrefOptions extends SamplingFlags {
  images: string;
  imageRoot?: string;
  hallucinationProb: number;
  corruptions: CorruptionSpec['kind'][];
  lowresSize: number;
  jitterBrightness: number;
  jitterHue: number;
  noiseStd: number;
  diffusionStep: number;
  blurSigma: number;
  maskPatch: number;
  maskRatio: number;
  reproduceUncorrupted: boolean;
  refLogps: boolean;
}

export interface DescribeOptions extends SamplingFlags {
  instructions: string;
  imageRoot?: string;
}

export interface InfuseOptions {
  instructions: string;
  descriptions: string;
  missing: 'drop' | 'keep' | 'error';
  joinBy: 'id' | 'image';
  imageRoot?: string;
}

/** How a LLaVA-NeXT model sees images, in every stage (default anyres, its own tiling). */
export const IMAGE_ASPECT_OPTION: OptionSpec = {
  type: 'string',
  choices: ['anyres', 'pad'],
  default: 'anyres',
  describe: 'LLaVA-NeXT (v1.6) models: anyres = tile each image at its best grid (transformers\' processor; tokens depend on the image size); pad = one square tile padded with the mean colour (576 tokens at 336 px; how the public STIC code trains v1.6). Other models ignore it',
};

const SAMPLING: OptionTable<SamplingFlags> = {
  imageAspect: IMAGE_ASPECT_OPTION,
  batchSize: { type: 'integer', min: 1, default: 8, describe: 'Images per generation batch (outputs are flushed after each batch)' },
  temperature: { type: 'number', min: 0, default: 0.2, describe: 'Sampling temperature (0: greedy)' },
  topP: { type: 'number', min: 0, minExclusive: true, max: 1, default: 1, describe: 'Nucleus sampling mass (1: off)' },
  topK: { type: 'integer', min: 0, default: 0, describe: 'Top-k sampling (0: off)' },
  maxNewTokens: { type: 'integer', min: 1, default: 1024, describe: 'Maximum new tokens per answer' },
  limit: { type: 'integer', min: 1, describe: 'Use only the first N inputs, a quick trial (default: all)' },
  seed: { type: 'integer', min: 0, default: DEFAULT_SEED, describe: 'Seed of every per-record choice and of sampling' },
};

export const PREF_OPTIONS: OptionTable<PrefOptions> = {
  images: { type: 'string', path: true, required: true, describe: 'Unlabeled images: a folder, a list file (one path per line), or a JSON/JSONL file of paths or {image} records' },
  imageRoot: { type: 'string', path: true, describe: 'Folder that relative image paths are resolved against (default: the folder, or the list file\'s folder)' },
  ...SAMPLING,
  hallucinationProb: { type: 'number', min: 0, max: 1, default: 0.5, describe: 'Probability that the dispreferred answer comes from a hallucination prompt (else from a corrupted image)' },
  corruptions: { type: 'list', choices: SPEC_KINDS, default: ['lowres', 'jitter'], describe: 'Corruptions drawn with equal probability for the corrupted-image branch' },
  lowresSize: { type: 'integer', min: 1, default: 20, describe: 'lowres: the shorter side is resized to this many pixels' },
  jitterBrightness: { type: 'number', min: 0, max: 1, maxExclusive: true, default: 0.5, describe: 'jitter: brightness factor drawn from [1-b, 1+b]' },
  jitterHue: { type: 'number', min: 0, max: 0.5, default: 0.3, describe: 'jitter: hue shift drawn from [-h, h] of the hue circle' },
  noiseStd: { type: 'number', min: 0, minExclusive: true, default: 0.1, describe: 'noise: standard deviation of Gaussian noise on [0, 1] pixels' },
  diffusionStep: { type: 'integer', min: 0, max: 999, default: 500, describe: 'diffusion: forward-noise step of a 1000-step linear beta schedule' },
  blurSigma: { type: 'number', min: 0, minExclusive: true, default: 2, describe: 'blur: Gaussian sigma in pixels' },
  maskPatch: { type: 'integer', min: 1, default: 14, describe: 'mask: patch side in pixels (14: one ViT-L/14 token)' },
  maskRatio: { type: 'number', min: 0, minExclusive: true, max: 1, default: 0.5, describe: 'mask: fraction of patches masked' },
  reproduceUncorrupted: { type: 'boolean', default: false, describe: 'Reproduce public defect (a): mark pairs as corrupted but generate from the clean image' },
  refLogps: { type: 'boolean', default: false, describe: 'Also store the reference log-probs of chosen and rejected under the training prompt' },
};

export const DESCRIBE_OPTIONS: OptionTable<DescribeOptions> = {
  instructions: { type: 'string', path: true, required: true, describe: 'Instruction data in LLaVA format (JSON array or JSONL)' },
  imageRoot: { type: 'string', path: true, describe: 'Folder that the samples\' image paths are resolved against (default: the data file\'s folder)' },
  ...SAMPLING,
};

export const INFUSE_OPTIONS: OptionTable<InfuseOptions> = {
  instructions: { type: 'string', path: true, required: true, wired: true, describe: 'Instruction data in LLaVA format (JSON array or JSONL)' },
  descriptions: { type: 'string', path: true, required: true, wired: true, describe: 'Descriptions JSONL from stic describe (or the public STIC description file with --join-by image)' },
  missing: { type: 'string', choices: ['drop', 'keep', 'error'], default: 'drop', describe: 'Samples with an image but no description: drop them (reported), keep them unchanged, or fail' },
  joinBy: { type: 'string', choices: ['id', 'image'], default: 'id', describe: 'Join descriptions to samples by sample id, or by image path (for description files without ids)' },
  imageRoot: { type: 'string', path: true, describe: 'Folder the samples\' image paths are relative to, stored in each written sample as image_root for stic sft (default: the descriptions\' image_root, else the instructions file\'s folder)' },
};

type ProblemFormat = (p: { flag: string; expected: string; received: unknown }) => string;

export function validatePrefOptions(values: Record<string, unknown>, format: ProblemFormat): PrefOptions {
  return validateOptions(PREF_OPTIONS, values, format);
}

export function validateDescribeOptions(values: Record<string, unknown>, format: ProblemFormat): DescribeOptions {
  return validateOptions(DESCRIBE_OPTIONS, values, format);
}

export function validateInfuseOptions(values: Record<string, unknown>, format: ProblemFormat): InfuseOptions {
  return validateOptions(INFUSE_OPTIONS, values, format);
}

export function samplingOf(o: SamplingFlags): RequestSampling {
  return { temperature: o.temperature, topP: o.topP, topK: o.topK, maxNewTokens: o.maxNewTokens };
}

/** The corruption specs selected by the pref options, in the order given. */
export function corruptionSpecs(o: PrefOptions): CorruptionSpec[] {
  return o.corruptions.map((kind): CorruptionSpec => {
    switch (kind) {
      case 'lowres':
        return { kind, size: o.lowresSize };
      case 'jitter':
        return { kind, brightness: [1 - o.jitterBrightness, 1 + o.jitterBrightness], hue: [-o.jitterHue, o.jitterHue] };
      case 'noise':
        return { kind, std: o.noiseStd };
      case 'diffusion':
        return { kind, step: o.diffusionStep, steps: 1000 };
      case 'blur':
        return { kind, sigma: o.blurSigma };
      case 'mask':
        return { kind, patch: o.maskPatch, ratio: o.maskRatio };
    }
  });
}
