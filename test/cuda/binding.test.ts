// The cuda.* binding itself: present exactly when the addon has the CUDA backend, eager argument
// checks with exact messages (thrown on the JS thread before any device work, so these run on any
// CUDA build, with or without a GPU), and device-side refusals reaching JS as rejections that name
// the operation.
import { expect } from 'chai';

import { native } from '../../lib/native/index.ts';
import { cudaUnavailableReason } from './helpers.ts';
import { lab, type CudaKernels } from '../helpers/lab.ts';

function hasDevice(): boolean {
  return cudaUnavailableReason() === null;
}

describe('cuda binding: presence', () => {
  it('exports `cuda` exactly when buildInfo() says the CUDA backend is built in', () => {
    const info = native().buildInfo();
    expect(lab().cuda !== undefined, 'cuda exported').to.equal(info.cuda);
    expect(info.backends.includes('cuda')).to.equal(info.cuda);
  });
});

describe('cuda binding: argument checks', function () {
  let cuda: CudaKernels;
  before(function () {
    if (!lab().cuda) {
      console.log('      skipped: the addon was built without the CUDA backend (no `cuda` export to check)');
      this.skip();
    }
    cuda = lab().cuda as CudaKernels;
  });

  it('names an array that is too short, with the sizes that needed more', () => {
    const f = (n: number) => new Float32Array(n);
    expect(() => cuda.rmsnorm({ out: f(5), inp: f(6), weight: f(3), T: 2, C: 3, eps: 1e-5 }))
      .to.throw(RangeError, 'cuda.rmsnorm.out holds 5 elements but T=2, C=3 need 6');
  });

  it('refuses an unknown storage type and an unknown GEMM implementation', () => {
    const f = (n: number) => new Float32Array(n);
    // @ts-expect-error F16 is not a storage type of the CUDA kernels
    expect(() => cuda.silu({ out: f(4), inp: f(4), n: 4, dtype: 'F16' }))
      .to.throw(TypeError, `Expected 'F32' or 'BF16' for cuda.silu.dtype but received a string "F16"`);
    // @ts-expect-error 'cutlass' is not an implementation
    expect(() => cuda.gemm({ M: 2, N: 2, K: 2, A: f(4), B: f(4), C: f(4), impl: 'cutlass' }))
      .to.throw(TypeError, `Expected 'cublaslt' or 'reference' for cuda.gemm.impl but received a string "cutlass"`);
  });

  it('checks variable-length offsets on the host (the kernels read them on the device)', () => {
    const f = (n: number) => new Float32Array(n);
    const shape = { T: 4, S: 4, Hq: 1, Hkv: 1, hd: 8, B: 2, causal: true };
    expect(() => cuda.attention({ ...shape, out: f(32), q: f(32), k: f(32), v: f(32), cuSeqlensQ: Int32Array.of(0, 2, 4), cuSeqlensK: Int32Array.of(0, 3, 3) }))
      .to.throw(RangeError, 'cuda.attention.cuSeqlensQ / cuSeqlensK must start at 0 and grow, with at least one key per sequence (sequence 1)');
    expect(() => cuda.attention({ ...shape, out: f(32), q: f(32), k: f(32), v: f(32), cuSeqlensQ: Int32Array.of(0, 2, 3), cuSeqlensK: Int32Array.of(0, 2, 4) }))
      .to.throw(RangeError, 'cuda.attention.cuSeqlensQ must end at T=4 and cuSeqlensK at S=4');
  });

  it('names the offending optimizer parameter, sampling item count and corruption batch', () => {
    const f = (n: number) => new Float32Array(n);
    expect(() => cuda.adamwStep({ params: [{ param: f(3), grad: f(3), m: f(3), v: f(3), group: 3 }], groups: [{ lr: 1, weightDecay: 0 }], step: 1 }))
      .to.throw(RangeError, 'cuda.adamwStep.params[0].group is 3 but there are 1 groups');
    expect(() => cuda.sampleTokens({ logits: f(10), B: 2, V: 5, tokens: new Int32Array(2), items: [] }))
      .to.throw(RangeError, 'cuda.sampleTokens.items holds 0 items but B=2');
    const img = { data: new Uint8Array(12), width: 2, height: 2 };
    expect(() => cuda.corruptImagesWithParams([img], [1, 2], [{ kind: 'noise', sigma: 0.1 }]))
      .to.throw(RangeError, 'cuda.corruptImagesWithParams: expected one seed and one params object per image (1) but received 2 seeds and 1 params');
  });

  it('the CUDA ops table is complete (made without touching a device) and its entries check their arguments', () => {
    expect(cuda.opsTableMissing()).to.deep.equal([]);
    const f = (n: number) => new Float32Array(n);
    expect(() => cuda.patchEmbedForward({ out: f(8), img: f(3 * 28 * 30), weight: f(2 * 3 * 14 * 14), Hs: 28, Ws: 30, p: 14, D: 2 }))
      .to.throw(RangeError, 'cuda.patchEmbedForward: image 28x30 is not a whole number of 14x14 patches');
    expect(() => cuda.loraDeltaForward({ out: f(8), ldo: 5, xa: f(2), x: f(6), A: f(3), B: f(4), T: 2, K: 3, N: 4, r: 1, scale: 1 }))
      .to.throw(RangeError, 'cuda.loraDeltaForward.out holds 8 elements but T=2, K=3, N=4, r=1 need 9');
  });

  it('without a usable device, a call rejects with STIC_DEVICE naming the operation', async function () {
    if (hasDevice()) this.skip();
    const f = (n: number) => new Float32Array(n);
    const err = await cuda.silu({ out: f(4), inp: f(4), n: 4 }).then(() => null, (e: Error & { code?: string }) => e);
    expect(err, 'the call rejects').to.be.instanceOf(Error);
    expect(err?.code).to.equal('STIC_DEVICE');
    expect(err?.message).to.match(/^cuda: cuda\.silu: cudaError\w+: /);
  });

  it('without a usable device, creating the CUDA backend rejects with STIC_DEVICE', async function () {
    if (hasDevice()) this.skip();
    const err = await cuda.backendRoundTrip({ values: Float32Array.of(1, 2), gemm: 'reference' }).then(() => null, (e: Error & { code?: string }) => e);
    expect(err?.code).to.equal('STIC_DEVICE');
    expect(err?.message).to.match(/^cuda: CudaBackend: device count: cudaError\w+: /);
  });

  it('with a device, a kernel-side refusal rejects with STIC_INVALID_ARGUMENT and the limit', async function () {
    if (!hasDevice()) this.skip();
    const f = (n: number) => new Float32Array(n);
    const hd = 300;
    const err = await cuda.attention({ out: f(hd), q: f(hd), k: f(hd), v: f(hd), T: 1, S: 1, Hq: 1, Hkv: 1, hd })
      .then(() => null, (e: Error & { code?: string }) => e);
    expect(err?.code).to.equal('STIC_INVALID_ARGUMENT');
    expect(err?.message).to.equal('cuda attention_forward: expected a head dim in [1, 256] but received 300');
  });
});
