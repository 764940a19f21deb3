// Image loading: every format sharp writes here, EXIF orientation, colour conversions, the error
// paths with their exact messages, and shrink-on-load. Inputs are generated with sharp in a temp dir.
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { expect } from 'chai';
import sharp, { type Sharp } from 'sharp';

import { IMAGE_EXTENSIONS, ImageLoadError, loadImage, loadImages } from '../../lib/data/image_load.ts';
import { makeRng } from '../helpers/rng.ts';

// A smooth random image (lossy codecs keep it within a few levels): (H, W, C)
function smoothImage(w: number, h: number, seed: number): Buffer {
  const rng = makeRng(seed);
  const a = [rng.uniform(40, 200), rng.uniform(40, 200), rng.uniform(40, 200)];
  const data = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let c = 0; c < 3; c++) data[(y * w + x) * 3 + c] = Math.round(a[c] + 40 * Math.sin((x + 2 * c) / 7) * Math.cos(y / 5));
  return data;
}

function meanAbsDiff(a: Uint8Array, b: Uint8Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i] - b[i]);
  return s / a.length;
}

describe('loadImage', () => {
  let dir: string;
  const W = 37;
  const H = 23;
  const pixels = smoothImage(W, H, 5);
  const raw = () => sharp(pixels, { raw: { width: W, height: H, channels: 3 } });

  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'stic-load-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const lossless: [string, (s: Sharp) => Sharp][] = [
    ['png', (s) => s.png()],
    ['tiff', (s) => s.tiff({ compression: 'lzw' })],
    ['webp', (s) => s.webp({ lossless: true })],
  ];
  for (const [ext, encode] of lossless) {
    it(`loads ${ext} exactly`, async () => {
      const file = path.join(dir, `img.${ext}`);
      await encode(raw()).toFile(file);
      const img = await loadImage(file);
      expect([img.width, img.height, img.data.length]).to.deep.equal([W, H, W * H * 3]);
      expect(Buffer.from(img.data).equals(pixels)).to.equal(true);
    });
  }

  const lossy: [string, (s: Sharp) => Sharp, number][] = [
    ['jpg', (s) => s.jpeg({ quality: 95 }), 3],
    ['webp', (s) => s.webp({ quality: 95 }), 4],
    ['gif', (s) => s.gif(), 12],
    ['avif', (s) => s.avif({ quality: 90 }), 6],
  ];
  for (const [ext, encode, tol] of lossy) {
    it(`loads ${ext} within its codec loss (mean |diff| < ${tol})`, async function () {
      const file = path.join(dir, `lossy.${ext}`);
      try {
        await encode(raw()).toFile(file);
      } catch (err) {
        if (ext === 'avif') this.skip(); // libvips built without an AV1 encoder
        throw err;
      }
      const img = await loadImage(file);
      expect([img.width, img.height]).to.deep.equal([W, H]);
      expect(meanAbsDiff(img.data, pixels)).to.be.below(tol);
    });
  }

  it('IMAGE_EXTENSIONS are endings sharp decodes here', () => {
    const decoded = Object.values(sharp.format).flatMap((f) => ((f.input.file || f.input.buffer) && f.input.fileSuffix) || []);
    expect(IMAGE_EXTENSIONS.filter((e) => !decoded.includes(e))).to.deep.equal([]);
  });

  it('takes the first frame of an animated GIF', async () => {
    const frame2 = Buffer.from(pixels.map((v) => 255 - v));
    const file = path.join(dir, 'anim.gif');
    await sharp(Buffer.concat([pixels, frame2]), { raw: { width: W, height: 2 * H, channels: 3, pageHeight: H } as never })
      .gif()
      .toFile(file);
    const img = await loadImage(file);
    expect([img.width, img.height]).to.deep.equal([W, H]);
    expect(meanAbsDiff(img.data, pixels)).to.be.below(12);
  });

  it('applies EXIF orientation 6 (rotate 90 degrees clockwise)', async () => {
    const file = path.join(dir, 'rot.jpg');
    await raw().jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toFile(file);
    const img = await loadImage(file);
    expect([img.width, img.height, img.sourceWidth, img.sourceHeight]).to.deep.equal([H, W, H, W]);
    // Orientation 6: displayed pixel (x, y) is stored pixel (y, H - 1 - x).
    const rotated = new Uint8Array(W * H * 3);
    for (let y = 0; y < W; y++)
      for (let x = 0; x < H; x++)
        for (let c = 0; c < 3; c++) rotated[(y * H + x) * 3 + c] = pixels[((H - 1 - x) * W + y) * 3 + c];
    expect(meanAbsDiff(img.data, rotated)).to.be.below(3);
  });

  it('replicates grayscale into three channels', async () => {
    const file = path.join(dir, 'gray.png');
    const gray = Buffer.from(Array.from({ length: W * H }, (_, i) => (i * 7) % 256));
    await sharp(gray, { raw: { width: W, height: H, channels: 1 } }).toColourspace('b-w').png().toFile(file);
    expect((await sharp(file).metadata()).channels).to.equal(1);
    const img = await loadImage(file);
    for (let i = 0; i < W * H; i++) expect([img.data[3 * i], img.data[3 * i + 1], img.data[3 * i + 2]]).to.deep.equal([gray[i], gray[i], gray[i]]);
  });

  it('drops alpha without compositing (like PIL convert("RGB"))', async () => {
    const file = path.join(dir, 'alpha.png');
    const rgba = Buffer.alloc(W * H * 4);
    for (let i = 0; i < W * H; i++) {
      pixels.copy(rgba, 4 * i, 3 * i, 3 * i + 3);
      rgba[4 * i + 3] = (i * 13) % 256; // including fully transparent pixels
    }
    await sharp(rgba, { raw: { width: W, height: H, channels: 4 } }).png().toFile(file);
    const img = await loadImage(file);
    expect(Buffer.from(img.data).equals(pixels)).to.equal(true);
  });

  it('scales 16-bit PNGs to 8 bits', async () => {
    const file = path.join(dir, 'deep.png');
    await raw().toColourspace('rgb16').png().toFile(file);
    expect((await sharp(file).metadata()).depth).to.equal('ushort');
    const img = await loadImage(file);
    expect(meanAbsDiff(img.data, pixels)).to.be.below(1);
  });

  it('converts CMYK JPEGs to RGB through the ICC profile', async () => {
    const file = path.join(dir, 'cmyk.jpg');
    await raw().toColourspace('cmyk').jpeg({ quality: 95 }).toFile(file);
    expect((await sharp(file).metadata()).space).to.equal('cmyk');
    const img = await loadImage(file);
    expect(img.data.length).to.equal(W * H * 3);
    expect(meanAbsDiff(img.data, pixels)).to.be.below(16); // profile round trip, not identity
  });

  describe('errors name the file and the reason', () => {
    const message = async (file: string) => {
      try {
        await loadImage(file);
      } catch (err) {
        expect(err).to.be.instanceOf(ImageLoadError);
        return (err as Error).message;
      }
      throw new Error('expected loadImage to fail');
    };

    it('missing file', async () => {
      const f = path.join(dir, 'nope.png');
      expect(await message(f)).to.equal(`Cannot load image ${f}: file does not exist`);
    });
    it('empty file', async () => {
      const f = path.join(dir, 'empty.jpg');
      writeFileSync(f, '');
      expect(await message(f)).to.equal(`Cannot load image ${f}: file is empty (0 bytes)`);
    });
    it('a directory', async () => {
      const f = path.join(dir, 'folder.png');
      mkdirSync(f);
      expect(await message(f)).to.equal(`Cannot load image ${f}: is a directory, not an image file`);
    });
    it('not an image', async () => {
      const f = path.join(dir, 'notes.jpg');
      writeFileSync(f, 'these are words, not pixels\n');
      expect(await message(f)).to.equal(`Cannot load image ${f}: not a recognised image format (expected JPEG, PNG, WebP, GIF, TIFF or AVIF)`);
    });
    it('truncated JPEG', async () => {
      const whole = path.join(dir, 'whole.jpg');
      await raw().jpeg({ quality: 95 }).toFile(whole);
      const f = path.join(dir, 'truncated.jpg');
      const bytes = readFileSync(whole);
      writeFileSync(f, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
      expect(await message(f)).to.equal(`Cannot load image ${f}: image data is truncated or corrupt (VipsJpeg: premature end of JPEG image)`);
    });
    it('truncated PNG', async () => {
      const whole = path.join(dir, 'whole.png');
      await raw().png().toFile(whole);
      const f = path.join(dir, 'truncated.png');
      const bytes = readFileSync(whole);
      writeFileSync(f, bytes.subarray(0, bytes.length - 30));
      expect(await message(f)).to.match(new RegExp(`^Cannot load image ${f.replace(/[.]/g, '\\.')}: image data is truncated or corrupt \\(.+\\)$`));
    });

    it('loadImages returns failures in place and keeps going', async () => {
      const good = path.join(dir, 'img.png');
      const bad = path.join(dir, 'nope.png');
      const out = await loadImages([bad, good]);
      expect(out[0].ok).to.equal(false);
      expect(out[1].ok).to.equal(true);
      if (!out[0].ok) expect(out[0].error.reason).to.equal('file does not exist');
    });
  });

  it('shrinks large images on load to the requested side, keeping the aspect ratio', async () => {
    const file = path.join(dir, 'big.jpg');
    const big = smoothImage(1280, 960, 9);
    await sharp(big, { raw: { width: 1280, height: 960, channels: 3 } }).jpeg().toFile(file);
    const shorter = await loadImage(file, { shrinkOnLoad: { side: 'shorter', keep: 200 } });
    expect([shorter.width, shorter.height, shorter.sourceWidth, shorter.sourceHeight]).to.deep.equal([267, 200, 1280, 960]);
    const longer = await loadImage(file, { shrinkOnLoad: { side: 'longer', keep: 200 } });
    expect([longer.width, longer.height]).to.deep.equal([200, 150]);
    // Under 2x the kept side: decoded at full size, untouched.
    const full = await loadImage(file, { shrinkOnLoad: { side: 'shorter', keep: 600 } });
    expect([full.width, full.height]).to.deep.equal([1280, 960]);
  });
});
