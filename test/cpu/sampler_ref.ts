// A plain reference of the native sampler (native/cpu/sampling.cpp), written from the
// definitions rather than the C++: Philox4x32-10 (Salmon et al., SC 2011) in BigInt arithmetic,
// and temperature -> top-k -> top-p sampling as the Hugging Face logits warpers define it
// (top-p keeps a token while the probability mass of the tokens ranked above it is < p).
// Both use float64 for the softmax like the native code, so the picks agree exactly.

const MASK32 = 0xffffffffn;

/** Philox4x32-10 of a 4-word counter and a 2-word key. */
export function philox4x32Ref(counter: [number, number, number, number], key: [number, number]): number[] {
  let [c0, c1, c2, c3] = counter.map(BigInt);
  let [k0, k1] = key.map(BigInt);
  for (let round = 0; round < 10; round++) {
    const p0 = 0xd2511f53n * c0;
    const p1 = 0xcd9e8d57n * c2;
    [c0, c1, c2, c3] = [((p1 >> 32n) ^ c1 ^ k0) & MASK32, p1 & MASK32, ((p0 >> 32n) ^ c3 ^ k1) & MASK32, p0 & MASK32];
    k0 = (k0 + 0x9e3779b9n) & MASK32;
    k1 = (k1 + 0xbb67ae85n) & MASK32;
  }
  return [c0, c1, c2, c3].map(Number);
}

/** Uniform [0, 1) with 53 bits from (seed, step): key = seed, counter = (step, 0, 0, 0). */
export function uniformRef(seed: number, step: number): number {
  const s = BigInt(seed);
  const t = BigInt(step);
  const [w0, w1] = philox4x32Ref([Number(t & MASK32), Number(t >> 32n), 0, 0], [Number(s & MASK32), Number(s >> 32n)]);
  return ((w0 >>> 5) * 2 ** 26 + (w1 >>> 6)) / 2 ** 53;
}

export interface SamplingRef {
  temperature: number;
  topK: number;
  topP: number;
  seed: number;
}

/** The token the sampler must pick at generation step `step`. */
export function sampleRef(logits: Float32Array, p: SamplingRef, step: number): number {
  const V = logits.length;
  const argmax = () => logits.reduce((best, x, i) => (x > logits[best] ? i : best), 0);
  if (p.temperature <= 0 || p.topK === 1) return argmax();
  // The draw walks the candidates best first (ties: lower id) when top-k or top-p is on, else in id order.
  const ids = Array.from({ length: V }, (_, i) => i);
  const topP = Math.fround(p.topP);
  const filtered = (p.topK > 0 && p.topK < V) || topP < 1;
  const order = filtered ? ids.sort((a, b) => logits[b] - logits[a] || a - b) : ids;
  const kept = p.topK > 0 && p.topK < V ? order.slice(0, p.topK) : order;
  const T = Math.fround(p.temperature);
  const mx = kept.reduce((m, i) => Math.max(m, logits[i]), -Infinity);
  const invT = 1 / T;
  let probs = kept.map((i) => Math.exp((logits[i] - mx) * invT));
  let total = probs.reduce((a, b) => a + b, 0);
  if (topP < 1) {
    let before = 0;
    let n = 0;
    while (n < probs.length && before < topP * total) before += probs[n++];
    probs = probs.slice(0, n);
    total = before;
  }
  const target = uniformRef(p.seed, step) * total;
  let cum = 0;
  for (let j = 0; j < probs.length; j++) {
    cum += probs[j];
    if (target < cum) return kept[j];
  }
  return kept[probs.length - 1];
}
