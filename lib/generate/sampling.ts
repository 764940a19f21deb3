// Sampling options: defaults, per-request overrides, and their validation. The sampler itself is
// native (native/cpu/sampling.cpp): temperature, then top-k, then top-p, as the Hugging Face
// logits warpers apply them; temperature 0 is greedy.
import { checkInt, checkNumber, expectedError } from '../util/expect.ts';
import { DEFAULT_SEED } from '../util/seeded.ts';

export interface SamplingOptions {
  /** New tokens at most (the EOS that ends a generation is not counted). Default 256. */
  maxNewTokens?: number;
  /** 0 = greedy (default); > 0 divides the logits before the softmax. */
  temperature?: number;
  /** Nucleus sampling: keep the smallest set of most likely tokens with mass >= topP. 1 = off (default). */
  topP?: number;
  /** Keep only the topK most likely tokens. 0 = off (default). */
  topK?: number;
  /**
   * RNG seed. A request's own seed wins; otherwise request i of a call uses options.seed + i, so a
   * request's tokens depend on its seed and prompt only, never on which batch it ran in. Default 0.
   */
  seed?: number;
  /** Stop strings: generation ends where the decoded text first contains one (it is cut off). */
  stop?: string[];
}

export type ResolvedSampling = Required<SamplingOptions>;

export const DEFAULT_SAMPLING: ResolvedSampling = {
  maxNewTokens: 256,
  temperature: 0,
  topP: 1,
  topK: 0,
  seed: DEFAULT_SEED,
  stop: [],
};

const MAX_SEED = 2 ** 53 - 1;

function checkStops(v: unknown, name: string): string[] {
  if (!Array.isArray(v)) throw expectedError('an array of non-empty strings', name, v);
  v.forEach((s, i) => {
    if (typeof s !== 'string' || s.length === 0) throw expectedError('a non-empty string', `${name}[${i}]`, s);
  });
  return [...v];
}

/** Checks call-level options (named `options.<field>` in messages) and fills the defaults. */
export function resolveDefaults(options: SamplingOptions = {}): ResolvedSampling {
  const o = options as Record<string, unknown>;
  return {
    maxNewTokens: o.maxNewTokens === undefined ? DEFAULT_SAMPLING.maxNewTokens : checkInt(o.maxNewTokens, 'options.maxNewTokens', 1),
    temperature: o.temperature === undefined ? DEFAULT_SAMPLING.temperature : checkNumber(o.temperature, 'options.temperature', 0, Infinity),
    topP: o.topP === undefined ? DEFAULT_SAMPLING.topP : checkNumber(o.topP, 'options.topP', 0, 1, true),
    topK: o.topK === undefined ? DEFAULT_SAMPLING.topK : checkInt(o.topK, 'options.topK', 0),
    seed: o.seed === undefined ? DEFAULT_SAMPLING.seed : checkInt(o.seed, 'options.seed', 0, MAX_SEED),
    stop: o.stop === undefined ? DEFAULT_SAMPLING.stop : checkStops(o.stop, 'options.stop'),
  };
}

/** A request's sampling: its own fields (checked, named `<where>.<field>`) over the call's defaults. */
export function resolveSampling(request: SamplingOptions, defaults: ResolvedSampling, index: number, where: string): ResolvedSampling {
  const r = request as Record<string, unknown>;
  const seedDefault = defaults.seed + index <= MAX_SEED ? defaults.seed + index : (defaults.seed + index) % (MAX_SEED + 1);
  return {
    maxNewTokens: r.maxNewTokens === undefined ? defaults.maxNewTokens : checkInt(r.maxNewTokens, `${where}.maxNewTokens`, 1),
    temperature: r.temperature === undefined ? defaults.temperature : checkNumber(r.temperature, `${where}.temperature`, 0, Infinity),
    topP: r.topP === undefined ? defaults.topP : checkNumber(r.topP, `${where}.topP`, 0, 1, true),
    topK: r.topK === undefined ? defaults.topK : checkInt(r.topK, `${where}.topK`, 0),
    seed: r.seed === undefined ? seedDefault : checkInt(r.seed, `${where}.seed`, 0, MAX_SEED),
    stop: r.stop === undefined ? defaults.stop : checkStops(r.stop, `${where}.stop`),
  };
}
