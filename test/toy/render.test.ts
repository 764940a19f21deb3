// Rendering: the PNG decodes to the requested size, every shape's colour is found at its centre
// and everywhere well inside its inscribed disc, and the background everywhere well outside every
// bounding circle — checked pixel by pixel against the truth's geometry.
import { expect } from 'chai';
import sharp from 'sharp';

import { TOY_IMAGE_SIZE, renderScenePng, sceneToSvg } from '../../lib/toy/render.ts';
import { BACKGROUNDS, SHAPE_COLOURS, type ShapeKind } from '../../lib/toy/vocab.ts';
import { type ToyScene, generateScenes } from '../../lib/toy/world.ts';

/** Radius of the disc each outline contains, relative to the bounding radius (render.ts's geometry). */
const INSCRIBED: Record<ShapeKind, number> = {
  circle: 1,
  square: Math.SQRT1_2,
  triangle: 0.5,
  hexagon: Math.cos(Math.PI / 6),
  star: 0.45 * Math.cos(Math.PI / 5),
  cross: 0.3,
};
/** Pixels this close to an outline may be anti-aliased; the rest must be exact. */
const EDGE = 1.0;

async function decode(png: Buffer): Promise<{ data: Buffer; width: number; height: number; channels: number }> {
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels };
}

async function checkScene(scene: ToyScene, size: number): Promise<{ inside: number; outside: number }> {
  const img = await decode(await renderScenePng(scene, size));
  expect([img.width, img.height, img.channels]).to.deep.equal([size, size, 3]);
  const at = (x: number, y: number): number[] => [...img.data.subarray((y * size + x) * 3, (y * size + x) * 3 + 3)];
  for (const s of scene.shapes) {
    expect(at(Math.floor(s.cx * size), Math.floor(s.cy * size)), `${scene.id} centre of the ${s.colour} ${s.kind}`).to.deep.equal([...SHAPE_COLOURS[s.colour]]);
  }
  let inside = 0;
  let outside = 0;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const px = (x + 0.5) / size;
      const py = (y + 0.5) / size;
      const dists = scene.shapes.map((s) => Math.hypot(px - s.cx, py - s.cy) * size);
      const k = scene.shapes.findIndex((s, i) => dists[i] < INSCRIBED[s.kind] * s.radius * size - EDGE);
      if (k >= 0) {
        expect(at(x, y), `${scene.id} pixel (${x}, ${y}) inside the ${scene.shapes[k].kind}`).to.deep.equal([...SHAPE_COLOURS[scene.shapes[k].colour]]);
        inside++;
      } else if (scene.shapes.every((s, i) => dists[i] > s.radius * size + EDGE)) {
        expect(at(x, y), `${scene.id} background pixel (${x}, ${y})`).to.deep.equal([...BACKGROUNDS[scene.background]]);
        outside++;
      }
    }
  }
  return { inside, outside };
}

describe('toy world: rendering', () => {
  it(`renders ${TOY_IMAGE_SIZE} px scenes whose pixels match the truth`, async () => {
    let inside = 0;
    let outside = 0;
    for (const scene of generateScenes(21, 30)) {
      const n = await checkScene(scene, TOY_IMAGE_SIZE);
      inside += n.inside;
      outside += n.outside;
    }
    // Both kinds of pixel were actually checked, in quantity.
    expect(inside).to.be.greaterThan(30 * 100);
    expect(outside).to.be.greaterThan(30 * 2000);
  });

  it('renders the same scenes at 56 and 200 px', async () => {
    for (const scene of generateScenes(22, 8)) await checkScene(scene, 56);
    for (const scene of generateScenes(23, 3)) await checkScene(scene, 200);
  });

  it('is deterministic: the same scene gives the same bytes', async () => {
    const [scene] = generateScenes(24, 1);
    expect((await renderScenePng(scene)).equals(await renderScenePng(scene))).to.equal(true);
  });

  it('draws each shape as one SVG element after the background', () => {
    const [scene] = generateScenes(25, 1, 0, { minShapes: 5, maxShapes: 5 });
    const svg = sceneToSvg(scene, 100);
    expect(svg.match(/<(circle|rect|polygon) /g)?.length).to.equal(1 + 5);
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100" viewBox="0 0 100 100">')).to.equal(true);
  });

  it('rejects a bad image size with the exact message', async () => {
    const [scene] = generateScenes(26, 1);
    expect(() => sceneToSvg(scene, 8)).to.throw(RangeError, 'Expected an integer image size in [16, 4096] pixels but received 8');
    let message = '';
    await renderScenePng(scene, 84.5).catch((e: Error) => (message = e.message));
    expect(message).to.equal('Expected an integer image size in [16, 4096] pixels but received 84.5');
  });
});
