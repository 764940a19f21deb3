// A CPU emulation of the cuda.* API, used only when STIC_GPU_TEST_EMULATE=cpu, to check the GPU
// tests' own logic (argument objects, reference assembly, tolerances for bf16 output rounding) on
// a machine without a GPU, so that a GPU session's few minutes are not spent on a test's typo.
// It proves nothing about the CUDA kernels: every op calls its CPU twin and, for BF16, rounds the
// outputs to bf16 as the device would store them.
import { corruptionSpec } from '../../lib/data/corrupt.ts';
import { native } from '../../lib/native/index.ts';
import type { NativeCorruptionParams, RgbImage } from '../../lib/native/index.ts';
import { roundBf16 } from './helpers.ts';
import { lab, type CudaKernels } from '../helpers/lab.ts';

type Any = Record<string, any>;  // eslint-disable-line @typescript-eslint/no-explicit-any

const STRIP = ['dtype', 'repeats', 'gemm', 'impl', 'cuSeqlensQ', 'cuSeqlensK', 'qOffsets', 'maxGradNorm'];

function cpuArgs(a: Any): Any {
  const out: Any = { ...a };
  for (const k of STRIP) delete out[k];
  return out;
}
function roundOutputs(a: Any, names: string[]): void {
  if (a.dtype !== 'BF16') return;
  for (const n of names) if (a[n]) (a[n] as Float32Array).set(roundBf16(a[n]));
}
const timing = { ms: 0 };

// kernels.* / trainKernels.* with outputs rounded for BF16.
function twin(call: (a: never) => Promise<unknown>, outputs: string[]) {
  return async (a: Any) => {
    await (call as unknown as (a: Any) => Promise<unknown>)(cpuArgs(a));
    roundOutputs(a, outputs);
    return timing;
  };
}

async function attentionVarlen(a: Any, backward: boolean): Promise<void> {
  const { Hq, Hkv, hd } = a;
  const rowQ = Hq * hd, rowK = Hkv * hd;
  const cuQ = a.cuSeqlensQ as Int32Array, cuK = a.cuSeqlensK as Int32Array;
  for (let b = 0; b < a.B; b++) {
    const Tb = cuQ[b + 1] - cuQ[b], Sb = cuK[b + 1] - cuK[b];
    const q = a.q.subarray(cuQ[b] * rowQ, cuQ[b + 1] * rowQ), k = a.k.subarray(cuK[b] * rowK, cuK[b + 1] * rowK);
    const v = a.v.subarray(cuK[b] * rowK, cuK[b + 1] * rowK);
    const shape = { T: Tb, S: Sb, Hq, Hkv, hd, causal: a.causal, qOffset: a.qOffsets ? a.qOffsets[b] : Sb - Tb };
    const lse = new Float32Array(Hq * Tb);
    for (let h = 0; h < Hq; h++) lse.set(a.lse.subarray(h * a.T + cuQ[b], h * a.T + cuQ[b] + Tb), h * Tb);
    if (!backward) {
      const out = new Float32Array(Tb * rowQ);
      await lab().trainKernels.attentionForwardLse({ out, lse, q, k, v, ...shape });
      a.out.set(out, cuQ[b] * rowQ);
      for (let h = 0; h < Hq; h++) a.lse.set(lse.subarray(h * Tb, (h + 1) * Tb), h * a.T + cuQ[b]);
    } else {
      const dq = new Float32Array(Tb * rowQ);
      await lab().trainKernels.attentionBackward({
        dq, dk: a.dk.subarray(cuK[b] * rowK, cuK[b + 1] * rowK), dv: a.dv.subarray(cuK[b] * rowK, cuK[b + 1] * rowK),
        dout: a.dout.subarray(cuQ[b] * rowQ, cuQ[b + 1] * rowQ), q, k, v, out: a.out.subarray(cuQ[b] * rowQ, cuQ[b + 1] * rowQ), lse, ...shape,
      });
      a.dq.set(dq, cuQ[b] * rowQ);
    }
  }
}

// One image's corruption re-drawn with the drawn values as fixed ranges (jitter: one op at a time,
// so the drawn order does not depend on the seed's order draw).
async function corruptOne(image: RgbImage, seed: number, p: NativeCorruptionParams, fill: [number, number, number]): Promise<RgbImage> {
  const one = async (img: RgbImage, spec: ReturnType<typeof corruptionSpec>) => (await native().corruptImages([img], [seed], spec))[0].image;
  const fixed = (x: number | undefined): [number, number] => [x as number, x as number];
  switch (p.kind) {
    case 'lowres': return one(image, corruptionSpec('lowres', { lowresSize: p.size }));
    case 'noise': return one(image, corruptionSpec('noise', { noiseSigma: fixed(p.sigma) }));
    case 'diffusion': return one(image, corruptionSpec('diffusion', { diffusionStep: p.step }));
    case 'blur': return one(image, corruptionSpec('blur', { blurSigma: fixed(p.sigma), blurKernel: p.kernelSize }));
    case 'mask': return one(image, corruptionSpec('mask', { patchSize: p.patchSize, maskRatio: fixed(p.ratio), maskFill: fill }));
    case 'jitter': {
      let img = image;
      for (const op of p.order ?? []) {
        const off = { brightness: null, contrast: null, saturation: null, hue: null };
        img = await one(img, corruptionSpec('jitter', { ...off, [op]: fixed(p[op]) }));
      }
      return img;
    }
  }
}

export function emulatedCuda(): CudaKernels {
  const k = lab().kernels, t = lab().trainKernels;
  const e: Any = {
    deviceInfo: () => ({ name: 'CPU emulation', computeCapability: '0.0', multiprocessors: 0, totalMemory: 0, freeMemory: 0, driverVersion: 0, runtimeVersion: 0 }),
    layernorm: twin(k.layernorm, ['out']),
    rmsnorm: twin(k.rmsnorm, ['out']),
    addLayernorm: async (a: Any) => {
      a.res.set(a.res.map((r: number, i: number) => r + a.inp[i]));
      roundOutputs(a, ['res']);
      return twin(k.layernorm, ['out'])({ ...a, inp: a.res, res: undefined });
    },
    addRmsnorm: async (a: Any) => {
      a.res.set(a.res.map((r: number, i: number) => r + a.inp[i]));
      roundOutputs(a, ['res']);
      return twin(k.rmsnorm, ['out'])({ ...a, inp: a.res, res: undefined });
    },
    layernormBackward: twin(t.layernormBackward, ['dinp']),
    rmsnormBackward: twin(t.rmsnormBackward, ['dinp']),
    swiglu: twin(k.swiglu, ['out']),
    swigluBackward: twin(t.swigluBackward, ['dgate', 'dup']),
    add: twin(k.add, ['a']),
    rope: twin(k.rope, ['x']),
    ropeBackward: twin(t.ropeBackward, ['dx']),
    embedding: twin(k.embedding, ['out']),
    embeddingBackward: twin(t.embeddingBackward, []),
    logSoftmaxGather: twin(k.logSoftmaxGather, []),
    attention: twin(k.attention, ['out']),
    attentionForwardLse: async (a: Any) => {
      if (a.cuSeqlensQ) await attentionVarlen(a, false);
      else await t.attentionForwardLse(cpuArgs(a) as never);
      roundOutputs(a, ['out']);
      return timing;
    },
    attentionBackward: async (a: Any) => {
      if (a.cuSeqlensQ) await attentionVarlen(a, true);
      else await t.attentionBackward(cpuArgs(a) as never);
      roundOutputs(a, ['dq', 'dk', 'dv']);
      return timing;
    },
    gemm: twin(k.sgemm, []),
    fusedHeadForward: async (a: Any) => ({ ...(await twin(t.fusedHeadForward, ['jac'])(a)), workspaceBytes: 1 }),
    fusedHeadBackward: async (a: Any) => ({ ...(await twin(t.fusedHeadBackward, ['dh'])(a)), workspaceBytes: 1 }),
    fusedHeadBackwardSaved: twin(t.fusedHeadBackwardSaved, ['dh']),
    dpoLoss: (a: Any) => t.dpoLoss(a as never),
    sftLoss: (a: Any) => t.sftLoss(a as never),
    sumBySequence: twin(t.sumBySequence, []),
    sequenceGradToTokens: twin(t.sequenceGradToTokens, []),
    gradNorm: (a: Any) => t.gradNorm(a as never),
    clipGradNorm: (a: Any) => t.clipGradNorm(a as never),
    adamwStep: async (a: Any) => {
      let gradNorm: number | null = null;
      if (a.maxGradNorm > 0) {
        gradNorm = await t.gradNorm({ grads: a.params.map((p: Any) => p.grad) });
        if (!Number.isFinite(gradNorm)) return { gradNorm, skipped: true };
        await t.clipGradNorm({ grads: a.params.map((p: Any) => p.grad), maxNorm: a.maxGradNorm });
      }
      await t.adamwStep(cpuArgs(a) as never);
      return { gradNorm, skipped: false };
    },
    sampleTokens: async (a: Any) => {
      const ld = a.ld ?? a.V;
      a.items.forEach((it: Any, b: number) => {
        const { step, ...params } = it;
        a.tokens[b] = lab().kernels.sampleToken(a.logits.subarray(b * ld, b * ld + a.V), params as never, step);
      });
      return timing;
    },
    backendRoundTrip: async (a: Any) => ({ name: 'cuda:0 (CPU emulation)', freeBytes: 1, totalBytes: 1, doubled: Float32Array.from(a.values, (v: number) => v + v) }),
    loraDeltaForward: twin(t.loraDeltaForward, []),
    loraDeltaBackward: twin(t.loraDeltaBackward, []),
    patchEmbedForward: twin(k.patchEmbed, []),
    patchEmbedBackward: async (a: Any) => {
      if (a.Hs !== a.Ws) throw new Error(`emulated patchEmbedBackward: the CPU twin takes square images but received ${a.Hs}x${a.Ws}`);
      await lab().pretrainKernels.patchEmbedBackward({ dweight: a.dweight, dout: a.dout, img: a.img, N: a.N, S: a.Hs, p: a.p, D: a.D });
      return timing;
    },
    corruptImagesWithParams: async (images: RgbImage[], seeds: number[], params: NativeCorruptionParams[], o?: Any) => ({
      images: await Promise.all(images.map((img, i) => corruptOne(img, seeds[i], params[i], o?.maskFill ?? [0, 0, 0]))),
      ms: 0,
    }),
  };
  for (const op of ['quickGelu', 'gelu', 'geluTanh', 'silu', 'relu'] as const) e[op] = twin(k[op], ['out']);
  for (const op of ['quickGeluBackward', 'geluBackward', 'geluTanhBackward', 'siluBackward', 'reluBackward'] as const) e[op] = twin(t[op], ['dinp']);
  return e as CudaKernels;
}
