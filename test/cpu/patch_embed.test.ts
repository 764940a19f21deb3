// The patch-embedding weight gradient against a plain float64 loop over its definition, on random
// inputs: dW[d, c, i, j] += sum_n sum_patches dout[n, patch, d] * img[n, c, py*p + i, px*p + j].
// Legend: N images, S image side, p patch side, P patches per image, D hidden.
import { expect } from 'chai';

import { makeRng } from '../helpers/rng.ts';
import { lab } from '../helpers/lab.ts';

function reference(dw0: Float32Array, dout: Float32Array, img: Float32Array, N: number, S: number, p: number, D: number): Float64Array {
  const g = S / p;
  const P = g * g;
  const out = Float64Array.from(dw0);
  for (let n = 0; n < N; n++) {
    for (let pi = 0; pi < P; pi++) {
      const py = Math.floor(pi / g);
      const px = pi % g;
      for (let d = 0; d < D; d++) {
        const go = dout[(n * P + pi) * D + d];
        for (let c = 0; c < 3; c++) {
          for (let i = 0; i < p; i++) {
            for (let j = 0; j < p; j++) out[((d * 3 + c) * p + i) * p + j] += go * img[((n * 3 + c) * S + py * p + i) * S + px * p + j];
          }
        }
      }
    }
  }
  return out;
}

describe('pretrainKernels.patchEmbedBackward (cpu)', () => {
  const rng = makeRng(31);
  for (const [N, S, p, D] of [[1, 28, 14, 16], [3, 42, 14, 33], [2, 30, 5, 7]]) {
    it(`N ${N}, S ${S}, p ${p}, D ${D}: accumulates dout^T @ patches into dweight`, async () => {
      const P = (S / p) ** 2;
      const dweight = rng.normalArray(D * 3 * p * p); // nonzero on entry: the kernel accumulates
      const dout = rng.normalArray(N * P * D);
      const img = rng.normalArray(N * 3 * S * S);
      const want = reference(dweight, dout, img, N, S, p, D);
      await lab().pretrainKernels.patchEmbedBackward({ dweight, dout, img, N, S, p, D });
      let worst = 0;
      for (let k = 0; k < want.length; k++) worst = Math.max(worst, Math.abs(dweight[k] - want[k]) / (1 + Math.abs(want[k])));
      // fp32 sums of N*P products of unit normals: a few ulps of sqrt(N*P).
      expect(worst).to.be.below(1e-5);
    });
  }

  it('refuses a dout of the wrong size, naming it', async () => {
    const args = { dweight: new Float32Array(16 * 3 * 14 * 14), dout: new Float32Array(5), img: new Float32Array(3 * 28 * 28), N: 1, S: 28, p: 14, D: 16 };
    expect(() => lab().pretrainKernels.patchEmbedBackward(args)).to.throw(RangeError, 'args.dout: expected 64 values but found 5');
  });
});
