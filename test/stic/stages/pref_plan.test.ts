// Stage-1a plans: a pure function of (seed, id, options); ~50/50 branches and corruptions over
// many images; choices independent of input order and of unrelated options; records in the
// public layout plus provenance.
import { expect } from 'chai';

import { parsePreference } from '../../../lib/data/records/preference.ts';
import type { CorruptionSpec } from '../../../lib/stic/engine_api.ts';
import { type PrefPlanOptions, planPreference, preferenceRecord } from '../../../lib/stic/stages/pref_plan.ts';
import { DEFAULT_PROMPTS } from '../../../lib/data/prompts.ts';

const lowres: CorruptionSpec = { kind: 'lowres', size: 20 };
const jitter: CorruptionSpec = { kind: 'jitter', brightness: [0.5, 1.5], hue: [-0.3, 0.3] };
const opts: PrefPlanOptions = { seed: 42, hallucinationProb: 0.5, corruptions: [lowres, jitter], reproduceUncorrupted: false };
const ids = Array.from({ length: 4000 }, (_, i) => `COCO_train2014_${String(i * 7919).padStart(12, '0')}.jpg`);

// Binomial(n, 1/2) stays within 4 standard deviations of n/2 (a false alarm every ~16k runs at most).
function expectHalf(k: number, n: number): void {
  expect(Math.abs(k - n / 2)).to.be.at.most(4 * Math.sqrt(n / 4));
}

describe('pref plan', () => {
  it('is deterministic and independent of order', () => {
    const a = ids.map((id) => planPreference(id, DEFAULT_PROMPTS, opts));
    const b = [...ids].reverse().map((id) => planPreference(id, DEFAULT_PROMPTS, opts)).reverse();
    expect(b).to.deep.equal(a);
    const other = ids.slice(0, 50).map((id) => planPreference(id, DEFAULT_PROMPTS, { ...opts, seed: 43 }));
    expect(other.filter((p, i) => p.storedPrompt !== a[i].storedPrompt || p.dispreferred !== a[i].dispreferred).length).to.be.greaterThan(20);
  });

  it('~50/50 hallucination vs corruption, ~50/50 lowres vs jitter, every prompt used about equally', () => {
    const plans = ids.map((id) => planPreference(id, DEFAULT_PROMPTS, opts));
    const hallu = plans.filter((p) => p.dispreferred === 'hallucination');
    expectHalf(hallu.length, plans.length);
    const corrupted = plans.filter((p) => p.corruption);
    expect(corrupted.length + hallu.length).to.equal(plans.length);
    expectHalf(corrupted.filter((p) => p.corruption!.spec.kind === 'lowres').length, corrupted.length);
    const byPrompt = new Map<string, number>();
    for (const p of plans) byPrompt.set(p.storedPrompt, (byPrompt.get(p.storedPrompt) ?? 0) + 1);
    expect(byPrompt.size).to.equal(8);
    const chi2 = [...byPrompt.values()].reduce((s, c) => s + (c - 500) ** 2 / 500, 0);
    expect(chi2).to.be.below(24.3); // p = 0.001, 7 degrees of freedom
  });

  it('branch contents: hallucination uses a hallucination prompt on the clean image; corruption re-uses the stored plain prompt', () => {
    for (const p of ids.slice(0, 200).map((id) => planPreference(id, DEFAULT_PROMPTS, opts))) {
      expect(p.preferredPrompt).to.equal(DEFAULT_PROMPTS.detailed);
      expect(DEFAULT_PROMPTS.plain).to.include(p.storedPrompt);
      if (p.dispreferred === 'hallucination') {
        expect(DEFAULT_PROMPTS.hallucination).to.include(p.dispreferredPrompt);
        expect(p.corruption).to.equal(null);
      } else {
        expect(p.dispreferredPrompt).to.equal(p.storedPrompt);
        expect(p.corruption!.apply).to.equal(true);
        expect(Number.isInteger(p.corruption!.seed)).to.equal(true);
      }
      expect(p.seeds.chosen).to.not.equal(p.seeds.rejected);
    }
  });

  it('changing the hallucination probability flips branches only; prompts, seeds and corruption draws stay', () => {
    const a = ids.slice(0, 300).map((id) => planPreference(id, DEFAULT_PROMPTS, opts));
    const b = ids.slice(0, 300).map((id) => planPreference(id, DEFAULT_PROMPTS, { ...opts, hallucinationProb: 0.8 }));
    a.forEach((p, i) => {
      expect(b[i].storedPrompt).to.equal(p.storedPrompt);
      expect(b[i].seeds).to.deep.equal(p.seeds);
      if (p.dispreferred === 'hallucination') expect(b[i].dispreferred).to.equal('hallucination');
    });
    expect(b.filter((p) => p.dispreferred === 'hallucination').length).to.be.greaterThan(a.filter((p) => p.dispreferred === 'hallucination').length);
    expect(ids.slice(0, 100).every((id) => planPreference(id, DEFAULT_PROMPTS, { ...opts, hallucinationProb: 0 }).dispreferred === 'corruption')).to.equal(true);
    expect(ids.slice(0, 100).every((id) => planPreference(id, DEFAULT_PROMPTS, { ...opts, hallucinationProb: 1 }).dispreferred === 'hallucination')).to.equal(true);
  });

  it('other corruption kinds are drawn uniformly from the selection', () => {
    const sel: CorruptionSpec[] = [lowres, jitter, { kind: 'blur', sigma: 2 }];
    const kinds = new Map<string, number>();
    for (const id of ids) {
      const p = planPreference(id, DEFAULT_PROMPTS, { ...opts, corruptions: sel, hallucinationProb: 0 });
      kinds.set(p.corruption!.spec.kind, (kinds.get(p.corruption!.spec.kind) ?? 0) + 1);
    }
    expect([...kinds.keys()].sort()).to.deep.equal(['blur', 'jitter', 'lowres']);
    for (const c of kinds.values()) expect(Math.abs(c - ids.length / 3)).to.be.below(4 * Math.sqrt((ids.length * 2) / 9));
  });

  it('--reproduce-uncorrupted (public defect (a)): the flag is recorded, the image is not corrupted', () => {
    const id = ids.find((i) => planPreference(i, DEFAULT_PROMPTS, opts).dispreferred === 'corruption') as string;
    const p = planPreference(id, DEFAULT_PROMPTS, { ...opts, reproduceUncorrupted: true });
    expect(p.corruption!.apply).to.equal(false);
    const rec = preferenceRecord(p, { chosen: { text: 'good', finish: 'eos', newTokens: 1 }, rejected: { text: 'bad', finish: 'length', newTokens: 1 }, corruptionParams: {} }, {
      image: id, imageRoot: '.', sampling: { temperature: 0.2, topP: 1, topK: 0, maxNewTokens: 1024 }, model: 'm', adapter: null, runSeed: 42,
    });
    expect(rec.image_corruption).to.equal(true);
    expect(rec.provenance.corruption).to.deep.include({ kind: p.corruption!.spec.kind, applied: false, seed: p.corruption!.seed });
  });

  it('a record has the public fields, the stored prompt with the image token in both turns, and reads back', () => {
    const id = ids.find((i) => planPreference(i, DEFAULT_PROMPTS, opts).dispreferred === 'hallucination') as string;
    const p = planPreference(id, DEFAULT_PROMPTS, opts);
    const rec = preferenceRecord(p, { chosen: { text: 'good', finish: 'eos', newTokens: 1 }, rejected: { text: 'bad', finish: 'eos', newTokens: 1 }, corruptionParams: {}, ref: { chosen: -3, rejected: -7 } }, {
      image: `imgs/${id}`, imageRoot: '../data', sampling: { temperature: 0.2, topP: 1, topK: 0, maxNewTokens: 1024 }, model: 'm', adapter: null, runSeed: 42,
    });
    const user = { role: 'user', content: `<image>\n${p.storedPrompt}` };
    expect(rec.chosen).to.deep.equal([user, { role: 'assistant', content: 'good' }]);
    expect(rec.rejected).to.deep.equal([user, { role: 'assistant', content: 'bad' }]);
    expect([rec.image_corruption, rec.hallu_prompt]).to.deep.equal([false, p.dispreferredPrompt]);
    expect(rec.provenance.prompts).to.deep.equal({ preferred: DEFAULT_PROMPTS.detailed, dispreferred: p.dispreferredPrompt, stored: p.storedPrompt });
    expect(rec.provenance.sampling).to.deep.equal({ temperature: 0.2, top_p: 1, top_k: 0, max_new_tokens: 1024 });
    const back = parsePreference(JSON.parse(JSON.stringify(rec)));
    expect(back).to.deep.equal({
      id, image: `imgs/${id}`, imageRoot: '../data', format: 'stic', prompt: [user], chosen: 'good', rejected: 'bad', promptHasImageToken: true, refChosenLogp: -3, refRejectedLogp: -7,
    });
  });
});
