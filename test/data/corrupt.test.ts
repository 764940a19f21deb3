// Corruption kernels against plain TypeScript references that recompute the same random draws
// (Philox in BigInt, normals by inverting an accurate CDF), plus determinism per seed.
import { expect } from 'chai';

import { corruptImages, corruptionSpec, describeCorruption, imageSeed } from '../../lib/data/corrupt.ts';
import { native } from '../../lib/native/index.ts';
import type { RgbImage } from '../../lib/native/index.ts';
import { lab } from '../helpers/lab.ts';
import { makeRng } from '../helpers/rng.ts';
import { compare, randomImage } from './helpers.ts';
import {
  alphaBar,
  diffusionNoise,
  gaussianBlur,
  gaussianNoise,
  inverseNormal,
  jitterDraws,
  maskPatches,
  philox,
  streamWords,
  uniformDraws,
} from './reference_random.ts';

const BIG_SEED = 2 ** 40 + 12345; // exercises the high key word
/** The documented draw: lo + (hi - lo) u, in float64. */
const lerp = (lo: number, hi: number, u: number) => lo + (hi - lo) * u;

describe('corruption RNG (Philox4x32-10)', () => {
  it('the TypeScript reference reproduces the Random123 known-answer vectors', () => {
    const hex = (v: number[]) => v.map((x) => x.toString(16).padStart(8, '0'));
    expect(hex(philox([0, 0, 0, 0], [0, 0]))).to.deep.equal(['6627e8d5', 'e169c58d', 'bc57ac4c', '9b00dbd8']);
    const ff = 0xffffffff;
    expect(hex(philox([ff, ff, ff, ff], [ff, ff]))).to.deep.equal(['408f276d', '41c83b0e', 'a20bc7c6', '6d5451fd']);
    expect(hex(philox([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0]))).to.deep.equal([
      'd16cfe09', '94fdcceb', '5001e420', '24126ea1',
    ]);
  });

  it('native words equal the reference for any seed, stream and offset', () => {
    for (const [seed, stream, first, count] of [[0, 'params', 0, 70], [BIG_SEED, 'pixels', 3, 141], [99, 'mask', 1001, 37]] as const) {
      const got = lab().kernels.corruptionRandom(seed, stream, first, count, 'words');
      expect(Array.from(got)).to.deep.equal(Array.from(streamWords(seed, stream, first, count)));
    }
  });

  it('native normals are Phi^-1(((w >> 8) + 0.5) / 2^24) to float precision', () => {
    const n = 4000;
    const got = lab().kernels.corruptionRandom(5, 'pixels', 17, n, 'normals');
    const w = streamWords(5, 'pixels', 17, n);
    let worst = 0;
    for (let i = 0; i < n; i++) {
      const z = inverseNormal(((w[i] >>> 8) + 0.5) / 2 ** 24);
      worst = Math.max(worst, Math.abs(got[i] - z) / (1 + Math.abs(z)));
    }
    expect(worst).to.be.below(5e-6);
    const mean = got.reduce((a, b) => a + b, 0) / n;
    const variance = got.reduce((a, b) => a + (b - mean) ** 2, 0) / n;
    expect(Math.abs(mean)).to.be.below(0.06);
    expect(Math.abs(variance - 1)).to.be.below(0.08);
  });
});

describe('corruptImages', () => {
  const rng = makeRng(314);
  const images: RgbImage[] = [randomImage(rng.next, 23, 17), randomImage(rng.next, 40, 9), randomImage(rng.next, 5, 31)];
  const seeds = [11, BIG_SEED, 2 ** 53 - 1];

  it('noise: y = round(x + 255 sigma z) with the drawn sigma', async () => {
    const spec = corruptionSpec('noise', { noiseSigma: [0.05, 0.2] });
    const results = await corruptImages(images, seeds, spec);
    results.forEach((r, i) => {
      const [u] = uniformDraws(seeds[i], 'params', 1);
      expect(r.params).to.deep.equal({ kind: 'noise', sigma: lerp(0.05, 0.2, u) });
      const c = compare(r.image.data, gaussianNoise(images[i], seeds[i], r.params.sigma!).data, 1);
      expect(c.fracOver).to.equal(0);
      expect(c.exact).to.be.at.least(0.995);
    });
  });

  it('diffusion: DDPM q(x_t | x_0) with the drawn step and linear-schedule alpha-bar', async () => {
    const spec = corruptionSpec('diffusion', { diffusionStep: [100, 900] });
    const results = await corruptImages(images, seeds, spec);
    results.forEach((r, i) => {
      const [u] = uniformDraws(seeds[i], 'params', 1);
      const step = 100 + Math.floor(u * 801);
      const abar = alphaBar(step, 1000, 1e-4, 0.02);
      expect(r.params.step).to.equal(step);
      expect(r.params.alphaBar).to.be.closeTo(abar, 1e-12);
      const c = compare(r.image.data, diffusionNoise(images[i], seeds[i], abar).data, 1);
      expect(c.fracOver).to.equal(0);
      expect(c.exact).to.be.at.least(0.995);
    });
    // Sanity of the schedule itself: abar_0 = 1 - 1e-4 and abar_999 is ~4e-5 (DDPM).
    expect(alphaBar(0, 1000, 1e-4, 0.02)).to.be.closeTo(0.9999, 1e-15);
    expect(alphaBar(999, 1000, 1e-4, 0.02)).to.be.closeTo(4.036e-5, 1e-7);
  });

  it('blur: separable float32 equals the 2-D float64 definition up to rounding ties', async () => {
    for (const kernel of [0, 5, 41]) {
      const spec = corruptionSpec('blur', { blurSigma: [0.4, 3], blurKernel: kernel });
      const results = await corruptImages(images, seeds, spec);
      results.forEach((r, i) => {
        const [u] = uniformDraws(seeds[i], 'params', 1);
        const sigma = lerp(0.4, 3, u);
        const size = kernel || 2 * Math.ceil(3 * sigma) + 1;
        expect(r.params).to.deep.equal({ kind: 'blur', sigma, kernelSize: size });
        const c = compare(r.image.data, gaussianBlur(images[i], size, sigma).data, 1);
        expect(c.fracOver, `kernel ${size}`).to.equal(0);
        expect(c.exact).to.be.at.least(0.99);
      });
    }
  });

  it('mask: the same patches as the reference Fisher-Yates draws, filled with the fill colour', async () => {
    const spec = corruptionSpec('mask', { patchSize: 6, maskRatio: [0.2, 0.7], maskFill: [255, 0, 128] });
    const results = await corruptImages(images, seeds, spec);
    results.forEach((r, i) => {
      const [u] = uniformDraws(seeds[i], 'params', 1);
      const ratio = lerp(0.2, 0.7, u);
      const ref = maskPatches(images[i], seeds[i], 6, ratio, [255, 0, 128]);
      expect({ ...r.params, masked: Array.from(r.params.masked!) }).to.deep.equal({ kind: 'mask', ratio, patchSize: 6, masked: ref.masked });
      expect(ref.masked.length).to.be.greaterThan(0);
      expect(compare(r.image.data, ref.image.data, 0).exact).to.equal(1);
    });
  });

  it('jitter: order and factors are the documented draws from the params stream', async () => {
    const ranges: [number, number][] = [[0.5, 1.5], [0.8, 1.2], [0.1, 1.9], [-0.3, 0.3]];
    const spec = corruptionSpec('jitter', { brightness: ranges[0], contrast: ranges[1], saturation: ranges[2], hue: ranges[3] });
    const results = await corruptImages(images, seeds, spec);
    const names = ['brightness', 'contrast', 'saturation', 'hue'] as const;
    results.forEach((r, i) => {
      const { order, factors } = jitterDraws(uniformDraws(seeds[i], 'params', 7), ranges);
      expect(r.params.order).to.deep.equal(order.map((k) => names[k]));
      names.forEach((n, k) => expect(r.params[n]).to.equal(factors[k]));
    });
  });

  it('stic: lowres when the first draw is below 1/2, else jitter with the following draws', async () => {
    const n = 64;
    const img = images[0];
    const ids = Array.from({ length: n }, (_, i) => i * 7919);
    const results = await corruptImages(ids.map(() => img), ids, corruptionSpec('stic'));
    let lowres = 0;
    results.forEach((r, i) => {
      const u = uniformDraws(ids[i], 'params', 8);
      if (u[0] < 0.5) {
        lowres++;
        expect(r.params).to.deep.equal({ kind: 'lowres', size: 20 });
        expect(Math.min(r.image.width, r.image.height)).to.equal(20);
      } else {
        const { order, factors } = jitterDraws(u.slice(1), [[0.5, 1.5], null, null, [-0.3, 0.3]]);
        const names = ['brightness', 'contrast', 'saturation', 'hue'];
        expect(r.params.kind).to.equal('jitter');
        expect(r.params.order).to.deep.equal(order.filter((k) => k === 0 || k === 3).map((k) => names[k]));
        expect(r.params.brightness).to.equal(factors[0]);
        expect(r.params.hue).to.equal(factors[3]);
      }
    });
    expect(lowres).to.be.within(20, 44); // 64 fair coin flips
    expect(describeCorruption(results[0].params)).to.match(/^(lowres 20px|jitter (brightness|hue)=)/);
  });

  it('is a function of the seed alone: batch composition, position and thread count do not matter', async () => {
    const spec = corruptionSpec('noise', { noiseSigma: [0.01, 0.3] });
    const alone = await corruptImages([images[1]], [seeds[1]], spec);
    const batch = await corruptImages([images[2], images[0], images[1], images[1]], [5, 6, seeds[1], 8], spec);
    expect(compare(batch[2].image.data, alone[0].image.data, 0).exact).to.equal(1);
    expect(batch[2].params).to.deep.equal(alone[0].params);
    expect(compare(batch[3].image.data, alone[0].image.data, 0).exact).to.be.below(1); // another seed differs
    const before = native().setThreads(1);
    try {
      const single = await corruptImages([images[2], images[0], images[1]], [5, 6, seeds[1]], spec);
      single.forEach((r, i) => expect(compare(r.image.data, batch[i].image.data, 0).exact).to.equal(1));
    } finally {
      native().setThreads(before === 1 ? 0 : before);
    }
  });

  it('imageSeed is a stable 53-bit hash of (run seed, name)', () => {
    const a = imageSeed(0, 'cat.jpg');
    expect(Number.isSafeInteger(a) && a >= 0).to.equal(true);
    expect(imageSeed(0, 'cat.jpg')).to.equal(a);
    expect(imageSeed(1, 'cat.jpg')).to.not.equal(a);
    expect(imageSeed(0, 'dog.jpg')).to.not.equal(a);
  });

  it('rejects bad specs and inputs with exact messages', async () => {
    expect(() => corruptionSpec('fog' as never)).to.throw('Expected one of lowres, jitter, noise, diffusion, blur, mask, stic for kind but received a string "fog"');
    expect(() => corruptionSpec('jitter', { hue: [-0.7, 0.1] })).to.throw(
      'Expected a number or a [lo, hi] range with -0.5 <= lo <= hi <= 0.5 for hue but received [-0.7, 0.1]',
    );
    expect(() => corruptionSpec('lowres', { lowresSize: 2.5 })).to.throw(
      'Expected an integer or a [lo, hi] range with 1 <= lo <= hi <= 8192 for lowresSize but received 2.5',
    );
    expect(() => corruptionSpec('blur', { blurKernel: 4 })).to.throw('Expected an odd integer (or 0 for automatic) for blurKernel but received 4');
    expect(() => corruptionSpec('diffusion', { diffusionStep: 1000 })).to.throw(
      'Expected an integer or a [lo, hi] range with 0 <= lo <= hi <= 999 for diffusionStep but received 1000',
    );
    const spec = corruptionSpec('noise');
    let msg = '';
    try {
      await corruptImages(images, [1, 2], spec);
    } catch (err) {
      msg = (err as Error).message;
    }
    expect(msg).to.equal('Expected one seed per image (3) for seeds but received 2');
    expect(() => native().corruptImages(images, [1, 2, -4], spec)).to.throw('Expected a non-negative integer below 2^53 for seeds[2] but received -4');
    expect(() => native().corruptImages([{ data: new Uint8Array(3), width: 0, height: 1 }], [1], spec)).to.throw(
      'Expected an integer between 1 and 65535 for images[0].width but received 0',
    );
  });
});
