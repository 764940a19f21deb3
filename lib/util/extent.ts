// Smallest and largest of a long series without spreading it into Math.min/Math.max (a spread of a
// few hundred thousand values overflows the call stack: a long training run's metrics do).

/** [min, max] of `xs`, or `empty` when there are none. */
export function extent(xs: readonly number[], empty: [number, number]): [number, number] {
  if (xs.length === 0) return empty;
  let lo = xs[0];
  let hi = xs[0];
  for (const x of xs) {
    if (x < lo) lo = x;
    if (x > hi) hi = x;
  }
  return [lo, hi];
}
