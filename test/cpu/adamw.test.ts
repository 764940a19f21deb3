// AdamW against a float64 TypeScript transcription of torch.optim.AdamW's single-tensor algorithm
// over 3 steps with weight decay and two parameter groups (LoRA vs projector learning rates);
// against the Hugging Face fixtures' `after_adamw_step` (one torch step on the DPO gradients, three
// models); global-norm clipping as torch.nn.utils.clip_grad_norm_; determinism and errors.
// Legend: n elements of a parameter tensor.
import { join } from 'node:path';

import { expect } from 'chai';

import { openSafetensors, readTensor } from '../../lib/model/safetensors.ts';
import { native, packageRoot } from '../../lib/native/index.ts';
import { makeRng } from '../helpers/rng.ts';
import { expectGrad } from './grad_reference.ts';
import { lab, type AdamWParam } from '../helpers/lab.ts';

const rng = makeRng(909);
const tk = () => lab().trainKernels;

interface Group { lr: number; weightDecay: number }
interface RefState { p: Float64Array; m: Float64Array; v: Float64Array }

/** torch/optim/adamw.py _single_tensor_adamw (amsgrad=False, maximize=False), transcribed in float64. */
function torchAdamwStep(s: RefState, g: ArrayLike<number>, grp: Group, step: number, b1 = 0.9, b2 = 0.999, eps = 1e-8): void {
  const bc1 = 1 - b1 ** step, bc2 = 1 - b2 ** step;
  const stepSize = grp.lr / bc1, bc2Sqrt = Math.sqrt(bc2);
  for (let i = 0; i < s.p.length; i++) {
    s.p[i] *= 1 - grp.lr * grp.weightDecay; // param.mul_(1 - lr * weight_decay)
    s.m[i] += (g[i] - s.m[i]) * (1 - b1); // exp_avg.lerp_(grad, 1 - beta1)
    s.v[i] = s.v[i] * b2 + (1 - b2) * g[i] * g[i]; // exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
    const denom = Math.sqrt(s.v[i]) / bc2Sqrt + eps; // (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(eps)
    s.p[i] -= stepSize * (s.m[i] / denom); // param.addcdiv_(exp_avg, denom, value=-step_size)
  }
}

describe('trainKernels: AdamW (cpu)', () => {
  it('3 steps with weight decay and two parameter groups match torch\'s algorithm', async () => {
    const groups: Group[] = [{ lr: 1e-3, weightDecay: 0.01 }, { lr: 2e-5, weightDecay: 0.1 }];
    const sizes = [37, 20011, 129], groupOf = [0, 0, 1]; // 20011 > one block of the native split
    const params: AdamWParam[] = sizes.map((n, i) => ({ param: rng.normalArray(n), grad: new Float32Array(n), m: new Float32Array(n), v: new Float32Array(n), group: groupOf[i] }));
    const refs: RefState[] = params.map((p) => ({ p: Float64Array.from(p.param), m: new Float64Array(p.m.length), v: new Float64Array(p.v.length) }));
    for (let step = 1; step <= 3; step++) {
      params.forEach((p, i) => {
        p.grad.set(rng.normalArray(p.grad.length, i === 1 ? 1e-3 : 1)); // tiny gradients too: eps matters
        torchAdamwStep(refs[i], p.grad, groups[groupOf[i]], step);
      });
      await tk().adamwStep({ params, groups, step });
    }
    params.forEach((p, i) => {
      expectGrad(p.param, refs[i].p, `param ${i}`, 1e-6, 1e-7);
      expectGrad(p.m, refs[i].m, `exp_avg ${i}`, 1e-6, 1e-7);
      expectGrad(p.v, refs[i].v, `exp_avg_sq ${i}`, 1e-6, 1e-7);
    });
  });

  for (const model of ['llava-tiny-llama', 'llava-tiny-mistral-gqa', 'llava-tiny-llama-fullfeat-lastlayer']) {
    it(`one step on the DPO gradients reproduces after_adamw_step of ${model}`, async () => {
      const dir = join(packageRoot, 'test/fixtures/hf', model);
      const [grads, after, adapter, base] = await Promise.all(
        ['dpo_grads_label.safetensors', 'after_adamw_step.safetensors', 'adapter/adapter_model.safetensors', 'model.safetensors'].map((f) => openSafetensors(join(dir, f))));
      // Gradient names are PEFT's in-memory names; the start values live in the adapter (LoRA, float64)
      // and in the base checkpoint (the trainable projector).
      const params: AdamWParam[] = [], names: string[] = [];
      for (const [name, entry] of grads.tensors) {
        const start = name.includes('.lora_') ? adapter.tensors.get(name.replace('.default.weight', '.weight'))
          : base.tensors.get(name.replace('base_model.model.model.', ''));
        expect(start, `start value of ${name}`).to.not.equal(undefined);
        const param = await readTensor(start!, { as: 'F32' }), grad = await readTensor(entry, { as: 'F32' });
        params.push({ param, grad, m: new Float32Array(param.length), v: new Float32Array(param.length) });
        names.push(name);
      }
      expect(params.length).to.equal(after.tensors.size);
      await tk().adamwStep({ params, groups: [{ lr: 1e-3, weightDecay: 0.01 }], step: 1, beta1: 0.9, beta2: 0.999, eps: 1e-8 });
      for (let i = 0; i < params.length; i++) {
        expectGrad(params[i].param, await readTensor(after.tensors.get(names[i])!, { as: 'F32' }), names[i], 1e-4, 1e-6);
      }
    });
  }

  it('is bit-identical on 1 and 2 threads', async () => {
    const run = async (threads: number) => {
      native().setThreads(threads);
      const r = makeRng(5);
      const p: AdamWParam = { param: r.normalArray(50001), grad: r.normalArray(50001), m: r.normalArray(50001, 0.1), v: Float32Array.from(r.normalArray(50001), (x) => x * x) };
      await tk().adamwStep({ params: [p], groups: [{ lr: 1e-2, weightDecay: 0.05 }], step: 4 });
      return Buffer.from(p.param.buffer);
    };
    const defaultThreads = native().setThreads(0); // 0 selects the default and returns it
    try {
      expect((await run(1)).equals(await run(2))).to.equal(true);
    } finally {
      native().setThreads(defaultThreads);
    }
  });

  it('rejects a parameter naming a missing group (rejected promise with a code) and mismatched state sizes', async () => {
    const p = () => ({ param: new Float32Array(4), grad: new Float32Array(4), m: new Float32Array(4), v: new Float32Array(4) });
    try {
      await tk().adamwStep({ params: [p(), { ...p(), group: 2 }], groups: [{ lr: 1, weightDecay: 0 }, { lr: 1, weightDecay: 0 }], step: 1 });
      expect.fail('expected a rejection');
    } catch (e) {
      expect((e as Error).message).to.equal('adamw_step: parameter 1 names group 2 but there are 2 groups');
      expect((e as { code?: string }).code).to.equal('STIC_INVALID_ARGUMENT');
    }
    expect(() => tk().adamwStep({ params: [{ ...p(), v: new Float32Array(3) }], groups: [{ lr: 1, weightDecay: 0 }], step: 1 })).to.throw(
      RangeError, /^trainKernels\.adamwStep: params\[0\]\.v holds 3 elements but params\[0\]\.param holds 4$/);
    expect(() => tk().adamwStep({ params: [p()], groups: [{ lr: 1, weightDecay: 0 }], step: 0 })).to.throw(
      TypeError, /^Expected a positive integer for trainKernels\.adamwStep\.step but received 0$/);
  });
});

describe('trainKernels: gradient norm and clipping (cpu)', () => {
  const sumSq = (gs: Float32Array[]) => gs.reduce((s, g) => s + g.reduce((a, x) => a + x * x, 0), 0);

  it('gradNorm is the global L2 norm over every tensor', async () => {
    const grads = [rng.normalArray(1000), rng.normalArray(33333, 0.01), rng.normalArray(7, 30)];
    expect(await tk().gradNorm({ grads })).to.be.closeTo(Math.sqrt(sumSq(grads)), 1e-9 * Math.sqrt(sumSq(grads)));
  });

  it('clipGradNorm scales by maxNorm / (norm + 1e-6) and returns the pre-clip norm; below maxNorm it is a no-op', async () => {
    const grads = [rng.normalArray(500), rng.normalArray(20000)];
    const before = grads.map((g) => Float32Array.from(g));
    const norm = Math.sqrt(sumSq(grads));
    const got = await tk().clipGradNorm({ grads, maxNorm: 1 });
    expect(got).to.be.closeTo(norm, 1e-9 * norm);
    const coef = 1 / (norm + 1e-6);
    grads.forEach((g, i) => expectGrad(g, Float64Array.from(before[i], (x) => x * coef), `clipped grad ${i}`, 1e-6, 1e-7));
    expect(Math.sqrt(sumSq(grads))).to.be.closeTo(1, 1e-5);
    const again = grads.map((g) => Float32Array.from(g));
    await tk().clipGradNorm({ grads, maxNorm: 10 });
    grads.forEach((g, i) => expect(Buffer.from(g.buffer).equals(Buffer.from(again[i].buffer))).to.equal(true));
  });

  it('rejects a non-positive maxNorm and a non-Float32Array gradient with exact messages', () => {
    expect(() => tk().clipGradNorm({ grads: [new Float32Array(2)], maxNorm: 0 })).to.throw(
      TypeError, /^Expected a positive number for trainKernels\.clipGradNorm\.maxNorm but received 0$/);
    expect(() => tk().gradNorm({ grads: [new Float64Array(2) as unknown as Float32Array] })).to.throw(
      TypeError, /^Expected a Float32Array for trainKernels\.gradNorm\.grads\[0\] but received a typed array$/);
  });
});
