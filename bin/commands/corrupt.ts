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
import { flagPath, guardOutputs } from '../../lib/stic/output_guard.ts';
import { refuseSymlinkOutput } from '../../lib/util/output_safety.ts';
import { namingWriteErrors } from '../../lib/util/write_error.ts';
import { type Progress, startProgress } from '../../lib/util/progress.ts';

const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.webp', '.gif', '.tif', '.tiff', '.avif', '.heic', '.heif']);

interface CorruptArgs {
  in: string;
  out: string;
  kind: CorruptionKind;
  seed: number;
  batch: number;
  'lowres-size': string;
  'jitter-brightness': string;
  'jitter-contrast': string;
  'jitter-saturation': string;
  'jitter-hue': string;
  'noise-std': string;
  'diffusion-step': string;
  'blur-sigma': string;
  'blur-kernel': number;
  'mask-patch': number;
  'mask-ratio': string;
  progress: boolean;
}

const show = (v: ValueOrRange | null) => (v === null ? 'none' : Array.isArray(v) ? v.join(',') : String(v));

/** "0.5,1.5" -> [0.5, 1.5]; "1.3" -> 1.3; "none" -> null (when allowed). */
export function parseRangeFlag(text: string, flag: string, allowNone: boolean): ValueOrRange | null {
  const t = text.trim();
  if (allowNone && (t === 'none' || t === 'off')) return null;
  const parts = t.split(',').map((s) => s.trim());
  const nums = parts.map(Number);
  if ((parts.length === 1 || parts.length === 2) && parts.every((p) => p !== '') && nums.every(Number.isFinite)) {
    return parts.length === 1 ? nums[0] : [nums[0], nums[1]];
  }
  throw new Error(`--${flag}: expected a number or "lo,hi"${allowNone ? ' or "none"' : ''} but received "${text}"`);
}

function optionsFrom(a: CorruptArgs): CorruptionOptions {
  return {
    lowresSize: parseRangeFlag(a['lowres-size'], 'lowres-size', false) as ValueOrRange,
    brightness: parseRangeFlag(a['jitter-brightness'], 'jitter-brightness', true),
    contrast: parseRangeFlag(a['jitter-contrast'], 'jitter-contrast', true),
    saturation: parseRangeFlag(a['jitter-saturation'], 'jitter-saturation', true),
    hue: parseRangeFlag(a['jitter-hue'], 'jitter-hue', true),
    noiseSigma: parseRangeFlag(a['noise-std'], 'noise-std', false) as ValueOrRange,
    diffusionStep: parseRangeFlag(a['diffusion-step'], 'diffusion-step', false) as ValueOrRange,
    blurSigma: parseRangeFlag(a['blur-sigma'], 'blur-sigma', false) as ValueOrRange,
    blurKernel: a['blur-kernel'],
    patchSize: a['mask-patch'],
    maskRatio: parseRangeFlag(a['mask-ratio'], 'mask-ratio', false) as ValueOrRange,
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
    .filter((e) => !e.isDirectory() && IMAGE_EXTENSIONS.has(path.extname(e.name).toLowerCase()))
    .map((e) => path.join(dir, e.name))
    .sort();
}

async function run(a: CorruptArgs): Promise<void> {
  const spec = corruptionSpec(a.kind, optionsFrom(a));
  if (!Number.isSafeInteger(a.seed) || a.seed < 0) throw new Error(`--seed: expected a non-negative integer but received ${a.seed}`);
  if (!Number.isInteger(a.batch) || a.batch < 1) throw new Error(`--batch: expected a positive integer but received ${a.batch}`);
  await guardOutputs({ inputs: [flagPath('in', a.in)], outputs: [flagPath('out', a.out)] }, () => write(a, spec));
}

async function write(a: CorruptArgs, spec: ReturnType<typeof corruptionSpec>): Promise<void> {
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

const d = CORRUPTION_DEFAULTS;

export const command: CommandModule<object, CorruptArgs> = {
  command: 'corrupt',
  describe: 'Write corrupted copies of a folder of images (what the model sees as the dispreferred input)',
  builder: (y) =>
    y
      .usage(
        '$0 corrupt --in DIR --out DIR [--kind stic] [--seed N]\n\n' +
          'Reads the images directly in --in (jpg, jpeg, png, webp, gif, tif, tiff, avif, heic, heif; other files are ' +
          'ignored), corrupts each one with a seed derived from --seed and its file name, and writes <name>.png plus ' +
          'corruptions.jsonl (one line per image: file, output, seed and the parameters drawn) into --out. ' +
          'An unreadable image is reported with its reason, skipped and counted in the summary. ' +
          'Ranges are "lo,hi" (drawn uniformly per image) or one number.',
      )
      .option('in', { type: 'string', demandOption: true, describe: 'Folder of input images' })
      .option('out', { type: 'string', demandOption: true, describe: 'Folder for the corrupted PNGs and corruptions.jsonl (created)' })
      .option('kind', {
        choices: CORRUPTION_KINDS as CorruptionKind[],
        default: 'stic' as CorruptionKind,
        describe:
          'stic: 50/50 lowres or jitter (the STIC recipe); lowres: shorter side to --lowres-size px; jitter: colour jitter ' +
          '(random op order); noise: Gaussian noise; diffusion: DDPM forward noise (POVID); blur: Gaussian blur; mask: random patches',
      })
      .option('seed', { type: 'number', default: 42, describe: 'Run seed (the same default as the stage commands); each image gets seed(run seed, file name)' })
      .option('batch', { type: 'number', default: 32, describe: 'Images per native call' })
      .option('lowres-size', { type: 'string', default: show(d.lowresSize), describe: 'lowres: target shorter side in px' })
      .option('jitter-brightness', { type: 'string', default: show(d.brightness), describe: 'jitter: brightness factor range, or "none"' })
      .option('jitter-contrast', { type: 'string', default: show(d.contrast), describe: 'jitter: contrast factor range, or "none"' })
      .option('jitter-saturation', { type: 'string', default: show(d.saturation), describe: 'jitter: saturation factor range, or "none"' })
      .option('jitter-hue', { type: 'string', default: show(d.hue), describe: 'jitter: hue shift range in [-0.5, 0.5] of the circle, or "none"' })
      .option('noise-std', { type: 'string', default: show(d.noiseSigma), describe: 'noise: standard deviation, in units of the full 0-255 range' })
      .option('diffusion-step', {
        type: 'string',
        default: show(d.diffusionStep),
        describe: `diffusion: step t in [0, ${d.diffusionSteps - 1}] of a linear beta schedule ${d.betaStart}..${d.betaEnd}`,
      })
      .option('blur-sigma', { type: 'string', default: show(d.blurSigma), describe: 'blur: Gaussian sigma in px' })
      .option('blur-kernel', { type: 'number', default: d.blurKernel, describe: 'blur: odd kernel size; 0 = 2*ceil(3*sigma)+1' })
      .option('mask-patch', { type: 'number', default: d.patchSize, describe: 'mask: patch side in px' })
      .option('mask-ratio', { type: 'string', default: show(d.maskRatio), describe: 'mask: fraction of patches filled with black' })
      .option('progress', { type: 'boolean', default: true, describe: 'Show a progress bar on stderr (plain lines when not a terminal)' }) as never,
  handler: (args) => run(args),
};
