// Deterministic randomness keyed by (seed, name): every per-record choice of the pipeline (which
// dispreferred branch, which prompt, the corruption's seed, the sampling seed) is drawn from a
// generator keyed by the run seed and the record id, never from one stream shared across records.
// So a record's choices do not depend on input order, batch size, or how many records a killed run
// had already written: a resumed run draws exactly what an uninterrupted one would have.
import { createHash } from 'node:crypto';

/** The one default seed of every command and API that takes one (pipeline stages, training, sampling, corruption). */
export const DEFAULT_SEED = 42;

/** A seeded generator of uniform draws. */
export interface SeededRandom {
  /** Uniform in [0, 1) with 53 random bits. */
  next(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number;
  /** A uniform unsigned 32-bit integer (for seeds handed to native code). */
  u32(): number;
}

/**
 * A generator keyed by `parts` (e.g. the run seed, a stream name, a record id). The key is hashed
 * with SHA-256 so nearby seeds or ids give unrelated streams; the stream is xoshiro128** over the
 * first 16 bytes of the hash (Blackman and Vigna, "Scrambled linear pseudorandom number generators").
 */
export function seededRandom(...parts: (string | number)[]): SeededRandom {
  const key = createHash('sha256').update(parts.map((p) => `${typeof p}:${p}`).join('\u0000')).digest();
  const s = new Uint32Array([key.readUInt32LE(0), key.readUInt32LE(4), key.readUInt32LE(8), key.readUInt32LE(12)]);
  if (s[0] === 0 && s[1] === 0 && s[2] === 0 && s[3] === 0) s[0] = 1; // the all-zero state is a fixed point
  const u32 = (): number => {
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  };
  const next = (): number => ((u32() >>> 5) * 67108864 + (u32() >>> 6)) / 9007199254740992;
  return {
    next,
    u32,
    int: (n) => Math.floor(next() * n),
    uniform: (lo, hi) => lo + (hi - lo) * next(),
  };
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
