// Edit distance, and the nearest of a list of names to a mistyped one (for "did you mean" hints).

/** Levenshtein distance over code points (insert, delete, substitute: 1 each). */
export function levenshtein(a: string, b: string): number {
  const x = Array.from(a);
  const y = Array.from(b);
  let prev = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const cur = [i];
    for (let j = 1; j <= y.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x[i - 1] === y[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[y.length];
}

/**
 * The candidate closest to `name`, compared without case, "-" or "_" (so batchSize and batch_size
 * find batch-size); the first of equals wins. Undefined when there are no candidates.
 */
export function nearestName(name: string, candidates: readonly string[]): string | undefined {
  const plain = (s: string) => s.toLowerCase().replace(/[-_]/g, '');
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = levenshtein(plain(name), plain(c));
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  return best;
}
