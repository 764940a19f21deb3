// Stage 1a runner with stand-in engines: what each record holds, batching, kill-and-resume
// (byte-identical output), skipped images, reference log-probs, the reproduction flag.
import { expect } from 'chai';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { listUnlabeledImages } from '../../../lib/data/records/unlabeled.ts';
import type { CorruptionSpec, RgbImage } from '../../../lib/stic/engine_api.ts';
import { userTurn } from '../../../lib/data/records/preference.ts';
import { planPreference } from '../../../lib/stic/stages/pref_plan.ts';
import { type PrefStageInput, runPrefStage } from '../../../lib/stic/stages/pref.ts';
import { DEFAULT_PROMPTS } from '../../../lib/data/prompts.ts';
import { FakeEngine, FakeEngineNoLogprobs, FakeImages, fakeAnswer, fakeLogprob, writeImages } from '../fakes.ts';
import { rejectionOf } from '../../helpers/rejection.ts';

const lowres: CorruptionSpec = { kind: 'lowres', size: 20 };
const jitter: CorruptionSpec = { kind: 'jitter', brightness: [0.5, 1.5], hue: [-0.3, 0.3] };

describe('pref stage', () => {
  let dir: string;
  let imagesDir: string;
  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'stic-pref-'));
    imagesDir = path.join(dir, 'images');
    await writeImages(imagesDir, 12, 5);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  async function input(out: string, over: Partial<PrefStageInput> = {}): Promise<PrefStageInput> {
    const set = await listUnlabeledImages(imagesDir);
    return {
      images: set.images,
      imageRoot: set.root,
      listingSkips: set.skips,
      out: path.join(dir, out),
      prompts: DEFAULT_PROMPTS,
      plan: { seed: 42, hallucinationProb: 0.5, corruptions: [lowres, jitter], reproduceUncorrupted: false },
      sampling: { temperature: 0.2, topP: 1, topK: 0, maxNewTokens: 1024 },
      batchSize: 5,
      refLogps: false,
      ...over,
    };
  }

  const readLines = (file: string) => readFileSync(file, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));

  it('writes one pair per image in input order; answers come from the planned prompts, images and seeds', async () => {
    const inp = await input('a.jsonl');
    const engine = new FakeEngine();
    const images = new FakeImages();
    const report = await runPrefStage(inp, { engine, images });
    expect(report).to.deep.include({ stage: 'pref', total: 12, resumed: 0, written: 12 });
    expect(report.skips.count).to.equal(0);
    expect(engine.generateCalls.map((c) => c.length)).to.deep.equal([10, 10, 4]); // batches of 5 images, 2 answers each
    const recs = readLines(inp.out);
    expect(recs.map((r) => r.id)).to.deep.equal(inp.images.map((i) => i.id));
    let corrupted = 0;
    for (const rec of recs) {
      const plan = planPreference(rec.id, DEFAULT_PROMPTS, inp.plan);
      const clean = await images.load(path.join(imagesDir, rec.image));
      expect(rec.chosen[1].content).to.equal(fakeAnswer([userTurn(DEFAULT_PROMPTS.detailed)], clean, plan.seeds.chosen));
      let rejectedImage: RgbImage = clean;
      if (plan.corruption) {
        corrupted++;
        [{ image: rejectedImage }] = await new FakeImages().corrupt([clean], plan.corruption.spec, [plan.corruption.seed]);
        expect(rec.provenance.corruption.params).to.have.keys(['shift', 'drawn']);
        expect(rec.provenance.corruption).to.deep.include({ kind: plan.corruption.spec.kind, seed: plan.corruption.seed, applied: true });
      }
      expect(rec.rejected[1].content).to.equal(fakeAnswer([userTurn(plan.dispreferredPrompt)], rejectedImage, plan.seeds.rejected));
      expect(rec.chosen[0]).to.deep.equal({ role: 'user', content: `<image>\n${plan.storedPrompt}` });
      expect(rec.provenance).to.deep.include({ model: 'fake-model', adapter: null, run_seed: 42, seeds: plan.seeds, finish: { chosen: 'eos', rejected: 'eos' } });
      expect(rec).to.not.have.property('ref_chosen_logp');
    }
    expect(corrupted).to.be.greaterThan(0).and.below(12);
    // one batched corrupt call per kind and batch, with the planned seeds
    for (const call of images.corruptCalls) expect(call.seeds.length).to.be.greaterThan(0);
    expect(existsSync(`${inp.out}.skipped.jsonl`)).to.equal(false);
  });

  it('a crash after two batches plus a torn line, then a re-run (other batch size): the same bytes as one uninterrupted run', async () => {
    const whole = await input('whole.jsonl');
    await runPrefStage(whole, { engine: new FakeEngine(), images: new FakeImages() });
    const inp = await input('killed.jsonl', { batchSize: 3 });
    const crashing = new FakeEngine();
    crashing.failOnCall = 2;
    expect((await rejectionOf(runPrefStage(inp, { engine: crashing, images: new FakeImages() }))).message).to.equal('simulated crash');
    expect(readLines(inp.out).length).to.equal(6);
    appendFileSync(inp.out, readFileSync(whole.out, 'utf8').split('\n')[6].slice(0, 40)); // a write cut short
    const engine = new FakeEngine();
    const report = await runPrefStage({ ...inp, batchSize: 4 }, { engine, images: new FakeImages() });
    expect(report).to.deep.include({ resumed: 6, written: 6 });
    expect(engine.generateCalls.flat().length).to.equal(12); // only the 6 missing images were generated
    expect(readFileSync(inp.out)).to.deep.equal(readFileSync(whole.out));
    // and a third run has nothing to do
    const idle = new FakeEngine();
    expect(await runPrefStage(inp, { engine: idle, images: new FakeImages() })).to.deep.include({ resumed: 12, written: 0 });
    expect(idle.generateCalls.length).to.equal(0);
  });

  it('a missing and an unreadable image are skipped, counted and listed; the others are written', async () => {
    const list = path.join(dir, 'list.txt');
    writeFileSync(path.join(imagesDir, 'broken.png'), 'not a png');
    writeFileSync(list, ['images/img-00.png', 'images/missing.png', 'images/broken.png', 'images/img-01.png'].join('\n'));
    const set = await listUnlabeledImages(list);
    const inp = { ...(await input('skips.jsonl')), images: set.images, listingSkips: set.skips };
    const report = await runPrefStage(inp, { engine: new FakeEngine(), images: new FakeImages() });
    rmSync(path.join(imagesDir, 'broken.png'));
    expect(report.written).to.equal(2);
    expect(report.skips.headline()).to.equal('2 records skipped (1 image not found, 1 image unreadable)');
    expect(report.skips.faults[0].message).to.equal(`${list}:2 (id "images/missing.png"): image not found: ${path.join(dir, 'images/missing.png')}`);
    expect(report.skips.faults[1].message).to.match(new RegExp(`^${list.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:3 \\(id "images/broken.png"\\): cannot read image .*broken\\.png: `));
    const listed = readLines(`${inp.out}.skipped.jsonl`);
    expect(listed.map((l) => [l.id, l.line, l.kind])).to.deep.equal([['images/missing.png', 2, 'image not found'], ['images/broken.png', 3, 'image unreadable']]);
    expect(readLines(inp.out).map((r) => r.id)).to.deep.equal(['images/img-00.png', 'images/img-01.png']);
  });

  it('--ref-logps stores the reference log-probs of both answers under the stored prompt with the clean image', async () => {
    const inp = await input('ref.jsonl', { refLogps: true });
    const engine = new FakeEngine();
    const images = new FakeImages();
    await runPrefStage(inp, { engine, images });
    // one call per pair, so stored values do not depend on batch boundaries
    expect(engine.logprobCalls.map((c) => c.map((it) => it.id.split('#')[1]))).to.deep.equal(Array.from({ length: 12 }, () => ['chosen', 'rejected']));
    for (const rec of readLines(inp.out)) {
      const clean = await images.load(path.join(imagesDir, rec.image));
      const prompt = [rec.chosen[0]];
      expect(rec.ref_chosen_logp).to.equal(fakeLogprob({ prompt, response: rec.chosen[1].content, image: clean }).sum);
      expect(rec.ref_rejected_logp).to.equal(fakeLogprob({ prompt, response: rec.rejected[1].content, image: clean }).sum);
    }
    const err = await rejectionOf(runPrefStage(await input('ref2.jsonl', { refLogps: true }), { engine: new FakeEngineNoLogprobs(), images }));
    expect(err.message).to.equal('--ref-logps needs an engine that computes log-probs, and this one does not');
  });

  it('--reproduce-uncorrupted: pairs are marked corrupted but the rejected answer sees the clean image', async () => {
    const inp = await input('defect-a.jsonl', { plan: { seed: 42, hallucinationProb: 0, corruptions: [lowres, jitter], reproduceUncorrupted: true } });
    const images = new FakeImages();
    await runPrefStage(inp, { engine: new FakeEngine(), images });
    expect(images.corruptCalls.length).to.equal(0);
    for (const rec of readLines(inp.out)) {
      expect(rec.image_corruption).to.equal(true);
      expect(rec.provenance.corruption.applied).to.equal(false);
      const plan = planPreference(rec.id, DEFAULT_PROMPTS, inp.plan);
      const clean = await images.load(path.join(imagesDir, rec.image));
      expect(rec.rejected[1].content).to.equal(fakeAnswer([userTurn(plan.storedPrompt)], clean, plan.seeds.rejected));
    }
  });

  it('an empty answer skips the pair with a reason', async () => {
    const inp = await input('empty.jsonl');
    const engine = new FakeEngine();
    engine.emptyFor.add('img-03.png');
    const report = await runPrefStage(inp, { engine, images: new FakeImages() });
    expect(report.written).to.equal(11);
    expect(report.skips.faults.map((f) => f.message)).to.deep.equal([
      `${path.join(imagesDir, 'img-03.png')} (id "img-03.png"): the model generated an empty preferred and dispreferred answer; no pair was written`,
    ]);
  });

  it('the output of a partial file whose last line is complete is not truncated', async () => {
    const inp = await input('clean-kill.jsonl');
    await runPrefStage(inp, { engine: new FakeEngine(), images: new FakeImages() });
    const full = readFileSync(inp.out);
    const keep = full.indexOf('\n', full.indexOf('\n') + 1) + 1; // two lines
    truncateSync(inp.out, keep);
    const report = await runPrefStage(inp, { engine: new FakeEngine(), images: new FakeImages() });
    expect(report).to.deep.include({ resumed: 2, written: 10 });
    expect(readFileSync(inp.out)).to.deep.equal(full);
  });
});
