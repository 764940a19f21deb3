// A small stand-in for the native trainer, for testing the loop, checkpoints and resume without a
// model. Its state behaves like the real one's: parameters, accumulated gradients, AdamW moments
// and a step count, updated with torch's AdamW arithmetic (float32 storage) and global-norm
// clipping. Gradients are a deterministic function of the parameters, the examples' tokens and the
// dropout key, so anything a resume could get wrong (order, keys, scales, learning rates, moments,
// step count) changes the final parameters. Every call is recorded for assertions.
import type {
  NativeAdamWOptions, NativeDpoStepOptions, NativeDpoStepResult, NativeImages, NativePreferencePair, NativeSftItem, NativeSftStepOptions, NativeTrainTensorInfo,
  NativeTrainTensorKind, NativeTrainerSpec,
} from '../../lib/native/contract.ts';
import type { Trainer } from '../../lib/train/trainer_api.ts';
import { loraTensorShapes } from '../../lib/train/adapter_io.ts';
import type { DecoderConfig } from '../../lib/model/engine_config.ts';

export const FAKE_DECODER = { hiddenSize: 6, intermediateSize: 10, numLayers: 2, numHeads: 2, numKvHeads: 1, headDim: 3 } as DecoderConfig;

export interface Call {
  op: 'dpo' | 'sft' | 'ref' | 'opt';
  key?: { step: number; micro: number };
  ids?: string[];
  gradScale?: number;
  meanOver?: number;
  lr?: number;
  projectorLr?: number;
  refs?: (number | undefined)[];
  images?: number;
}

// A hash of ints to a float in [-1, 1): inputs to the fake gradient.
function mix(...xs: number[]): number {
  let h = 2166136261;
  for (const x of xs) {
    h ^= x | 0;
    h = Math.imul(h, 16777619);
    h ^= h >>> 13;
  }
  return ((h >>> 0) / 4294967296) * 2 - 1;
}

function sumIds(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s = (s * 31 + a[i]) | 0;
  return s;
}

export class FakeTrainer implements Trainer {
  readonly info: NativeTrainTensorInfo[];
  readonly t: Record<NativeTrainTensorKind, Float32Array[]>;
  private adamStep = 0;
  calls: Call[] = [];
  /** pixels received per call, to check images reach the trainer. */
  pixelSums: number[] = [];

  constructor(
    private readonly s: NativeTrainerSpec,
    decoder: DecoderConfig = FAKE_DECODER,
  ) {
    const targets = s.lora.targets.map((m) => ({ q_proj: 'q', k_proj: 'k', v_proj: 'v', o_proj: 'o', gate_proj: 'gate', up_proj: 'up', down_proj: 'down' })[m]) as never[];
    this.info = [
      ...loraTensorShapes(decoder, { r: s.lora.r, targets }).map((x) => ({ ...x, group: 'lora' as const })),
      ...(s.trainProjector ? [{ name: 'multi_modal_projector.linear_1.weight', shape: [4, 3], group: 'projector' as const }, { name: 'multi_modal_projector.linear_1.bias', shape: [4], group: 'projector' as const }] : []),
    ];
    const make = () => this.info.map((t) => new Float32Array(t.shape.reduce((a, b) => a * b, 1)));
    this.t = { param: make(), grad: make(), exp_avg: make(), exp_avg_sq: make() };
    // PEFT-like init from the seed: A random, B zero; the projector "copied from the model".
    this.info.forEach((t, i) => {
      if (!t.name.includes('lora_B')) this.t.param[i].forEach((_, j, a) => (a[j] = 0.3 * mix(s.lora.seed, i, j)));
    });
  }

  spec(): NativeTrainerSpec {
    return this.s;
  }

  tensorInfo(): NativeTrainTensorInfo[] {
    return this.info;
  }

  async getTensors(kind: NativeTrainTensorKind, names?: string[]): Promise<Float32Array[]> {
    const idx = names ? names.map((n) => this.index(n)) : this.info.map((_, i) => i);
    return idx.map((i) => Float32Array.from(this.t[kind][i]));
  }

  async setTensors(kind: NativeTrainTensorKind, tensors: { name: string; data: Float32Array | Float64Array }[]): Promise<void> {
    for (const x of tensors) {
      const i = this.index(x.name);
      if (x.data.length !== this.t[kind][i].length) throw new RangeError(`${x.name}: expected ${this.t[kind][i].length} values but received ${x.data.length}`);
      this.t[kind][i].set(x.data);
    }
  }

  getStep(): number {
    return this.adamStep;
  }

  setStep(step: number): void {
    this.adamStep = step;
  }

  async pairLogprobs(pixels: Float32Array, count: NativeImages, pairs: NativePreferencePair[]): Promise<{ chosen: number[]; rejected: number[] }> {
    this.calls.push({ op: 'ref', ids: pairs.map((p) => String(sumIds(p.chosenIds))), images: imageCount(count) });
    return { chosen: pairs.map((p) => -1 - Math.abs(mix(sumIds(p.promptIds), sumIds(p.chosenIds)))), rejected: pairs.map((p) => -1 - Math.abs(mix(sumIds(p.promptIds), sumIds(p.rejectedIds)))) };
  }

  // Gradient of a fake loss: depends on the parameters, the tokens and the key (dropout).
  private accumulate(seed: number, key: { step: number; micro: number }, scale: number): number {
    let loss = 0;
    this.t.param.forEach((p, i) => {
      const g = this.t.grad[i];
      for (let j = 0; j < p.length; j++) {
        const d = Math.sin(3 * p[j] + mix(seed, key.step, key.micro, i, j));
        g[j] += scale * d;
        loss += d * d;
      }
    });
    return loss / 100;
  }

  async dpoStep(pixels: Float32Array, count: NativeImages, pairs: NativePreferencePair[], o: NativeDpoStepOptions): Promise<NativeDpoStepResult> {
    this.calls.push({ op: 'dpo', key: { ...o.key }, ids: pairs.map((p) => String(sumIds(p.chosenIds))), gradScale: o.gradScale, refs: pairs.map((p) => p.refChosen), images: imageCount(count) });
    this.pixelSums.push(pixels.reduce((a, b) => a + b, 0));
    const seed = pairs.reduce((h, p) => h ^ sumIds(p.promptIds) ^ (sumIds(p.chosenIds) * 7) ^ (sumIds(p.rejectedIds) * 13) ^ Math.round((p.refChosen ?? 0) * 1000), 0);
    const loss = this.accumulate(seed, o.key, o.gradScale ?? 1);
    const rc = mix(seed, 1) * 0.1;
    const rr = mix(seed, 2) * 0.1;
    const n = pairs.length;
    return {
      loss, rewardChosen: rc, rewardRejected: rr, rewardAccuracy: rc > rr ? 1 : 0, rewardMargin: rc - rr, logpChosen: -10 + rc, logpRejected: -12 + rr,
      policyChosen: Array(n).fill(-10), policyRejected: Array(n).fill(-12), refChosen: pairs.map((p) => p.refChosen ?? -10), refRejected: pairs.map((p) => p.refRejected ?? -12),
      chosenTokens: pairs.map((p) => p.chosenIds.length), rejectedTokens: pairs.map((p) => p.rejectedIds.length),
    };
  }

  async sftStep(pixels: Float32Array, count: NativeImages, items: NativeSftItem[], o: NativeSftStepOptions): Promise<{ loss: number; tokens: number }> {
    this.calls.push({ op: 'sft', key: { ...o.key }, ids: items.map((x) => String(sumIds(x.ids))), meanOver: o.meanOver, gradScale: o.gradScale, images: imageCount(count) });
    const tokens = items.reduce((n, x) => n + Array.from(x.mask).filter((v) => v).length, 0);
    const seed = items.reduce((h, x) => h ^ sumIds(x.ids) ^ sumIds(x.mask), 0);
    this.accumulate(seed, o.key, (o.gradScale ?? 1) * tokens / (o.meanOver ?? tokens));
    return { loss: tokens / (o.meanOver ?? tokens), tokens };
  }

  // torch.optim.AdamW after clip_grad_norm_, float32 storage.
  async optimizerStep(o: NativeAdamWOptions): Promise<{ gradNorm: number; step: number; skipped: boolean }> {
    this.calls.push({ op: 'opt', lr: o.lora.lr, projectorLr: o.projector?.lr });
    let sq = 0;
    for (const g of this.t.grad) for (const v of g) sq += v * v;
    const norm = Math.sqrt(sq);
    const clip = o.maxGradNorm > 0 ? Math.min(1, o.maxGradNorm / (norm + 1e-6)) : 1;
    this.adamStep += 1;
    const b1 = o.beta1;
    const b2 = o.beta2;
    const eps = o.eps;
    const bc1 = 1 - b1 ** this.adamStep;
    const bc2 = 1 - b2 ** this.adamStep;
    this.info.forEach((t, i) => {
      const grp = t.group === 'lora' ? o.lora : o.projector;
      if (!grp) throw new Error(`optimizerStep: no options for group ${t.group}`);
      const p = this.t.param[i];
      const g = this.t.grad[i];
      const m = this.t.exp_avg[i];
      const v = this.t.exp_avg_sq[i];
      for (let j = 0; j < p.length; j++) {
        const gj = g[j] * clip;
        p[j] *= 1 - grp.lr * grp.weightDecay;
        m[j] = b1 * m[j] + (1 - b1) * gj;
        v[j] = b2 * v[j] + (1 - b2) * gj * gj;
        p[j] -= (grp.lr / bc1) * (m[j] / (Math.sqrt(v[j] / bc2) + eps));
      }
      g.fill(0);
    });
    return { gradNorm: norm, step: this.adamStep, skipped: false };
  }

  async zeroGrad(): Promise<void> {
    for (const g of this.t.grad) g.fill(0);
  }

  private index(name: string): number {
    const i = this.info.findIndex((t) => t.name === name);
    if (i < 0) throw new Error(`unknown tensor ${name}`);
    return i;
  }
}

/** The number of images of a call (a count, or one layout per image). */
function imageCount(images: NativeImages): number {
  return typeof images === 'number' ? images : images.length;
}
