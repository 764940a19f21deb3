// The toy world's scenes: determinism per (seed, index), geometry that never overlaps and always
// matches the position word, the truth's invariants, coverage of the vocabulary, and option errors.
import { expect } from 'chai';

import { BACKGROUND_NAMES, COLOUR_NAMES, GRID, POSITIONS, SHAPE_KINDS, SIZES } from '../../lib/toy/vocab.ts';
import { CELL_MARGIN, LARGE_RADIUS, SMALL_RADIUS, type ToyScene, generateScene, generateScenes } from '../../lib/toy/world.ts';

const SCENES = generateScenes(11, 500);

describe('toy world: determinism', () => {
  it('draws the same scene for the same seed and index, however many came before', () => {
    const alone = generateScene(11, 321);
    expect(SCENES[321]).to.deep.equal(alone);
    expect(generateScenes(11, 5, 319)[2]).to.deep.equal(alone);
    expect(generateScene(11, 321)).to.deep.equal(alone);
  });

  it('draws different scenes for different seeds and indices', () => {
    const other = generateScenes(12, 50);
    const same = other.filter((s, i) => JSON.stringify(s.shapes) === JSON.stringify(SCENES[i].shapes)).length;
    expect(same).to.equal(0);
    const distinct = new Set(SCENES.map((s) => JSON.stringify(s.shapes)));
    expect(distinct.size).to.equal(SCENES.length);
  });

  it('names scenes by seed and index', () => {
    expect(SCENES[7].id).to.equal('toy-11-7');
    expect(SCENES[7].seed).to.equal(11);
    expect(SCENES[7].index).to.equal(7);
  });
});

describe('toy world: geometry and truth', () => {
  const cell = 1 / GRID;

  it('keeps 1-6 shapes, one per cell, in reading order', () => {
    for (const s of SCENES) {
      expect(s.shapes.length).to.be.within(1, 6);
      const cells = s.shapes.map((x) => x.row * GRID + x.col);
      expect(cells).to.deep.equal([...new Set(cells)].sort((a, b) => a - b));
    }
  });

  it('places every bounding circle inside its own cell, with the margin, so none overlap', () => {
    for (const s of SCENES) {
      for (const x of s.shapes) {
        expect(x.radius).to.be.oneOf([LARGE_RADIUS, SMALL_RADIUS]);
        expect(x.radius).to.equal(x.size === 'large' ? LARGE_RADIUS : SMALL_RADIUS);
        expect(x.cx - x.radius).to.be.at.least(x.col * cell + CELL_MARGIN - 1e-12);
        expect(x.cx + x.radius).to.be.at.most((x.col + 1) * cell - CELL_MARGIN + 1e-12);
        expect(x.cy - x.radius).to.be.at.least(x.row * cell + CELL_MARGIN - 1e-12);
        expect(x.cy + x.radius).to.be.at.most((x.row + 1) * cell - CELL_MARGIN + 1e-12);
      }
      for (let i = 0; i < s.shapes.length; i++) {
        for (let j = i + 1; j < s.shapes.length; j++) {
          const a = s.shapes[i];
          const b = s.shapes[j];
          expect(Math.hypot(a.cx - b.cx, a.cy - b.cy)).to.be.greaterThan(a.radius + b.radius + 2 * CELL_MARGIN - 1e-12);
        }
      }
    }
  });

  it('gives each shape the position word of the cell its centre lies in', () => {
    for (const s of SCENES) {
      for (const x of s.shapes) {
        expect(x.position).to.equal(POSITIONS[Math.floor(x.cy * GRID) * GRID + Math.floor(x.cx * GRID)]);
      }
    }
  });

  it('never colours a shape like its background and never repeats a (kind, colour) pair', () => {
    for (const s of SCENES) {
      const pairs = s.shapes.map((x) => `${x.colour} ${x.kind}`);
      expect(new Set(pairs).size).to.equal(pairs.length);
      for (const x of s.shapes) expect(x.colour).to.not.equal(s.background);
    }
  });

  it('uses the whole vocabulary: every kind, colour, size, position, background and count occurs', () => {
    const seen = (f: (s: ToyScene) => string[]) => new Set(SCENES.flatMap(f));
    expect([...seen((s) => s.shapes.map((x) => x.kind))].sort()).to.deep.equal([...SHAPE_KINDS].sort());
    expect([...seen((s) => s.shapes.map((x) => x.colour))].sort()).to.deep.equal([...COLOUR_NAMES].sort());
    expect([...seen((s) => s.shapes.map((x) => x.size))].sort()).to.deep.equal([...SIZES].sort());
    expect([...seen((s) => s.shapes.map((x) => x.position))].sort()).to.deep.equal([...POSITIONS].sort());
    expect([...seen((s) => [s.background])].sort()).to.deep.equal([...BACKGROUND_NAMES].sort());
    expect([...seen((s) => [String(s.shapes.length)])].sort()).to.deep.equal(['1', '2', '3', '4', '5', '6']);
  });

  it('draws shape counts roughly uniformly (each of 1-6 within 10-24% of 500 scenes)', () => {
    for (let n = 1; n <= 6; n++) {
      const share = SCENES.filter((s) => s.shapes.length === n).length / SCENES.length;
      expect(share, `count ${n}`).to.be.within(0.1, 0.24);
    }
  });
});

describe('toy world: options and errors', () => {
  it('honours minShapes and maxShapes', () => {
    for (const s of generateScenes(3, 60, 0, { minShapes: 2, maxShapes: 3 })) expect(s.shapes.length).to.be.within(2, 3);
    for (const s of generateScenes(3, 20, 0, { minShapes: 6, maxShapes: 6 })) expect(s.shapes.length).to.equal(6);
  });

  it('rejects bad seeds, indices, counts and ranges with exact messages', () => {
    expect(() => generateScene(-1, 0)).to.throw(RangeError, 'Expected a non-negative integer for the seed but received -1');
    expect(() => generateScene(1.5, 0)).to.throw(RangeError, 'Expected a non-negative integer for the seed but received 1.5');
    expect(() => generateScene(0, Number.NaN)).to.throw(RangeError, 'Expected a non-negative integer for the scene index but received NaN');
    expect(() => generateScenes(0, -2)).to.throw(RangeError, 'Expected a non-negative integer for the scene count but received -2');
    expect(() => generateScenes(0, 2, -1)).to.throw(RangeError, 'Expected a non-negative integer for the first scene index but received -1');
    expect(() => generateScene(0, 0, { maxShapes: 7 })).to.throw(RangeError, 'Expected an integer in [1, 6] for maxShapes but received 7');
    expect(() => generateScene(0, 0, { minShapes: 0 })).to.throw(RangeError, 'Expected an integer in [1, 6] for minShapes but received 0');
    expect(() => generateScene(0, 0, { minShapes: 4, maxShapes: 2 })).to.throw(
      RangeError,
      'Expected minShapes <= maxShapes but received minShapes 4 and maxShapes 2',
    );
  });
});
