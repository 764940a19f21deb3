// CUDA corruption kernels against the CPU corruptions, byte for byte: the CPU draws each image's
// parameters (corruptImages returns them), the GPU applies those parameters to the same images with
// the same seeds (per-pixel noise from the same Philox stream), and every output byte must match.
// Images have odd sizes and random pixels, several per batch, every kind and the stic mix.
// Legend: N images, H height, W width.
import { expect } from 'chai';

import { corruptionSpec } from '../../lib/data/corrupt.ts';
import type { CorruptionKind, CorruptionOptions } from '../../lib/data/corrupt.ts';
import { native } from '../../lib/native/index.ts';
import type { RgbImage } from '../../lib/native/index.ts';
import { makeRng } from '../helpers/rng.ts';
import { cudaKernels, describeCuda, expectSameBytes } from './helpers.ts';

const rng = makeRng(9001);

// Smooth gradients plus noise, so resampling and blur see structure, not only noise.
function randomImage(width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  const base = [rng.int(0, 256), rng.int(0, 256), rng.int(0, 256)];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) {
        const v = base[c] + (c + 1) * x + (3 - c) * y + rng.int(-20, 21);
        data[(y * width + x) * 3 + c] = Math.min(255, Math.max(0, v));
      }
    }
  }
  return { data, width, height };
}

const SIZES: [number, number][] = [[37, 23], [64, 48], [17, 90], [130, 131], [5, 3]];

const CASES: { kind: CorruptionKind; options: CorruptionOptions }[] = [
  { kind: 'lowres', options: { lowresSize: [2, 19] } },
  { kind: 'jitter', options: { brightness: [0.5, 1.5], contrast: [0.5, 1.5], saturation: [0, 2], hue: [-0.5, 0.5] } },
  { kind: 'noise', options: { noiseSigma: [0.01, 0.3] } },
  { kind: 'diffusion', options: { diffusionStep: [0, 999] } },
  { kind: 'blur', options: { blurSigma: [0.3, 4] } },
  { kind: 'blur', options: { blurSigma: [1, 2], blurKernel: 9 } },
  { kind: 'mask', options: { patchSize: 7, maskRatio: [0.2, 0.8], maskFill: [255, 17, 3] } },
  { kind: 'stic', options: {} },
];

describeCuda('cuda: corruptions vs the CPU, byte for byte', () => {
  for (const { kind, options } of CASES) {
    it(`${kind} ${JSON.stringify(options)}`, async () => {
      const images = [...SIZES, ...SIZES].map(([w, h]) => randomImage(w, h));
      const seeds = images.map(() => rng.int(0, 2 ** 31) * 1024 + rng.int(0, 1024));
      const spec = corruptionSpec(kind, options);
      const cpu = await native().corruptImages(images, seeds, spec);
      const gpu = await cudaKernels().corruptImagesWithParams(images, seeds, cpu.map((r) => r.params), { maskFill: spec.maskFill });
      expect(gpu.images.length).to.equal(images.length);
      for (let i = 0; i < images.length; i++) {
        const c = cpu[i].image, g = gpu.images[i];
        expect([g.width, g.height], `image ${i} size`).to.deep.equal([c.width, c.height]);
        expectSameBytes(g.data, c.data, `image ${i} (${images[i].width}x${images[i].height}, ${JSON.stringify(cpu[i].params)})`);
      }
    });
  }

  it('the stic mix really contains both kinds', async () => {
    const images = SIZES.map(([w, h]) => randomImage(w, h));
    const seeds = [1, 2, 3, 4, 5, 6, 7, 8].map((s) => s * 7919);
    const cpu = await native().corruptImages([...images, ...images.slice(0, 3)], seeds, corruptionSpec('stic'));
    const kinds = new Set(cpu.map((r) => r.params.kind));
    expect([...kinds].sort()).to.deep.equal(['jitter', 'lowres']);
  });
});
