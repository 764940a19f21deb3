// LLaVA preprocessing against the HF fixtures (CLIPImageProcessor via Pillow) and against the plain
// TypeScript reference of Pillow's resampling on random images of odd sizes.
import { expect } from 'chai';

import {
  OPENAI_CLIP_MEAN,
  OPENAI_CLIP_STD,
  padColorFor,
  preprocessConfig,
  preprocessConfigFromHf,
  preprocessConfigFromVision,
  preprocessImages,
} from '../../lib/data/preprocess.ts';
import type { VisionConfig } from '../../lib/model/engine_config.ts';
import { corruptImages, corruptionSpec } from '../../lib/data/corrupt.ts';
import { makeRng } from '../helpers/rng.ts';
import { fixture, randomImage, sceneImage } from './helpers.ts';
import { clipPreprocess, expandToSquare } from './reference.ts';

/** Undo (x - mean) / std and scale to 0..255: compares in pixel levels. */
function levels(chw: Float32Array, mean: number[], std: number[]): Float64Array {
  const plane = chw.length / 3;
  return Float64Array.from(chw, (v, i) => (v * std[Math.floor(i / plane)] + mean[Math.floor(i / plane)]) * 255);
}

function maxLevelDiff(a: Float32Array, b: Float32Array): number {
  const la = levels(a, OPENAI_CLIP_MEAN, OPENAI_CLIP_STD);
  const lb = levels(b, OPENAI_CLIP_MEAN, OPENAI_CLIP_STD);
  return la.reduce((m, v, i) => Math.max(m, Math.abs(v - lb[i])), 0);
}

describe('preprocessImages', () => {
  const cfg56 = (mode: 'pad' | 'clip') => preprocessConfig({ mode, size: 56 });

  it('pad colour is LLaVA int(255 * mean): (122, 116, 104)', () => {
    expect(padColorFor(OPENAI_CLIP_MEAN)).to.deep.equal([122, 116, 104]);
  });

  it('clip matches CLIPImageProcessor clip56 within 2/255 (in fact within 1 level)', async () => {
    const out = await preprocessImages([await sceneImage()], cfg56('clip'));
    expect(out.length).to.equal(3 * 56 * 56);
    expect(maxLevelDiff(out, fixture('clip56').data as Float32Array)).to.be.below(1.001);
  });

  it('pad matches pad_then_clip56 within 2/255 (in fact within 1 level)', async () => {
    const out = await preprocessImages([await sceneImage()], cfg56('pad'));
    expect(maxLevelDiff(out, fixture('pad_then_clip56').data as Float32Array)).to.be.below(1.001);
  });

  it('lowres 20 then clip matches resize20_then_clip56', async () => {
    const [low] = await corruptImages([await sceneImage()], [1], corruptionSpec('lowres'));
    const out = await preprocessImages([low.image], cfg56('clip'));
    expect(maxLevelDiff(out, fixture('resize20_then_clip56').data as Float32Array)).to.be.below(1.001);
  });

  it('equals the TypeScript Pillow reference bit for bit on random images (both modes, up and down)', async () => {
    const rng = makeRng(77);
    const sizes: [number, number][] = [[61, 37], [29, 53], [40, 40], [13, 9], [130, 71]];
    const images = sizes.map(([w, h]) => randomImage(rng.next, w, h));
    for (const mode of ['clip', 'pad'] as const) {
      for (const [size, crop] of [[32, 32], [33, 27]]) {
        const cfg = preprocessConfig({ mode, size, crop });
        const out = await preprocessImages(images, cfg);
        expect(out.length).to.equal(images.length * 3 * crop * crop);
        images.forEach((img, i) => {
          const src = mode === 'pad' ? expandToSquare(img, cfg.padColor) : img;
          const ref = clipPreprocess(src, size, crop, cfg.mean, cfg.std);
          const got = out.subarray(i * ref.length, (i + 1) * ref.length);
          const bad = ref.findIndex((v, j) => v !== got[j]);
          expect(bad, `${mode} size ${size} crop ${crop} image ${img.width}x${img.height}: element ${bad}`).to.equal(-1);
        });
      }
    }
  });

  it('reads a HF preprocessor_config.json', () => {
    const cfg = preprocessConfigFromHf(
      { crop_size: { height: 224, width: 224 }, size: { shortest_edge: 224 }, image_mean: [0.5, 0.5, 0.5], image_std: [0.25, 0.5, 1] },
      'pad',
    );
    expect(cfg).to.deep.equal({ mode: 'pad', size: 224, crop: 224, mean: [0.5, 0.5, 0.5], std: [0.25, 0.5, 1], padColor: [127, 127, 127], resample: 'bicubic' });
    expect(preprocessConfigFromHf({}, 'clip')).to.deep.equal(preprocessConfig({ mode: 'clip' }));
  });

  it('follows an engine VisionConfig (pad flag, sizes, mean/std, filter)', () => {
    const vision = {
      imageSize: 56,
      imageMean: [0.5, 0.4, 0.3],
      imageStd: [0.2, 0.2, 0.2],
      preprocess: { resizeShortestEdge: 64, cropSize: 56, padToSquare: true, resample: 'bilinear' },
    } as unknown as VisionConfig;
    expect(preprocessConfigFromVision(vision)).to.deep.equal({
      mode: 'pad', size: 64, crop: 56, mean: [0.5, 0.4, 0.3], std: [0.2, 0.2, 0.2], padColor: [127, 102, 76], resample: 'bilinear',
    });
    const plain = preprocessConfigFromVision({ ...vision, preprocess: undefined } as VisionConfig);
    expect([plain.mode, plain.size, plain.crop, plain.resample]).to.deep.equal(['clip', 56, 56, 'bicubic']);
  });

  it('bilinear resampling equals the Pillow reference too', async () => {
    const rng = makeRng(8);
    const img = randomImage(rng.next, 45, 70);
    const cfg = preprocessConfig({ mode: 'clip', size: 30, resample: 'bilinear' });
    const out = await preprocessImages([img], cfg);
    expect(Array.from(out)).to.deep.equal(Array.from(clipPreprocess(img, 30, 30, cfg.mean, cfg.std, 'bilinear')));
  });

  it('rejects bad configurations and images with exact messages', async () => {
    expect(() => preprocessConfig({ size: 0 })).to.throw('Expected an integer between 1 and 8192 for size but received 0');
    expect(() => preprocessConfig({ size: 32, crop: 40 })).to.throw('Expected a crop no larger than size (32) for crop but received 40');
    expect(() => preprocessConfig({ std: [1, 0, 1] })).to.throw('Expected an array of 3 positive numbers for std but received an array of 3 values');
    expect(() => preprocessConfigFromHf({ image_mean: [1, 2] }, 'clip', 'm/preprocessor_config.json')).to.throw(
      'm/preprocessor_config.json: Expected an array of 3 numbers for mean but received an array of 2 values',
    );
    const cfg = preprocessConfig({ size: 8 });
    const bad = { data: new Uint8Array(10), width: 2, height: 2 };
    let msg = '';
    try {
      await preprocessImages([randomImage(Math.random, 2, 2), bad], cfg);
    } catch (err) {
      msg = (err as Error).message;
    }
    expect(msg).to.equal('Expected 12 bytes (2 x 2 x 3 RGB) for images[1].data but received 10');
  });
});
