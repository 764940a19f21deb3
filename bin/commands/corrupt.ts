// `stic corrupt`: writes the corrupted versions of a folder of images (what the model will see as
// the dispreferred input) plus one JSONL line per image with the parameters it drew.
import { appendFile, mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

import sharp from 'sharp';
import type { CommandModule } from 'yargs';

import {
  CORRUPTION_DEFAULTS,
  CORRUPTION_KINDS,
  type CorruptionKind,
  type CorruptionOptions,
  type ValueOrRange,
  corruptImages,
  corruptionSpec,
  imageSeed,
  provenance,
} from '../../lib/data/corrupt.ts';
import { type LoadedImage, loadImages } from '../../lib/data/image_load.ts';
import { CONFIG_FLAGS, shownDryRun } from '../../lib/stic/cli_common.ts';
import { resolveOptions } from '../../lib/stic/command_options.ts';
import { type OptionTable, type RangeValue, yargsOptions } from '../../lib/stic/options.ts';
import { flagPath, guardOutputs } from '../../lib/stic/output_guard.ts';
import { refuseSymlinkOutput } from '../../lib/util/output_safety.ts';
import { namingWriteErrors } from '../../lib/util/write_error.ts';
import { type Progress, startProgress } from '../../lib/util/progress.ts';
import { DEFAULT_SEED } from '../../lib/util/seeded.ts';
import { IMAGE_EXTENSIONS } from '../../lib/data/image_load.ts';

interface CorruptOptions {
  in: string;
  out: string;
  kind: CorruptionKind;
  seed: number;
  batch: number;
  lowresSize: RangeValue;
  jitterBrightness: RangeValue;
  jitterContrast: RangeValue;
  jitterSaturation: RangeValue;
  jitterHue: RangeValue;
  noiseStd: RangeValue;
  diffusionStep: RangeValue;
  blurSigma: RangeValue;
  blurKernel: number;
  maskPatch: number;
  maskRatio: RangeValue;
  progress: boolean;
}

const d = CORRUPTION_DEFAULTS;

// Ranges are "lo,hi" (drawn uniformly per image) or one number; their bounds are checked by
// corruptionSpec (lib/data/corrupt.ts).
const OPTIONS: OptionTable<CorruptOptions> = {
  in: { type: 'string', path: true, required: true, describe: 'Folder of input images' },
  out: { type: 'string', path: true, required: true, describe: 'Folder for the corrupted PNGs and corruptions.jsonl (created)' },
  kind: {
    type: 'string',
    choices: CORRUPTION_KINDS,
    default: 'stic',
    describe:
      'stic: 50/50 lowres or jitter (the STIC recipe); lowres: shorter side to --lowres-size px; jitter: colour jitter ' +
      '(random op order); noise: Gaussian noise; diffusion: DDPM forward noise (POVID); blur: Gaussian blur; mask: random patches',
  },
  seed: { type: 'integer', min: 0, default: DEFAULT_SEED, describe: 'Run seed (the same default as the stage commands); each image gets seed(run seed, file name)' },
  batch: { type: 'integer', min: 1, default: 32, describe: 'Images per native call' },
  lowresSize: { type: 'range', default: d.lowresSize, describe: 'lowres: target shorter side in px' },
  jitterBrightness: { type: 'range', none: true, default: d.brightness, describe: 'jitter: brightness factor range, or "none"' },
  jitterContrast: { type: 'range', none: true, default: d.contrast, describe: 'jitter: contrast factor range, or "none"' },
  jitterSaturation: { type: 'range', none: true, default: d.saturation, describe: 'jitter: saturation factor range, or "none"' },
  jitterHue: { type: 'range', none: true, default: d.hue, describe: 'jitter: hue shift range in [-0.5, 0.5] of the circle, or "none"' },
  noiseStd: { type: 'range', default: d.noiseSigma, describe: 'noise: standard deviation, in units of the full 0-255 range' },
  diffusionStep: { type: 'range', default: d.diffusionStep, describe: `diffusion: step t in [0, ${d.diffusionSteps - 1}] of a linear beta schedule ${d.betaStart}..${d.betaEnd}` },
  blurSigma: { type: 'range', default: d.blurSigma, describe: 'blur: Gaussian sigma in px' },
  blurKernel: { type: 'integer', min: 0, default: d.blurKernel, describe: 'blur: odd kernel size; 0 = 2*ceil(3*sigma)+1' },
  maskPatch: { type: 'integer', min: 1, default: d.patchSize, describe: 'mask: patch side in px' },
  maskRatio: { type: 'range', default: d.maskRatio, describe: 'mask: fraction of patches filled with black' },
  progress: { type: 'boolean', default: true, describe: 'Show a progress bar on stderr (plain lines when not a terminal)' },
};

function optionsFrom(a: CorruptOptions): CorruptionOptions {
  return {
    lowresSize: a.lowresSize as ValueOrRange,
    brightness: a.jitterBrightness,
    contrast: a.jitterContrast,
    saturation: a.jitterSaturation,
    hue: a.jitterHue,
    noiseSigma: a.noiseStd as ValueOrRange,
    diffusionStep: a.diffusionStep as ValueOrRange,
    blurSigma: a.blurSigma as ValueOrRange,
    blurKernel: a.blurKernel,
    patchSize: a.maskPatch,
    maskRatio: a.maskRatio as ValueOrRange,
  };
}

async function listImages(dir: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    throw new Error(`--in ${dir}: cannot read the folder (${(err as Error).message})`);
  }
  return entries
    .filter((e) => !e.isDirectory() && IMAGE_EXTENSIONS.includes(path.extname(e.name).toLowerCase()))
    .map((e) => path.join(dir, e.name))
    .sort();
}

async function run(args: Record<string, unknown>): Promise<void> {
  const r = await resolveOptions(OPTIONS, args);
  if (shownDryRun(args, OPTIONS, r)) return;
  const a = r.options;
  const spec = corruptionSpec(a.kind, optionsFrom(a));
  await guardOutputs({ inputs: [flagPath('in', a.in)], outputs: [flagPath('out', a.out)] }, () => write(a, spec));
}

async function write(a: CorruptOptions, spec: ReturnType<typeof corruptionSpec>): Promise<void> {
  const files = await listImages(a.in);
  await mkdir(a.out, { recursive: true });
  const jsonl = path.join(a.out, 'corruptions.jsonl');
  refuseSymlinkOutput(jsonl);
  await writeFile(jsonl, '');
  const bar: Progress = a.progress
    ? startProgress('corrupt', files.length, 0, { unit: 'images', notTTYScheduleMs: 2000 })
    : { tick: () => undefined, stop: () => undefined };
  const counts = new Map<string, number>();
  const skipped: string[] = [];
  try {
    for (let start = 0; start < files.length; start += a.batch) {
      const chunk = files.slice(start, start + a.batch);
      const outcomes = await loadImages(chunk);
      const good: LoadedImage[] = [];
      for (const o of outcomes) {
        if (o.ok) good.push(o.image);
        else {
          skipped.push(o.error.message);
          process.stderr.write(`\nstic corrupt: skipped ${o.error.file}: ${o.error.reason}\n`);
        }
      }
      const seeds = good.map((g) => imageSeed(a.seed, path.basename(g.file)));
      const results = good.length > 0 ? await corruptImages(good, seeds, spec) : [];
      const lines: string[] = [];
      await Promise.all(
        results.map(async (r, i) => {
          const name = `${path.parse(good[i].file).name}.png`;
          const { data, width, height } = r.image;
          const target = path.join(a.out, name);
          refuseSymlinkOutput(target);
          const png = await sharp(data, { raw: { width, height, channels: 3 } }).png().toBuffer();
          await namingWriteErrors(target, () => writeFile(target, png));
          counts.set(r.params.kind, (counts.get(r.params.kind) ?? 0) + 1);
          lines[i] = JSON.stringify({ file: good[i].file, output: name, seed: r.seed, ...provenance(r.params) });
        }),
      );
      if (lines.length > 0) await namingWriteErrors(jsonl, () => appendFile(jsonl, `${lines.join('\n')}\n`));
      bar.tick(chunk.length);
    }
  } finally {
    bar.stop();
  }
  const done = [...counts.values()].reduce((x, y) => x + y, 0);
  const byKind = [...counts.entries()].map(([k, n]) => `${k} ${n}`).join(', ');
  process.stdout.write(
    `corrupted ${done} image${done === 1 ? '' : 's'}${byKind ? ` (${byKind})` : ''}, skipped ${skipped.length} unreadable -> ${a.out}` +
      ` (parameters in ${path.basename(jsonl)})\n`,
  );
}

export const command: CommandModule<object, Record<string, unknown>> = {
  command: 'corrupt',
  describe: 'Write corrupted copies of a folder of images (what the model sees as the dispreferred input)',
  builder: (y) =>
    y
      .usage(
        '$0 corrupt --in DIR --out DIR [--kind stic] [--seed N]\n\n' +
          `Reads the images directly in --in (${IMAGE_EXTENSIONS.map((e) => e.slice(1)).join(', ')}; other files are ` +
          'ignored), corrupts each one with a seed derived from --seed and its file name, and writes <name>.png plus ' +
          'corruptions.jsonl (one line per image: file, output, seed and the parameters drawn) into --out. ' +
          'An unreadable image is reported with its reason, skipped and counted in the summary. ' +
          'Ranges are "lo,hi" (drawn uniformly per image) or one number ([lo, hi] or a number in a --config file).',
      )
      .options({ ...CONFIG_FLAGS, ...yargsOptions(OPTIONS) }) as never,
  handler: (args) => run(args),
};
