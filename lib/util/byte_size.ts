// Sizes as users write them for transformers' save_pretrained(max_shard_size=...): a number of bytes,
// or a number with a unit, decimal (KB, MB, GB, TB: powers of 1000) or binary (KiB, MiB, GiB, TiB:
// powers of 1024), case-insensitive, e.g. "5GB", "500MB", "1.5GiB", "4000000".
const UNITS: Record<string, number> = {
  '': 1, b: 1, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12, kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30, tib: 2 ** 40,
};

/** Bytes of `text`; throws naming `what` and the accepted forms when it is not a positive size. */
export function parseByteSize(text: string, what: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = m ? UNITS[m[2].toLowerCase()] : undefined;
  const bytes = m && unit !== undefined ? Math.floor(Number(m[1]) * unit) : NaN;
  if (!(bytes >= 1)) throw new Error(`${what}: expected a size such as 5GB, 500MB, 1.5GiB or a number of bytes but received "${text}"`);
  return bytes;
}
