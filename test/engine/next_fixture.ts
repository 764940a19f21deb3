// The LLaVA-NeXT reference fixture (test/fixtures/hf/llava-next-tiny-mistral, README there: made by
// a float64 port of transformers' code, validated against the transformers-made fixtures): its
// five images, their processor outputs, prompts and expected tensors, by name.
import { readFileSync } from 'node:fs';
import path from 'node:path';

import type { ModelImage } from '../../lib/data/model_image.ts';
import { hfFixtures } from './fixture_util.ts';
import { readAll } from '../model/trainer_util.ts';

export const NEXT_DIR = path.join(hfFixtures, 'llava-next-tiny-mistral');

export interface NextImageInfo {
  file: string;
  size_hw: [number, number];
  best_resolution_hw: [number, number];
  resized_hw: [number, number];
  pad_top_bottom_left_right: [number, number, number, number];
  num_crops_incl_base: number;
  crop_grid_hw: [number, number];
  num_image_tokens: number;
  unpadded_grid_hw: [number, number];
}

export interface NextFixture {
  json: {
    images: NextImageInfo[];
    image_grid_pinpoints_hw: [number, number][];
    items: { prompt: string; images: number[]; prompt_len: number; sum_logp_chosen_float64: number; sum_logp_rejected_float64: number }[];
    dpo: { label: { loss: number; 'per_pair[loss,pc,pr,rc,rr]': number[][] } };
  };
  inputs: Map<string, Float32Array | Float64Array | BigInt64Array | Uint8Array>;
  expected: Map<string, Float32Array | Float64Array | BigInt64Array | Uint8Array>;
  f32(name: string): Float32Array;
  ids(name: string): number[];
  u8(name: string): Uint8Array;
  /** Image k as the fixture's processor gave it (pixel_values_k) with the layout its geometry implies. */
  image(k: number): ModelImage;
}

export async function loadNextFixture(): Promise<NextFixture> {
  const json = JSON.parse(readFileSync(path.join(NEXT_DIR, 'expected.json'), 'utf8'));
  const inputs = (await readAll(path.join(NEXT_DIR, 'inputs.safetensors'))) as NextFixture['inputs'];
  const expected = (await readAll(path.join(NEXT_DIR, 'expected.safetensors'))) as NextFixture['expected'];
  const get = (name: string) => {
    const t = expected.get(name) ?? inputs.get(name);
    if (!t) throw new Error(`no ${name} in ${NEXT_DIR}`);
    return t;
  };
  const fx: NextFixture = {
    json,
    inputs,
    expected,
    f32: (name) => get(name) as Float32Array,
    ids: (name) => Array.from(get(name) as BigInt64Array, Number),
    u8: (name) => get(name) as Uint8Array,
    image(k) {
      const info = json.images[k] as NextImageInfo;
      const [rows, cols] = info.crop_grid_hw;
      const [h, w] = info.unpadded_grid_hw;
      const g = 3;
      // The fixture's unpadded grid is centred in the (rows*g) x (cols*g) map.
      const layout = { crops: info.num_crops_incl_base, gridRows: rows, gridCols: cols, keepRow0: (rows * g - h) / 2, keepRows: h, keepCol0: (cols * g - w) / 2, keepCols: w };
      return { pixels: fx.f32(`pixel_values_${k}`), layout, tokens: info.num_image_tokens };
    },
  };
  return fx;
}
