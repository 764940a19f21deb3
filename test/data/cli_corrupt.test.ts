// `stic corrupt` end to end in a child process: PNGs and JSONL written, bad files reported with
// file and reason and counted, outputs reproducible from the seed.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { expect } from 'chai';
import sharp from 'sharp';

import { corruptImages, corruptionSpec, imageSeed, provenance } from '../../lib/data/corrupt.ts';
import { loadImage } from '../../lib/data/image_load.ts';
import { packageRoot } from '../../lib/native/index.ts';
import { imagesFixtureDir } from './helpers.ts';

function stic(args: string[]) {
  const r = spawnSync(process.execPath, [path.join(packageRoot, 'bin', 'stic.js'), ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('stic corrupt', function () {
  this.timeout(60000);
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'stic-corrupt-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('writes one PNG and one JSONL line per good image, reports and counts bad ones', async () => {
    const inDir = path.join(dir, 'in');
    const outDir = path.join(dir, 'out');
    // two images, a text file named .jpg, an empty file and an ignored README
    mkdirSync(inDir, { recursive: true });
    copyFileSync(path.join(imagesFixtureDir, 'scene.png'), path.join(inDir, 'a.png'));
    await sharp(path.join(imagesFixtureDir, 'scene.png')).jpeg({ quality: 90 }).toFile(path.join(inDir, 'b.jpg'));
    writeFileSync(path.join(inDir, 'broken.jpg'), 'not a jpeg');
    writeFileSync(path.join(inDir, 'empty.png'), '');
    writeFileSync(path.join(inDir, 'README.txt'), 'ignored');

    const r = stic(['corrupt', '--in', inDir, '--out', outDir, '--kind', 'stic', '--seed', '9', '--no-progress']);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stderr).to.contain(`skipped ${path.join(inDir, 'broken.jpg')}: not a recognised image format (expected JPEG, PNG, WebP, GIF, TIFF or AVIF)`);
    expect(r.stderr).to.contain(`skipped ${path.join(inDir, 'empty.png')}: file is empty (0 bytes)`);
    expect(r.stdout).to.match(/^corrupted 2 images \((lowres|jitter) \d(, (lowres|jitter) \d)?\), skipped 2 unreadable -> /);
    expect(readdirSync(outDir).sort()).to.deep.equal(['a.png', 'b.png', 'corruptions.jsonl']);

    const lines = readFileSync(path.join(outDir, 'corruptions.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.output)).to.deep.equal(['a.png', 'b.png']);
    // Each output is exactly what the library produces for that image and seed.
    for (const l of lines) {
      expect(l.seed).to.equal(imageSeed(9, path.basename(l.file)));
      const src = await loadImage(l.file);
      const [want] = await corruptImages([src], [l.seed], corruptionSpec('stic'));
      const { seed: _seed, file: _file, output: _output, ...params } = l;
      expect(params).to.deep.equal(provenance(want.params));
      const got = await loadImage(path.join(outDir, l.output));
      expect([got.width, got.height]).to.deep.equal([want.image.width, want.image.height]);
      expect(Buffer.from(got.data).equals(Buffer.from(want.image.data))).to.equal(true);
    }
  });

  it('records mask patches as a JSON array and honours the kind options', async () => {
    const inDir = path.join(dir, 'in-mask');
    const outDir = path.join(dir, 'out-mask');
    mkdirSync(inDir, { recursive: true });
    copyFileSync(path.join(imagesFixtureDir, 'scene.png'), path.join(inDir, 'scene.png'));
    const r = stic(['corrupt', '--in', inDir, '--out', outDir, '--kind', 'mask', '--mask-patch', '16', '--mask-ratio', '0.25', '--no-progress']);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/^corrupted 1 image \(mask 1\), skipped 0 unreadable -> /);
    const [line] = readFileSync(path.join(outDir, 'corruptions.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(line.patchSize).to.equal(16);
    expect(line.ratio).to.equal(0.25);
    expect(line.masked).to.be.an('array').with.length(6); // 96x64 -> 6 x 4 patches, a quarter of 24
  });

  it('explains bad flag values and a missing input folder', () => {
    const bad = stic(['corrupt', '--in', dir, '--out', path.join(dir, 'o2'), '--kind', 'jitter', '--jitter-hue', '0.9', '--no-progress']);
    expect(bad.code).to.equal(1);
    expect(bad.stderr).to.contain('Expected a number or a [lo, hi] range with -0.5 <= lo <= hi <= 0.5 for hue but received 0.9');
    const parse = stic(['corrupt', '--in', dir, '--out', path.join(dir, 'o3'), '--jitter-brightness', 'bright', '--no-progress']);
    expect(parse.stderr).to.contain('Expected a number or "lo,hi" or "none" for --jitter-brightness but received "bright"');
    const missing = path.join(dir, 'nowhere');
    const r = stic(['corrupt', '--in', missing, '--out', path.join(dir, 'o4'), '--no-progress']);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.contain(`--in ${missing}: cannot read the folder`);
  });

  it('--help lists every flag with its default', () => {
    const r = stic(['corrupt', '--help']);
    expect(r.code).to.equal(0);
    for (const flag of ['--in', '--out', '--kind', '--seed', '--batch', '--lowres-size', '--jitter-brightness', '--jitter-contrast', '--jitter-saturation', '--jitter-hue',
      '--noise-std', '--diffusion-step', '--blur-sigma', '--blur-kernel', '--mask-patch', '--mask-ratio', '--progress']) {
      expect(r.stdout).to.contain(flag);
    }
    expect(r.stdout).to.contain('[default: 0.5,1.5]');
    expect(r.stdout).to.contain('[default: -0.3,0.3]');
    expect(r.stdout).to.contain('[default: none]'); // --jitter-contrast
  });
});
