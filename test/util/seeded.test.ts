// Keyed generators: same key, same stream; different keys, unrelated streams; uniform draws.
import { expect } from 'chai';

import { seededRandom } from '../../lib/util/seeded.ts';

describe('seededRandom', () => {
  it('is a pure function of its key parts (and their types)', () => {
    const a = seededRandom(42, 'pref', 'img1');
    const b = seededRandom(42, 'pref', 'img1');
    const xs = Array.from({ length: 20 }, () => a.next());
    expect(Array.from({ length: 20 }, () => b.next())).to.deep.equal(xs);
    expect(seededRandom(42, 'pref', 'img2').next()).to.not.equal(xs[0]);
    expect(seededRandom(43, 'pref', 'img1').next()).to.not.equal(xs[0]);
    expect(seededRandom('42', 'pref', 'img1').next()).to.not.equal(xs[0]); // "42" is not 42
  });

  it('draws are uniform: mean, variance and bucket counts of 40k draws', () => {
    const r = seededRandom(7, 'uniformity');
    const n = 40000;
    const buckets = new Array(10).fill(0);
    let sum = 0;
    let sq = 0;
    for (let i = 0; i < n; i++) {
      const x = r.next();
      expect(x).to.be.at.least(0).and.below(1);
      sum += x;
      sq += x * x;
      buckets[Math.floor(x * 10)]++;
    }
    expect(Math.abs(sum / n - 0.5)).to.be.below(0.01);
    expect(Math.abs(sq / n - sum ** 2 / n ** 2 - 1 / 12)).to.be.below(0.005);
    const chi2 = buckets.reduce((acc, c) => acc + (c - n / 10) ** 2 / (n / 10), 0);
    expect(chi2).to.be.below(27.9); // p = 0.001 for 9 degrees of freedom
  });

  it('int, uniform and u32 stay in range', () => {
    const r = seededRandom(1, 'ranges');
    const seen = new Set<number>();
    for (let i = 0; i < 2000; i++) {
      const k = r.int(8);
      expect(Number.isInteger(k) && k >= 0 && k < 8).to.equal(true);
      seen.add(k);
      const u = r.uniform(-0.3, 0.3);
      expect(u).to.be.at.least(-0.3).and.below(0.3);
      const w = r.u32();
      expect(Number.isInteger(w) && w >= 0 && w < 2 ** 32).to.equal(true);
    }
    expect(seen.size).to.equal(8);
  });
});
