// dtype conversion against plain references: bf16 by bit arithmetic with round-to-nearest-even,
// f16 by exhaustive decoding of all 65536 patterns and nearest-value search for encoding.
import { expect } from 'chai';

import { native } from '../../lib/native/index.ts';
import { makeRng } from '../helpers/rng.ts';

function f16Decode(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 31) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

// Nearest f16 pattern to x (ties to the even mantissa), by scanning the sorted positive values.
function f16EncodeRef(x: number, positives: number[]): number {
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a >= 65520) return sign | 0x7c00; // rounds past the largest finite half
  let lo = 0;
  let hi = 0x7bff;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (positives[mid] <= a) lo = mid;
    else hi = mid;
  }
  const dLo = a - positives[lo];
  const dHi = positives[hi] - a;
  const pick = dLo < dHi ? lo : dHi < dLo ? hi : lo % 2 === 0 ? lo : hi;
  return sign | pick;
}

function bf16Ref(x: number): number {
  const bits = new Uint32Array(new Float32Array([x]).buffer)[0];
  const rounding = 0x7fff + ((bits >>> 16) & 1);
  return ((bits + rounding) >>> 16) & 0xffff;
}

describe('convertDType (cpu)', () => {
  const rng = makeRng(1234);
  const values = new Float32Array(10007);
  for (let i = 0; i < values.length; i++) values[i] = rng.normal() * 10 ** rng.uniform(-6, 4);

  it('bf16 -> f32 is exact and f32 -> bf16 rounds to nearest even', async () => {
    const bf = new Uint16Array(values.length);
    await native().convertDType(values, 'F32', bf, 'BF16');
    for (let i = 0; i < values.length; i++) expect(bf[i], `element ${i} (${values[i]})`).to.equal(bf16Ref(values[i]));
    const back = new Float32Array(values.length);
    await native().convertDType(bf, 'BF16', back, 'F32');
    const bits = new Uint32Array(back.buffer);
    for (let i = 0; i < values.length; i++) expect(bits[i]).to.equal(bf[i] << 16 >>> 0);
  });

  it('decodes all 65536 f16 patterns exactly', async () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const out = new Float32Array(65536);
    await native().convertDType(all, 'F16', out, 'F32');
    for (let h = 0; h < 65536; h++) {
      const ref = f16Decode(h);
      if (Number.isNaN(ref)) expect(Number.isNaN(out[h]), `pattern ${h}`).to.equal(true);
      else expect(out[h], `pattern ${h}`).to.equal(ref);
    }
  });

  it('encodes f32 -> f16 to the nearest half (ties to even), subnormals included', async () => {
    const positives = Array.from({ length: 0x7c00 }, (_, h) => f16Decode(h));
    const xs = new Float32Array(values.length);
    for (let i = 0; i < xs.length; i++) xs[i] = rng.normal() * 2 ** rng.uniform(-26, 17);
    const half = new Uint16Array(xs.length);
    await native().convertDType(xs, 'F32', half, 'F16');
    for (let i = 0; i < xs.length; i++) expect(half[i], `element ${i} (${xs[i]})`).to.equal(f16EncodeRef(xs[i], positives));
  });

  it('converts f64 <-> f32', async () => {
    const d = new Float64Array(values.length).map(() => rng.normal());
    const f = new Float32Array(d.length);
    await native().convertDType(d, 'F64', f, 'F32');
    for (let i = 0; i < d.length; i++) expect(f[i]).to.equal(Math.fround(d[i]));
  });

  it('refuses integer conversions and size mismatches with precise errors', async () => {
    let err: (Error & { code?: string }) | undefined;
    await native().convertDType(new Int32Array(4), 'I32', new Float32Array(4), 'F32').catch((e) => (err = e));
    expect(err?.message).to.equal('cannot convert I32 to F32 (only conversions between floating-point types are supported)');
    expect(err?.code).to.equal('STIC_UNSUPPORTED');
    expect(() => native().convertDType(new Float32Array(4), 'F32', new Uint16Array(3), 'BF16')).to.throw(
      RangeError,
      'dst has 6 bytes but 4 BF16 elements need 8',
    );
    expect(() => native().convertDType(new Float32Array(4), 'Q8' as 'F32', new Uint16Array(4), 'BF16')).to.throw(
      TypeError,
      'Expected a dtype name (F32, BF16, F16, F64, I32, I64, U8) for srcType but received a string "Q8"',
    );
  });
});
