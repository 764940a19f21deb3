// Weights held in the checkpoint's dtype (issue 18): BF16 and F16 copies of the fixture models,
// made here from the F32 checkpoints, run with their matrices kept as stored (GEMMs widen them to
// F32 as they read). Checked against (a) an F32 checkpoint holding the same rounded values (the
// same numbers in F32: logits within 1e-5, greedy tokens identical) and (b) the original F32
// fixture's transformers reference (within the rounding error of the dtype). --dtype fp32 on the
// BF16 copy widens the matrices at load and gives the rounded-F32 model's logits.
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { type LlavaModel, loadModel } from '../../lib/engine/index.ts';
import { type Fixture, loadFixture, relError, roundedCopy } from './fixture_util.ts';
import { lab } from '../helpers/lab.ts';

// Stored BF16/F16 vs the same values in F32: only the summation order may differ (measured on
// AVX-512 here: bit-identical).
const SAME_VALUES_TOL = 1e-5;
// Rounding every weight to the dtype moves the logits of these tiny random models this much relative
// to the F32 reference (measured: BF16 0.008-0.015, F16 0.0009-0.0021); the bounds leave 2-3x room.
const ROUNDED_TOL = { BF16: 5e-2, F16: 5e-3 } as const;

function logitSequences(fx: Fixture) {
  return fx.items.flatMap((it, i) => [
    { ids: it.chosen, image: fx.images[i], key: `logits_chosen_${i}` },
    { ids: it.rejected, image: fx.images[i], key: `logits_rejected_${i}` },
  ]);
}

for (const name of ['llava-tiny-llama', 'llava-tiny-mistral-gqa'] as const) {
  for (const half of ['BF16', 'F16'] as const) {
    describe(`engine: ${half} weights held as stored (${name})`, () => {
      let root: string;
      let fx: Fixture;
      let stored: LlavaModel;
      let rounded: LlavaModel;
      before(async () => {
        root = mkdtempSync(path.join(tmpdir(), 'stic-dtype-'));
        fx = await loadFixture(name);
        await roundedCopy(fx.dir, path.join(root, 'stored'), half, true);
        await roundedCopy(fx.dir, path.join(root, 'rounded-f32'), half, false);
        stored = await loadModel(path.join(root, 'stored'));
        rounded = await loadModel(path.join(root, 'rounded-f32'));
      });
      after(() => rmSync(root, { recursive: true, force: true }));

      it(`holds the matrices as ${half}, mapped from the file, in about half the F32 bytes`, () => {
        const m = stored.memory();
        expect(m.weightDType).to.equal(half);
        expect(m.mappedWeightBytes).to.be.above(0);
        const f32 = rounded.memory();
        expect(f32.weightDType).to.equal('F32');
        // The projector, norms, biases and the CLIP position table stay F32; every other matrix halves.
        expect(m.weightBytes).to.be.below(0.75 * f32.weightBytes);
      });

      it('gives the logits of the same rounded values held in F32, and near the F32 reference', async () => {
        const seqs = logitSequences(fx);
        const [a, b] = [await stored.fullLogits(seqs), await rounded.fullLogits(seqs)];
        seqs.forEach((s, j) => {
          expect(relError(a[j], b[j]), `${s.key} vs rounded F32`).to.be.below(SAME_VALUES_TOL);
          expect(relError(a[j], fx.expectedF32(s.key)), `${s.key} vs the F32 reference`).to.be.below(ROUNDED_TOL[half]);
        });
      });

      it('gives those logits with every GEMM register-tile set this CPU runs (scalar, AVX2, AVX-512)', async () => {
        const seqs = logitSequences(fx).slice(0, 2);
        try {
          for (const tiles of lab().kernels.gemmKernelsSupported()) {
            lab().kernels.gemmKernels(tiles);
            const [a, b] = [await stored.fullLogits(seqs), await rounded.fullLogits(seqs)];
            seqs.forEach((s, j) => expect(relError(a[j], b[j]), `${tiles}: ${s.key}`).to.be.below(SAME_VALUES_TOL));
          }
        } finally {
          lab().kernels.gemmKernels('');
        }
      });

      it('generates the greedy tokens of the rounded F32 model, and log-probs within 1e-4 of it', async () => {
        const requests = fx.items.map((it, i) => ({ ids: it.prompt, image: fx.images[i] }));
        const [a, b] = [await stored.generate(requests, { maxNewTokens: 8 }), await rounded.generate(requests, { maxNewTokens: 8 })];
        a.forEach((r, i) => expect(r.ids, `item ${i}`).to.deep.equal(b[i].ids));
        const items = fx.items.map((it, i) => ({ promptIds: it.prompt, responseIds: it.chosen.slice(it.prompt.length), image: fx.images[i] }));
        const [la, lb] = [await stored.logprobs(items), await rounded.logprobs(items)];
        la.forEach((r, i) => expect(Math.abs(r.sum - lb[i].sum), `item ${i}`).to.be.below(1e-4));
      });

      it('--dtype fp32 widens every matrix at load and gives the same logits', async () => {
        const widened = await loadModel(path.join(root, 'stored'), { dtype: 'fp32' });
        const m = widened.memory();
        expect(m.weightDType).to.equal('F32');
        expect(m.mappedWeightBytes).to.equal(0);
        const seqs = logitSequences(fx);
        const [a, b] = [await widened.fullLogits(seqs), await rounded.fullLogits(seqs)];
        seqs.forEach((s, j) => expect(relError(a[j], b[j]), s.key).to.be.below(SAME_VALUES_TOL));
      });
    });
  }
}

describe('engine: the dtype option', () => {
  it('refuses a dtype that is not stored or fp32, naming the option', async () => {
    const fx = await loadFixture('llava-tiny-llama');
    let err: unknown;
    try {
      await loadModel(fx.dir, { dtype: 'fp16' as never });
    } catch (e) {
      err = e;
    }
    expect(String(err)).to.match(/options\.dtype/).and.match(/stored, fp32/);
  });
});
