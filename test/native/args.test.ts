// The one argument reader of every binding (native/addon/args.h), seen from JS: one refusal form,
// "Expected <what> for <where> but received <value>" with the value as JS prints it, and one rule
// for absent values, undefined and null alike, in the shipped addon and in the kernel lab.
import { expect } from 'chai';
import path from 'node:path';

import { openSafetensors, writeSafetensors } from '../../lib/model/safetensors.ts';
import { native } from '../../lib/native/index.ts';
import { lab } from '../helpers/lab.ts';
import { makeTempDir } from '../model/safetensors_util.ts';

const PAIR = { policyChosen: -1, policyRejected: -2, refChosen: -1.5, refRejected: -1.5, chosenTokens: 2 };
const LOSS = { loss: 'sigmoid', beta: 0.1, sftWeight: 0, sftNorm: 'sum' } as const;

describe('the one argument reader (native/addon/args.h)', () => {
  it('refuses a required value given as null as it refuses one left undefined, naming its path', () => {
    for (const absent of [undefined, null]) {
      expect(() => native().dpoLoss([PAIR], { ...LOSS, beta: absent as never })).to.throw(TypeError, `Expected a number for options.beta but received ${absent}`);
      expect(() => native().dpoLoss([{ ...PAIR, chosenTokens: absent as never }], LOSS)).to.throw(
        TypeError,
        `Expected an integer for pairs[0].chosenTokens but received ${absent}`,
      );
    }
  });

  it('names a refused number as JS prints it', () => {
    for (const beta of [Number.NaN, -1e21, Number.NEGATIVE_INFINITY]) {
      expect(() => native().dpoLoss([PAIR], { ...LOSS, beta }), String(beta)).to.throw(TypeError, `Expected a positive number for options.beta but received ${beta}`);
    }
    expect(() => native().dpoLoss([{ ...PAIR, chosenTokens: 10n as never }], LOSS)).to.not.throw();
  });

  it('takes an optional value given as null for absent, as undefined (shipped addon)', async () => {
    const { dir, cleanup } = makeTempDir();
    try {
      const file = path.join(dir, 'w.safetensors');
      await writeSafetensors(file, [{ name: 'w', dtype: 'F32', shape: [2], data: new Float32Array([1.5, -2]) }]);
      const entry = (await openSafetensors(file)).tensors.get('w');
      if (!entry) throw new Error('the tensor just written is missing');
      const read = async (outDtype: unknown) => Array.from(new Float32Array(await native().readTensorData(entry, outDtype as never)));
      expect(await read(null)).to.deep.equal([1.5, -2]);
      expect(await read(undefined)).to.deep.equal([1.5, -2]);
    } finally {
      cleanup();
    }
  });

  it('takes an optional value given as null for absent, as undefined (kernel lab)', async () => {
    // C = A (2x3) B (3x2); lda/ldb/ldc/alpha/beta absent take their defaults either way.
    const A = Float32Array.from([1, 2, 3, 4, 5, 6]);
    const B = Float32Array.from([1, 0, 0, 1, 1, 1]);
    const run = async (absent: unknown) => {
      const C = new Float32Array(4);
      await lab().kernels.sgemm({ M: 2, N: 2, K: 3, A, B, C, lda: absent, ldb: absent, ldc: absent, alpha: absent, beta: absent, transA: absent } as never);
      return Array.from(C);
    };
    expect(await run(null)).to.deep.equal([4, 5, 10, 11]);
    expect(await run(undefined)).to.deep.equal([4, 5, 10, 11]);
  });
});
