// Request batching helpers and stop-string cutting, against hand-worked cases.
import { expect } from 'chai';

import { batchRanges, packImages } from '../../lib/generate/batching.ts';
import { cutAtStop, findStop } from '../../lib/generate/stop_strings.ts';
import { makeRng } from '../helpers/rng.ts';

describe('generation batching', () => {
  it('splits requests into consecutive batches', () => {
    expect(batchRanges(7, 3)).to.deep.equal([[0, 3], [3, 6], [6, 7]]);
    expect(batchRanges(3, 8)).to.deep.equal([[0, 3]]);
    expect(batchRanges(0, 4)).to.deep.equal([]);
  });

  it('packs each distinct image once, in order of first use', () => {
    const rng = makeRng(3);
    const a = rng.normalArray(6);
    const b = rng.normalArray(6);
    const same = Float32Array.from(a); // equal values, another array: a separate image
    const tile = (pixels: Float32Array) => ({ pixels, layout: null, tokens: 4 });
    const grid = { crops: 2, gridRows: 1, gridCols: 1, keepRow0: 0, keepRows: 2, keepCol0: 0, keepCols: 1 };
    const c = { pixels: rng.normalArray(12), layout: grid, tokens: 8 }; // two crops
    const packed = packImages([tile(b), null, tile(a), tile(b), c, tile(same), tile(a)]);
    expect(packed.layouts.map((l) => l.crops)).to.deep.equal([1, 1, 2, 1]);
    expect(packed.layouts[2]).to.deep.equal(grid);
    expect(packed.index).to.deep.equal([0, null, 1, 0, 2, 3, 1]);
    expect(Array.from(packed.pixels)).to.deep.equal([...b, ...a, ...c.pixels, ...same]);
  });
});

describe('stop strings', () => {
  const decode = (ids: number[]) => ids.map((i) => 'abcdefghij'[i % 10]).join('');

  it('finds the earliest of several stop strings', () => {
    expect(findStop('xxENDyySTOP', ['STOP', 'END'])).to.equal(2);
    expect(findStop('nothing here', ['STOP'])).to.equal(-1);
  });

  it('cuts after the token that completes the stop string, searching from the new tokens', () => {
    // ids decode to "abcdefg"; "cde" is completed by the token at index 4.
    expect(cutAtStop([0, 1, 2, 3, 4, 5, 6], 3, ['cde'], decode)).to.deep.equal({ length: 5, text: 'ab' });
    expect(cutAtStop([0, 1, 2, 3], 0, ['zz'], decode)).to.equal(null);
    expect(cutAtStop([0, 1, 2], 0, [], decode)).to.equal(null);
    // A stop string at the very start leaves no text.
    expect(cutAtStop([7, 8, 9], 0, ['h'], decode)).to.deep.equal({ length: 1, text: '' });
  });
});
