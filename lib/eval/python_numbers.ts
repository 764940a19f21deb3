// Python's number conversions, as the official scoring scripts (written in Python) apply them to
// answer strings: float("12.5%") fails, float(" 1_000 ") is 1000, int("3.0") fails, round(2.675, 2)
// is 2.67 and str(2.0) is "2.0". A score that depends on these must follow them exactly.

const DIGITS = '\\d(?:_?\\d)*';
const FLOAT_RE = new RegExp(`^[+-]?(?:(?:(?:${DIGITS})(?:\\.(?:${DIGITS})?)?|\\.${DIGITS})(?:[eE][+-]?${DIGITS})?|inf(?:inity)?|nan)$`, 'i');
const INT_RE = new RegExp(`^[+-]?${DIGITS}$`);

// Python's str.strip() with no argument strips Unicode whitespace; JS trim() is the same set for text.
const strip = (s: string): string => s.trim();

/** Python float(text), or null where Python raises ValueError. */
export function pyFloat(text: string): number | null {
  const s = strip(text);
  if (!FLOAT_RE.test(s)) return null;
  const t = s.replaceAll('_', '').toLowerCase();
  const sign = t.startsWith('-') ? -1 : 1;
  const body = t.replace(/^[+-]/, '');
  if (body === 'inf' || body === 'infinity') return sign * Infinity;
  if (body === 'nan') return NaN;
  return Number(t);
}

/** Python int(text) of a string (base 10), or null where Python raises ValueError. */
export function pyInt(text: string): number | null {
  const s = strip(text);
  return INT_RE.test(s) ? Number(s.replaceAll('_', '')) : null;
}

/** Python int(x) of a float: truncation; null where Python raises (inf, nan). */
export function pyTrunc(x: number): number | null {
  return Number.isFinite(x) ? Math.trunc(x) : null;
}

/** Python str(x) / repr(x) of a float. */
export function pyFloatStr(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const a = Math.abs(x);
  if (a >= 1e-4 && a < 1e16) {
    const s = String(x);
    return s.includes('.') ? s : `${s}.0`;
  }
  const [mant, exp] = x.toExponential().split('e');
  const e = Number(exp);
  return `${mant}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
}

/** Python str(int) for a float holding an integer. */
export function pyIntStr(x: number): string {
  return Object.is(x, -0) ? '0' : BigInt(x).toString();
}

/**
 * Python round(x, ndigits) for ndigits >= 0: the exact binary value rounded to ndigits decimals,
 * ties (only exact binary ties, e.g. 0.125) to even.
 */
export function pyRound(x: number, ndigits: number): number {
  if (!Number.isFinite(x) || Math.abs(x) >= 1e21) return x;
  const exact = Math.abs(x).toFixed(100); // the exact decimal expansion of the double (up to 100 places)
  const [int, frac] = exact.split('.');
  const rest = frac.slice(ndigits).replace(/0+$/, '');
  if (rest !== '5') return Number(x.toFixed(ndigits));
  const kept = `${int}${frac.slice(0, ndigits)}`;
  const lastDigit = Number(kept[kept.length - 1]);
  const truncated = Number(`${int}.${frac.slice(0, ndigits) || '0'}`);
  const magnitude = lastDigit % 2 === 0 ? truncated : Number((truncated + 10 ** -ndigits).toFixed(ndigits));
  return x < 0 ? -magnitude : magnitude;
}
