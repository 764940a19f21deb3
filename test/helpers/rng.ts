// Seeded random numbers for tests (mulberry32 + Box-Muller): every test draws its inputs, never zeros.
export interface Rng {
  next(): number; // uniform [0, 1)
  uniform(lo: number, hi: number): number;
  normal(): number;
  int(lo: number, hiExclusive: number): number;
  normalArray(n: number, scale?: number): Float32Array;
}

export function makeRng(seed: number): Rng {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const normal = () => {
    const u = Math.max(next(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * next());
  };
  return {
    next,
    uniform: (lo, hi) => lo + (hi - lo) * next(),
    normal,
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo)),
    normalArray: (n, scale = 1) => Float32Array.from({ length: n }, () => normal() * scale),
  };
}
