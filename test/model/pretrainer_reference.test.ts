// The pretrainer against Hugging Face transformers (test/fixtures/hf, three tiny LLaVA models):
//   - its loss on the two chosen sequences equals minus the mean of the fixture's token log-probs
//     of the base model (the forward through tower, projector and decoder is transformers');
//   - its full-parameter gradients reproduce the fixture's SFT gradients (`sft_grads`, of the mean
//     token cross-entropy over both chosen responses). That fixture trained LoRA on every decoder
//     linear and the projector; with the adapter merged (W + (alpha/r) B A) the model is the same
//     function, so the projector gradients must match ours directly and the LoRA ones must equal
//     the chain rule through the merge: dB = s dW A^T, dA = s B^T dW (s = alpha/r = 2).
// The weights are read with readTensors from the fixture's own checkpoint (transformers 5 names,
// mapped by lib/engine/weight_names.ts). Tolerance: 1e-5 relative to the tensor's largest
// magnitude, as the engine's own fixture tests (fp32 against float64 references).
// Legend: N x K a linear's weight, r LoRA rank.
import path from 'node:path';

import { expect } from 'chai';

import { resolveWeights } from '../../lib/engine/weight_names.ts';
import { loadModelConfig } from '../../lib/model/config.ts';
import { openCheckpoint, readTensors } from '../../lib/model/safetensors.ts';
import { native } from '../../lib/native/index.ts';
import type { PretrainItem } from '../../lib/native/index.ts';
import { FIXTURE_MODELS, loadFixture, relError } from '../engine/fixture_util.ts';

const SCALE = 2; // LoRA alpha 8 / r 4 (fixtures README)
const MODULES = ['self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj', 'self_attn.o_proj', 'mlp.gate_proj', 'mlp.up_proj', 'mlp.down_proj'];

async function readAll(file: string): Promise<Map<string, { shape: number[]; data: Float64Array }>> {
  const ck = await openCheckpoint(file);
  const names = [...ck.tensors.keys()];
  const data = await readTensors(names.map((n) => ck.tensors.get(n)!), { as: 'F64' });
  return new Map(names.map((n, i) => [n, { shape: ck.tensors.get(n)!.shape, data: data[i] }]));
}

/** C (M, N) = op(A) @ op(B) in float64 with A (M, K) or (K, M) when ta, B (K, N) or (N, K) when tb. */
function matmul(a: ArrayLike<number>, b: ArrayLike<number>, M: number, N: number, K: number, ta: boolean, tb: boolean): Float64Array {
  const c = new Float64Array(M * N);
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += (ta ? a[k * M + i] : a[i * K + k]) * (tb ? b[j * K + k] : b[k * N + j]);
      c[i * N + j] = s;
    }
  }
  return c;
}

for (const model of FIXTURE_MODELS) {
  describe(`pretrainer vs transformers: ${model}`, () => {
    it('loss equals the base model\'s log-probs and every gradient reproduces sft_grads (adapter merged)', async () => {
      const fx = await loadFixture(model);
      const config = loadModelConfig(fx.dir);
      const p = await native().createPretrainer(config);
      await p.readTensors('param', resolveWeights(native().llavaTensorSpecs(config), [await openCheckpoint(fx.dir)], config));
      const pixels = new Float32Array(fx.images.length * fx.images[0].length);
      fx.images.forEach((img, i) => pixels.set(img, i * img.length));
      const items: PretrainItem[] = fx.items.map((it, i) => ({ images: [i], ids: it.chosen, mask: it.chosen.map((_, t) => (t >= it.prompt.length ? 1 : 0)) }));
      const { loss, tokens } = await p.loss(pixels, 2, items);
      const logps = [...fx.expectedF32('token_logps_chosen_0'), ...fx.expectedF32('token_logps_chosen_1')];
      expect(tokens).to.equal(logps.length);
      const want = -logps.reduce((a, b) => a + b, 0) / logps.length;
      expect(Math.abs(loss - want) / Math.abs(want), `loss ${loss} vs ${want}`).to.be.below(1e-5);

      // The gradients are of the adapted model: merge the adapter, W <- W + s B A (float64, rounded once).
      const adapter = await readAll(path.join(fx.dir, 'adapter', 'adapter_model.safetensors'));
      const expected = await readAll(path.join(fx.dir, 'sft_grads.safetensors'));
      const layers = config.decoder.numLayers;
      const linears = Array.from({ length: layers }, (_, l) => MODULES.map((m) => ({ l, m, name: `language_model.model.layers.${l}.${m}.weight` }))).flat();
      const weights = await p.getTensors('param', linears.map((x) => x.name));
      const loraOf = (l: number, m: string, which: 'A' | 'B') => adapter.get(`base_model.model.model.language_model.layers.${l}.${m}.lora_${which}.weight`)!;
      await p.setTensors('param', linears.map((x, i) => {
        const A = loraOf(x.l, x.m, 'A');
        const B = loraOf(x.l, x.m, 'B');
        const [N, r] = B.shape;
        const K = A.shape[1];
        const ba = matmul(B.data, A.data, N, K, r, false, false);
        return { name: x.name, data: Float64Array.from(weights[i], (w, k) => w + SCALE * ba[k]) };
      }));
      await p.step(pixels, 2, items);
      const projector = ['linear_1.weight', 'linear_1.bias', 'linear_2.weight', 'linear_2.bias'];
      const projGrads = await p.getTensors('grad', projector.map((n) => `multi_modal_projector.${n}`));
      projector.forEach((n, i) => {
        const ref = Float32Array.from(expected.get(`base_model.model.model.multi_modal_projector.${n}`)!.data);
        expect(relError(projGrads[i], ref), `projector ${n}`).to.be.below(1e-5);
      });
      const dW = await p.getTensors('grad', linears.map((x) => x.name));
      linears.forEach((x, i) => {
        const A = loraOf(x.l, x.m, 'A');
        const B = loraOf(x.l, x.m, 'B');
        const [N, r] = B.shape;
        const K = A.shape[1];
        const dB = matmul(dW[i], A.data, N, r, K, false, true).map((v) => SCALE * v); // (N, r)
        const dA = matmul(B.data, dW[i], r, K, N, true, false).map((v) => SCALE * v); // (r, K)
        const refB = expected.get(`base_model.model.model.language_model.layers.${x.l}.${x.m}.lora_B.default.weight`)!.data;
        const refA = expected.get(`base_model.model.model.language_model.layers.${x.l}.${x.m}.lora_A.default.weight`)!.data;
        expect(relError(Float32Array.from(dB), Float32Array.from(refB)), `${x.name} through lora_B`).to.be.below(1e-5);
        expect(relError(Float32Array.from(dA), Float32Array.from(refA)), `${x.name} through lora_A`).to.be.below(1e-5);
      });
    });
  });
}
