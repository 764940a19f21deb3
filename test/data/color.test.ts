// Colour jitter and low resolution against the torchvision/PIL fixtures, and every colour op against
// the TypeScript reference of torchvision's uint8 tensor semantics on random images.
import { expect } from 'chai';

import { corruptImages, corruptionSpec } from '../../lib/data/corrupt.ts';
import type { RgbImage } from '../../lib/native/index.ts';
import { makeRng } from '../helpers/rng.ts';
import { chwToHwc, compare, fixture, randomImage, sceneImage } from './helpers.ts';
import { brightness, contrast, hue, pilResize, saturation, shorterSide } from './reference.ts';

type Op = 'brightness' | 'contrast' | 'saturation' | 'hue';

/** One jitter op with a fixed factor (a degenerate range). */
async function jitterOne(img: RgbImage, op: Op, f: number): Promise<RgbImage> {
  const off = { brightness: null, contrast: null, saturation: null, hue: null };
  const [r] = await corruptImages([img], [7], corruptionSpec('jitter', { ...off, [op]: f }));
  expect(r.params.order).to.deep.equal([op]);
  expect(r.params[op]).to.equal(f);
  return r.image;
}

function fixtureHwc(name: string): Uint8Array {
  const t = fixture(name);
  return chwToHwc(t.data as Uint8Array, t.shape[1], t.shape[2]);
}

describe('colour jitter (torchvision uint8 semantics)', () => {
  for (const [name, op, f] of [['brightness_1.3', 'brightness', 1.3], ['hue_0.2', 'hue', 0.2], ['hue_-0.3', 'hue', -0.3]] as const) {
    it(`matches the ${name} fixture (within 1/255 on >= 99% of values; here exactly)`, async () => {
      const out = await jitterOne(await sceneImage(), op, f);
      const c = compare(out.data, fixtureHwc(name), 1);
      expect(c.fracOver).to.be.at.most(0.01);
      expect(c.exact).to.equal(1);
    });
  }

  it('matches brightness_0.6_then_hue_0.1 when the drawn order is brightness first', async () => {
    // Find a seed whose order puts brightness before hue, with both ranges degenerate.
    const spec = corruptionSpec('jitter', { brightness: 0.6, hue: 0.1 });
    const scene = await sceneImage();
    const seeds = Array.from({ length: 8 }, (_, i) => i);
    const results = await corruptImages(seeds.map(() => scene), seeds, spec);
    const r = results.find((x) => x.params.order?.[0] === 'brightness');
    const other = results.find((x) => x.params.order?.[0] === 'hue');
    expect(r, 'a seed with brightness first').to.not.equal(undefined);
    expect(other, 'a seed with hue first').to.not.equal(undefined);
    expect(compare(r!.image.data, fixtureHwc('brightness_0.6_then_hue_0.1'), 0).exact).to.equal(1);
    // The other order is a different image: order matters and is honoured.
    expect(compare(other!.image.data, fixtureHwc('brightness_0.6_then_hue_0.1'), 0).exact).to.be.below(1);
  });

  const rng = makeRng(2024);
  const images = [randomImage(rng.next, 31, 17), randomImage(rng.next, 8, 45)];
  // Grey and saturated pixels exercise the eqc and max-channel branches of rgb2hsv.
  images[0].data.set([50, 50, 50, 255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 0, 0, 0, 0, 255, 255, 255], 0);
  const cases: [Op, (img: RgbImage, f: number) => RgbImage, number[]][] = [
    ['brightness', brightness, [0.5, 0.87, 1.5]],
    ['contrast', contrast, [0.3, 1.7]],
    ['saturation', saturation, [0, 0.4, 2.2]],
    ['hue', hue, [-0.5, -0.13, 0.27, 0.5]],
  ];
  for (const [op, ref, factors] of cases) {
    it(`${op} equals the TypeScript reference exactly on random images`, async () => {
      for (const img of images) {
        for (const f of factors) {
          const got = await jitterOne(img, op, f);
          const want = ref(img, f);
          const c = compare(got.data, want.data, 0);
          expect(c.exact, `${op} ${f} on ${img.width}x${img.height} (max diff ${c.maxDiff})`).to.equal(1);
        }
      }
    });
  }
});

describe('low resolution (torchvision Resize(20) on a PIL image)', () => {
  it('matches resize20_pil within 3/255 (here exactly)', async () => {
    const [r] = await corruptImages([await sceneImage()], [3], corruptionSpec('lowres'));
    expect(r.params).to.deep.equal({ kind: 'lowres', size: 20 });
    expect([r.image.width, r.image.height]).to.deep.equal([30, 20]);
    const c = compare(r.image.data, fixtureHwc('resize20_pil'), 3);
    expect(c.fracOver).to.equal(0);
    expect(c.exact).to.equal(1);
  });

  it('equals the TypeScript Pillow bilinear reference on random sizes, shrinking and enlarging', async () => {
    const rng = makeRng(5);
    for (const [w, h, size] of [[97, 41, 20], [41, 97, 13], [12, 7, 20], [50, 50, 50], [333, 250, 20]]) {
      const img = randomImage(rng.next, w, h);
      const [r] = await corruptImages([img], [1], corruptionSpec('lowres', { lowresSize: size }));
      const [ow, oh] = shorterSide(w, h, size);
      expect([r.image.width, r.image.height]).to.deep.equal([ow, oh]);
      expect(compare(r.image.data, pilResize(img, ow, oh, 'bilinear').data, 0).exact, `${w}x${h} -> ${ow}x${oh}`).to.equal(1);
    }
  });
});
