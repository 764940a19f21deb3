// Seeded mutations for the parser fuzz tests: a valid input changed in the ways the bad-input
// campaign of issue 20 found in the wild (a field dropped, retyped, replaced by a deep or huge
// value; bytes flipped, cut or inserted). Every draw comes from one seed, so a failure names the
// seed and case that reproduce it.
import type { Rng } from './rng.ts';

/** A JSON value unlike the one it replaces: wrong types, extremes, empty and nested shapes. */
export function junkValue(rng: Rng): unknown {
  const pick = rng.int(0, 16);
  switch (pick) {
    case 0: return null;
    case 1: return rng.next() < 0.5;
    case 2: return 0;
    case 3: return -1;
    case 4: return rng.int(-1e6, 1e6) / (rng.next() < 0.5 ? 1 : 7);
    case 5: return [1e308, -1e308, 2 ** 53 + 2, 2 ** 31, -(2 ** 31) - 1, 1e-320][rng.int(0, 6)];
    case 6: return '';
    case 7: return 'x'.repeat(rng.int(1, 5000));
    case 8: return ['<image>', '\u0000', '\uFFFF\uD800', '../../etc/passwd', '__proto__', 'NaN'][rng.int(0, 6)];
    case 9: return [];
    case 10: return {};
    case 11: return [junkValue(rng)];
    case 12: return { id: junkValue(rng) };
    case 13: return Array.from({ length: rng.int(2, 6) }, () => rng.int(0, 100));
    case 14: {
      let v: unknown = 1;
      for (let i = rng.int(10, 200); i > 0; i--) v = [v];
      return v;
    }
    default: return { __proto__: { polluted: true }, constructor: 'x' };
  }
}

/** Every path (list of keys) to a value inside `v`, the root included. */
function paths(v: unknown, at: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(at);
  if (Array.isArray(v)) v.forEach((x, i) => paths(x, [...at, i], out));
  else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) paths(x, [...at, k], out);
  return out;
}

/** A deep copy of `value` with 1..3 random edits: a value replaced, a key deleted or a key added. */
export function mutateJson(value: unknown, rng: Rng): unknown {
  let root = structuredClone(value);
  for (let n = rng.int(1, 4); n > 0; n--) {
    const all = paths(root);
    const at = all[rng.int(0, all.length)];
    if (at.length === 0) {
      root = junkValue(rng);
      continue;
    }
    const parent = at.slice(0, -1).reduce<any>((o, k) => o[k], root);
    const key = at[at.length - 1];
    const op = rng.int(0, 3);
    if (op === 0 && !Array.isArray(parent)) delete parent[key];
    else if (op === 1 && !Array.isArray(parent)) parent[`extra_${rng.int(0, 100)}`] = junkValue(rng);
    else parent[key] = junkValue(rng);
  }
  return root;
}

/** `text` with 1..4 byte-level edits: a byte flipped, a span cut, random bytes inserted, or the tail cut. */
export function mutateBytes(bytes: Uint8Array, rng: Rng): Uint8Array {
  let b = Buffer.from(bytes);
  for (let n = rng.int(1, 5); n > 0; n--) {
    const at = rng.int(0, Math.max(1, b.length));
    switch (rng.int(0, 4)) {
      case 0:
        if (b.length) b[at] = rng.int(0, 256);
        break;
      case 1:
        b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + rng.int(1, 64)))]);
        break;
      case 2:
        b = Buffer.concat([b.subarray(0, at), Buffer.from(Array.from({ length: rng.int(1, 16) }, () => rng.int(0, 256))), b.subarray(at)]);
        break;
      default:
        b = b.subarray(0, at);
    }
  }
  return b;
}

/**
 * Runs `fn`; an error passes when `isOurs` accepts it (a project error naming the input), anything
 * else (a TypeError from inside a parser, a stack overflow) fails the test with the case that made it.
 */
export async function expectCleanOutcome(label: string, fn: () => unknown, isOurs: (err: Error) => boolean): Promise<'ok' | 'refused'> {
  try {
    await fn();
    return 'ok';
  } catch (err) {
    const e = err as Error;
    if (e instanceof Error && isOurs(e)) return 'refused';
    throw new Error(`${label}: not a clear project error: ${e?.name}: ${String(e?.message).slice(0, 300)}\n${e?.stack?.split('\n').slice(1, 4).join('\n')}`);
  }
}
