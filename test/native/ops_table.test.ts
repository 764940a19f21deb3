// The ops table's refusal (native/core/ops.cpp: missingOps, requireOps), through the kernel lab: a
// model is refused at creation when its backend's table lacks an entry (a backend whose kernels are
// not all written yet), and the message names exactly the entries that are missing, in table order,
// whichever order they were emptied in; the complete CPU table is accepted. (The CUDA table's
// completeness is checked where it is built: test/cuda/ops_table.test.ts.)
import { expect } from 'chai';

import { lab } from '../helpers/lab.ts';

const refusal = (missing: string[]) =>
  `UNSUPPORTED: the LLaVA model needs every op of the cpu ops table, but it has no ${missing.length} of them: ${missing.join(', ')}`;

describe('requireOps: an incomplete ops table is refused, naming what it lacks', () => {
  const k = () => lab().kernels;

  it('accepts the complete CPU table', () => {
    expect(k().requireOps([], 'the LLaVA model')).to.equal(null);
  });

  it('lists every entry once: the thirteen families, the LoRA and patch-embedding ones among them', () => {
    const entries = k().opsTableEntries();
    expect(entries).to.have.length(48);
    expect(new Set(entries).size).to.equal(entries.length);
    const families = [...new Set(entries.map((e) => e.split('.')[0]))];
    expect(families).to.deep.equal(['linear', 'norm', 'elementwise', 'rope', 'attention', 'embedding', 'memory', 'convert', 'head', 'loss', 'lora', 'optimizer', 'sampling']);
    expect(entries).to.include.members(['lora.lora_delta_forward', 'lora.lora_delta_backward', 'embedding.patch_embed_forward', 'embedding.patch_embed_backward']);
  });

  it('names the emptied entries in table order, and only those', () => {
    const cleared = ['lora.lora_delta_backward', 'embedding.patch_embed_forward', 'lora.lora_delta_forward', 'embedding.patch_embed_backward'];
    expect(k().requireOps(cleared, 'the LLaVA model')).to.equal(
      refusal(['embedding.patch_embed_forward', 'embedding.patch_embed_backward', 'lora.lora_delta_forward', 'lora.lora_delta_backward']),
    );
    expect(k().requireOps(['sampling.sample_token'], 'the pretrainer')).to.equal(
      'UNSUPPORTED: the pretrainer needs every op of the cpu ops table, but it has no 1 of them: sampling.sample_token',
    );
  });

  it('names each entry when it alone is missing, and all of them when every one is', () => {
    const entries = k().opsTableEntries();
    for (const e of entries) expect(k().requireOps([e], 'the LLaVA model'), e).to.equal(refusal([e]));
    expect(k().requireOps([...entries].reverse(), 'the LLaVA model')).to.equal(refusal(entries));
  });

  it('refuses a name that is not an entry of the table', () => {
    expect(() => k().requireOps(['lora.lora_delta'], 'the LLaVA model')).to.throw(
      TypeError,
      'Expected an entry of the ops table (family.op, e.g. lora.lora_delta_forward) for kernels.requireOps clear[0] but received a string "lora.lora_delta"',
    );
  });
});
