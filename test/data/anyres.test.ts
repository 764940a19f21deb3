// The LLaVA-NeXT image processor against the reference fixture's five images (landscape, tall, very
// wide, square, small odd): grid choice, resized size, padding, crops, unpad window and token count
// exactly; the torchvision-backend crops bit for bit (pixel_values_k); the canvases of both backends
// (canvas_u8_k, canvas_u8_pil_k, base_u8_pil_k) recovered from our normalised crops, exactly.
import { expect } from 'chai';
import path from 'node:path';

import { anyresGeometry, selectBestResolution, unpadWindow } from '../../lib/data/anyres.ts';
import { imageProcessor } from '../../lib/data/image_processor.ts';
import { loadImage } from '../../lib/data/image_load.ts';
import { loadModelConfig } from '../../lib/model/config.ts';
import type { EngineConfig } from '../../lib/model/engine_config.ts';
import type { RgbImage } from '../../lib/native/contract.ts';
import { NEXT_DIR, type NextFixture, loadNextFixture } from '../engine/next_fixture.ts';

const S = 42;

/** Our normalised crops back to uint8 (inverting (x - 255 m) / (255 s)), as (3, H, W) planes. */
function canvasFromCrops(pixels: Float32Array, firstCrop: number, rows: number, cols: number, cfg: EngineConfig): Uint8Array {
  const H = rows * S, W = cols * S;
  const out = new Uint8Array(3 * H * W);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const crop = firstCrop + r * cols + c;
      for (let ch = 0; ch < 3; ch++) {
        for (let y = 0; y < S; y++) {
          for (let x = 0; x < S; x++) {
            const v = pixels[((crop * 3 + ch) * S + y) * S + x];
            const level = Math.round(v * cfg.vision.imageStd[ch] * 255 + cfg.vision.imageMean[ch] * 255);
            out[(ch * H + r * S + y) * W + c * S + x] = level;
          }
        }
      }
    }
  }
  return out;
}

function mismatches(a: Uint8Array, b: Uint8Array): number {
  expect(a.length).to.equal(b.length);
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) n++;
  return n;
}

describe('LLaVA-NeXT image processor vs the reference fixture', () => {
  let fx: NextFixture;
  let config: EngineConfig;
  let images: RgbImage[];
  before(async () => {
    fx = await loadNextFixture();
    config = loadModelConfig(NEXT_DIR);
    images = await Promise.all(fx.json.images.map((im) => loadImage(path.join(NEXT_DIR, im.file))));
  });

  it('chooses the grid, the resized size, the padding, the crops and the token count of every image', () => {
    const pinpoints = config.anyres!.gridPinpoints;
    expect(pinpoints).to.deep.equal(fx.json.image_grid_pinpoints_hw);
    fx.json.images.forEach((info, k) => {
      const [h, w] = info.size_hw;
      expect([images[k].height, images[k].width]).to.deep.equal([h, w]);
      const geo = anyresGeometry(h, w, pinpoints, S, 14);
      expect(geo.best, info.file).to.deep.equal(info.best_resolution_hw);
      expect(geo.resized, info.file).to.deep.equal(info.resized_hw);
      expect(geo.pad, info.file).to.deep.equal(info.pad_top_bottom_left_right);
      expect([geo.layout.gridRows, geo.layout.gridCols], info.file).to.deep.equal(info.crop_grid_hw);
      expect(geo.layout.crops, info.file).to.equal(info.num_crops_incl_base);
      expect([geo.layout.keepRows, geo.layout.keepCols], info.file).to.deep.equal(info.unpadded_grid_hw);
      expect(geo.tokens, info.file).to.equal(info.num_image_tokens);
      expect(geo.layout).to.deep.equal(fx.image(k).layout);
      // The same numbers in the fixture's tensors.
      expect(fx.ids('best_resolution').slice(2 * k, 2 * k + 2)).to.deep.equal(info.best_resolution_hw);
      expect(fx.ids('resized_size').slice(2 * k, 2 * k + 2)).to.deep.equal(info.resized_hw);
      expect(fx.ids('num_crops')[k]).to.equal(info.num_crops_incl_base);
      expect(fx.ids('num_image_tokens')[k]).to.equal(info.num_image_tokens);
    });
  });

  it('caps the effective resolution at the image area and truncates the unpadded size (int(round(x, 7)))', () => {
    // A small image takes the smallest pinpoint that holds it, not the largest.
    expect(selectBestResolution(47, 33, [[42, 84], [84, 42], [84, 84], [42, 126], [126, 42]])).to.deep.equal([84, 42]);
    expect(selectBestResolution(10, 10, [[336, 672], [672, 672]])).to.deep.equal([336, 672]);
    // 47 x 33 on a 6 x 3 map: 47 * 3 / 33 = 4.27 -> 4 rows kept, one cut at each end.
    expect(unpadWindow(47, 33, 6, 3)).to.deep.equal({ row0: 1, rows: 4, col0: 0, cols: 3 });
    // 100 x 36 on a 6 x 3 map: 36 * 6 / 100 = 2.16 -> 2, margin (3 - 2) // 2 = 0: nothing is cut.
    expect(unpadWindow(100, 36, 6, 3)).to.deep.equal({ row0: 0, rows: 6, col0: 0, cols: 3 });
    // 7 decimals first: 2.99999999 rounds to 3 before the truncation.
    expect(unpadWindow(299_999_999, 1e8, 3, 1)).to.deep.equal({ row0: 0, rows: 3, col0: 0, cols: 1 });
  });

  it('torchvision backend (default): every crop of every image bit for bit, and the canvases exactly', async () => {
    const out = await imageProcessor(config).process(images);
    out.forEach((img, k) => {
      const info = fx.json.images[k];
      expect(img.tokens).to.equal(info.num_image_tokens);
      const ref = fx.f32(`pixel_values_${k}`);
      expect(img.pixels.length, info.file).to.equal(ref.length);
      let diff = 0;
      for (let i = 0; i < ref.length; i++) if (img.pixels[i] !== ref[i]) diff++;
      expect(diff, `${info.file}: values differing from pixel_values_${k}`).to.equal(0);
      const [rows, cols] = info.crop_grid_hw;
      expect(mismatches(canvasFromCrops(img.pixels, 1, rows, cols, config), fx.u8(`canvas_u8_${k}`)), `canvas ${k}`).to.equal(0);
    });
  });

  it('pil backend: the Pillow canvases and squashed base images exactly', async () => {
    const out = await imageProcessor(config, { backend: 'pil' }).process(images);
    out.forEach((img, k) => {
      const [rows, cols] = fx.json.images[k].crop_grid_hw;
      expect(mismatches(canvasFromCrops(img.pixels, 1, rows, cols, config), fx.u8(`canvas_u8_pil_${k}`)), `pil canvas ${k}`).to.equal(0);
      expect(mismatches(canvasFromCrops(img.pixels, 0, 1, 1, config), fx.u8(`base_u8_pil_${k}`)), `pil base ${k}`).to.equal(0);
    });
    // The two backends really differ (by +-1 on a few values), so each check above tests its own arithmetic.
    const tv = await imageProcessor(config).process(images.slice(0, 1));
    expect(Array.from(tv[0].pixels).some((v, i) => v !== out[0].pixels[i])).to.equal(true);
  });

  it('--image-aspect pad: one square tile of Ti tokens, padded with the mean colour', async () => {
    const [img] = await imageProcessor(config, { aspect: 'pad' }).process(images.slice(0, 1));
    expect(img.layout).to.equal(null);
    expect(img.tokens).to.equal(9);
    expect(img.pixels.length).to.equal(3 * S * S);
  });
});
