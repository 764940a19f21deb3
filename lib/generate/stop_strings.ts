// Stop strings are matched on decoded text, between native generation chunks (see
// native/model/generation.h for why): exact whatever the token boundaries, no JS call per token.

/** The earliest position in text where any stop string starts, or -1. */
export function findStop(text: string, stops: readonly string[]): number {
  let best = -1;
  for (const s of stops) {
    const at = text.indexOf(s);
    if (at >= 0 && (best < 0 || at < best)) best = at;
  }
  return best;
}

/**
 * The shortest prefix of ids whose decoded text contains a stop string (the token that completes
 * it included), searching lengths from `from` (tokens before it were already checked and held
 * none). Returns that length and the text cut before the stop string, or null when none is found.
 */
export function cutAtStop(
  ids: readonly number[],
  from: number,
  stops: readonly string[],
  decode: (ids: number[]) => string,
): { length: number; text: string } | null {
  if (stops.length === 0) return null;
  const full = decode([...ids]);
  if (findStop(full, stops) < 0) return null;
  for (let n = Math.max(1, from + 1); n <= ids.length; n++) {
    const text = n === ids.length ? full : decode(ids.slice(0, n));
    const at = findStop(text, stops);
    if (at >= 0) return { length: n, text: text.slice(0, at) };
  }
  return null; // unreachable: the full text holds a stop string
}
