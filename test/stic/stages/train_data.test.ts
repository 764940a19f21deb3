// The training stages' data path (pairs and SFT samples, images resolved and checked, the image
// token put back unless reproducing the public defect, reference log-prob modes), the training
// run plumbing with a stand-in trainer, and the plain message when the trainer is not built.
import { expect } from 'chai';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { loadDpoData, loadSftData } from '../../../lib/stic/stages/train_data.ts';
import { DPO_OPTIONS, validateDpoOptions } from '../../../lib/stic/train_options.ts';
import { cliProblem } from '../../../lib/stic/options.ts';
import { runTraining } from '../../../lib/stic/stages/train_run.ts';
import { FakeTrainer, writeImages } from '../fakes.ts';
import { rejectionOf } from '../../helpers/rejection.ts';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures', 'stic');

describe('training data', () => {
  let dir: string;
  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'stic-traindata-'));
    const names = await writeImages(path.join(dir, 'imgs'), 2, 1);
    copyFileSync(path.join(dir, 'imgs', names[0]), path.join(dir, 'imgs', 'COCO_train2014_000000000009.jpg'));
    copyFileSync(path.join(dir, 'imgs', names[1]), path.join(dir, 'imgs', 'COCO_train2014_000000000025.jpg'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const dpo = { refLogps: 'auto' as const, reproduceMissingImageToken: false };

  it('public STIC pairs: the lost image token is put back; with the reproduction flag it is not', async () => {
    const file = path.join(fixtures, 'public-pref.jsonl');
    const d = await loadDpoData(file, { ...dpo, imageRoot: path.join(dir, 'imgs') });
    expect(d.formats).to.deep.equal({ stic: 0, 'stic-public': 2, trl: 0 });
    expect(d.imageTokenRestored).to.equal(1);
    expect(d.reference).to.equal('compute');
    expect(d.examples[0]).to.deep.equal({
      id: 'COCO_train2014_000000000009.jpg',
      image: path.join(dir, 'imgs', 'COCO_train2014_000000000009.jpg'),
      prompt: [{ role: 'user', content: '<image>\nOutline the main things shown in the picture.' }],
      chosen: 'A lunch box holds broccoli, bread and a small bowl of fruit on a wooden table.',
      rejected: "A lunch box sits beside a kettle, a chef's knife and a toaster on a busy counter.",
    });
    expect(d.examples[1].prompt[0].content).to.equal('<image>\nSay what the photograph shows.');
    const r = await loadDpoData(file, { ...dpo, reproduceMissingImageToken: true, imageRoot: path.join(dir, 'imgs') });
    expect([r.imageTokenRestored, r.imageTokenMissing]).to.deep.equal([0, 1]);
    expect(r.examples[0].prompt[0].content).to.equal('Outline the main things shown in the picture.');
  });

  it('missing images are skipped and counted; none left is a file-level error', async () => {
    const file = path.join(fixtures, 'public-pref.json');
    const err = await rejectionOf(loadDpoData(file, dpo)); // images resolved next to the file: absent
    expect(err.message).to.equal(`${file}: no usable preference pairs (2 records skipped (2 image not found))`);
    const partial = path.join(dir, 'p.jsonl');
    const lines = readFileSync(path.join(fixtures, 'public-pref.jsonl'), 'utf8').trimEnd().split('\n');
    writeFileSync(partial, [lines[0], lines[1].replace('000000000025', '000000000099')].join('\n'));
    const d = await loadDpoData(partial, { ...dpo, imageRoot: path.join(dir, 'imgs') });
    expect(d.examples.length).to.equal(1);
    expect(d.skips.faults.map((f) => f.message)).to.deep.equal([`${partial}:2 (id "COCO_train2014_000000000099.jpg"): image not found: ${path.join(dir, 'imgs', 'COCO_train2014_000000000099.jpg')} ("COCO_train2014_000000000099.jpg" resolved against --image-root ${path.join(dir, 'imgs')}); pass --image-root DIR, the folder the image paths are relative to`]);
  });

  // Issue 19: stic pref wrote paths relative to --images and stic dpo resolved them against the pref
  // file's folder, so the README's own commands failed with "image not found" for every pair.
  it('image_root in a record points at the images from the file\'s folder; --image-root overrides it; not found says what was tried', async () => {
    const runDir = path.join(dir, 'runs', 'a');
    mkdirSync(runDir, { recursive: true });
    const file = path.join(runDir, 'pref.jsonl');
    const pair = (id: string, image: string) => JSON.stringify({
      id, image, image_root: '../../imgs',
      chosen: [{ role: 'user', content: '<image>\nDescribe.' }, { role: 'assistant', content: 'good' }],
      rejected: [{ role: 'user', content: '<image>\nDescribe.' }, { role: 'assistant', content: 'bad' }],
      provenance: { dispreferred: 'hallucination', corruption: null },
    });
    writeFileSync(file, `${pair('a', 'COCO_train2014_000000000009.jpg')}\n${pair('b', 'gone.jpg')}\n`);
    const d = await loadDpoData(file, dpo);
    expect(d.examples.map((e) => e.image)).to.deep.equal([path.join(dir, 'imgs', 'COCO_train2014_000000000009.jpg')]);
    expect(d.skips.faults.map((f) => f.message)).to.deep.equal([
      `${file}:2 (id "b"): image not found: ${path.join(dir, 'imgs', 'gone.jpg')} ("gone.jpg" resolved against the record's "image_root" (${path.join(dir, 'imgs')})); pass --image-root DIR, the folder the image paths are relative to`,
    ]);
    const err = await rejectionOf(loadDpoData(file, { ...dpo, imageRoot: runDir }));
    expect(err.message).to.equal(`${file}: no usable preference pairs (2 records skipped (2 image not found))`);
    const sft = path.join(runDir, 'infused.json');
    writeFileSync(sft, JSON.stringify([{ id: 's', image: 'COCO_train2014_000000000025.jpg', image_root: '../../imgs', conversations: [{ from: 'human', value: '<image>\nQ?' }, { from: 'gpt', value: 'A.' }] }]));
    expect((await loadSftData(sft, {})).examples[0].image).to.equal(path.join(dir, 'imgs', 'COCO_train2014_000000000025.jpg'));
  });

  it('TRL pairs (standard and conversational) give the examples ours give; their images resolve like ours and a missing one names the path tried', async () => {
    const imgs = path.join(dir, 'imgs');
    const names = ['COCO_train2014_000000000009.jpg', 'COCO_train2014_000000000025.jpg'];
    const ours = path.join(dir, 'ours-eq.jsonl');
    const pair = (i: number) => ({ q: `Describe picture ${i}.`, c: `good ${i}`, r: `bad ${i}` });
    writeFileSync(ours, names.map((image, i) => JSON.stringify({
      id: `p${i}`, image, image_root: 'imgs',
      chosen: [{ role: 'user', content: `<image>\n${pair(i).q}` }, { role: 'assistant', content: pair(i).c }],
      rejected: [{ role: 'user', content: `<image>\n${pair(i).q}` }, { role: 'assistant', content: pair(i).r }],
      provenance: { dispreferred: 'hallucination', corruption: null },
    })).join('\n'));
    const standard = path.join(dir, 'trl-standard.jsonl');
    writeFileSync(standard, names.map((image, i) => JSON.stringify({ id: `p${i}`, prompt: pair(i).q, chosen: pair(i).c, rejected: pair(i).r, images: [`imgs/${image}`] })).join('\n'));
    const conversational = path.join(dir, 'trl-conversational.jsonl');
    writeFileSync(conversational, names.map((image, i) => JSON.stringify({
      id: `p${i}`,
      prompt: [{ role: 'user', content: [{ type: 'image' }, { type: 'text', text: pair(i).q }] }],
      chosen: [{ role: 'assistant', content: [{ type: 'text', text: pair(i).c }] }],
      rejected: [{ role: 'assistant', content: pair(i).r }],
      image, image_root: 'imgs',
    })).join('\n'));
    const expected = await loadDpoData(ours, dpo);
    expect(expected.examples.map((e) => e.image)).to.deep.equal(names.map((n) => path.join(imgs, n)));
    for (const file of [standard, conversational]) {
      const d = await loadDpoData(file, dpo);
      expect(d.examples, file).to.deep.equal(expected.examples);
      expect(d.formats).to.deep.equal({ stic: 0, 'stic-public': 0, trl: 2 });
      expect([d.imageTokenRestored, d.skips.count, d.reference]).to.deep.equal([0, 0, 'compute']);
    }
    const gone = path.join(dir, 'trl-gone.jsonl');
    writeFileSync(gone, `${JSON.stringify({ prompt: 'Q?', chosen: 'a', rejected: 'b', images: [`imgs/${names[0]}`] })}\n${JSON.stringify({ prompt: 'Q?', chosen: 'a', rejected: 'b', images: ['nope.jpg'] })}\n`);
    const d = await loadDpoData(gone, dpo);
    expect(d.examples.map((e) => e.id)).to.deep.equal(['line 1']);
    expect(d.skips.faults.map((f) => f.message)).to.deep.equal([
      `${gone}:2 (id "line 2"): image not found: ${path.join(dir, 'nope.jpg')} ("nope.jpg" resolved against the folder of ${gone}); pass --image-root DIR, the folder the image paths are relative to`,
    ]);
  });

  it('reference log-probs: auto uses stored ones when every pair has them; stored requires them', async () => {
    const file = path.join(dir, 'ours.jsonl');
    const pair = (id: string, ref: boolean) => JSON.stringify({
      id, image: 'COCO_train2014_000000000009.jpg',
      chosen: [{ role: 'user', content: '<image>\nDescribe.' }, { role: 'assistant', content: 'good' }],
      rejected: [{ role: 'user', content: '<image>\nDescribe.' }, { role: 'assistant', content: 'bad' }],
      provenance: { dispreferred: 'hallucination', corruption: null },
      ...(ref ? { ref_chosen_logp: -4.5, ref_rejected_logp: -9 } : {}),
    });
    writeFileSync(file, `${pair('a', true)}\n${pair('b', true)}\n`);
    const all = await loadDpoData(file, { ...dpo, imageRoot: path.join(dir, 'imgs') });
    expect(all.reference).to.equal('stored');
    expect(all.examples[0]).to.deep.include({ refChosenLogp: -4.5, refRejectedLogp: -9 });
    const computed = await loadDpoData(file, { ...dpo, refLogps: 'compute', imageRoot: path.join(dir, 'imgs') });
    expect(computed.examples[0]).to.not.have.property('refChosenLogp');
    writeFileSync(file, `${pair('a', true)}\n${pair('b', false)}\n`);
    expect((await loadDpoData(file, { ...dpo, imageRoot: path.join(dir, 'imgs') })).reference).to.equal('compute');
    const err = await rejectionOf(loadDpoData(file, { ...dpo, refLogps: 'stored', imageRoot: path.join(dir, 'imgs') }));
    expect(err.message).to.equal(`${file}: --ref-logps stored needs "ref_chosen_logp" and "ref_rejected_logp" in every pair but 1 of 2 lack them (first: ${file}:2 (id "b"))`);
  });

  it('SFT samples: roles mapped, images resolved, text-only kept, missing image token put in front', async () => {
    const file = path.join(dir, 'sft.json');
    writeFileSync(file, JSON.stringify([
      { id: 1, image: 'COCO_train2014_000000000009.jpg', conversations: [{ from: 'human', value: 'Q?' }, { from: 'gpt', value: 'A.' }] },
      { id: 't', conversations: [{ from: 'human', value: 'Hi' }, { from: 'gpt', value: 'Hello' }] },
      { id: 'gone', image: 'nope.jpg', conversations: [{ from: 'human', value: '<image>\nQ?' }, { from: 'gpt', value: 'A.' }] },
    ]));
    const d = await loadSftData(file, { imageRoot: path.join(dir, 'imgs') });
    expect(d.examples).to.deep.equal([
      { id: '1', image: path.join(dir, 'imgs', 'COCO_train2014_000000000009.jpg'), messages: [{ role: 'user', content: '<image>\nQ?' }, { role: 'assistant', content: 'A.' }] },
      { id: 't', messages: [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello' }] },
    ]);
    expect([d.textOnly, d.imageTokenAdded, d.skips.count]).to.deep.equal([1, 1, 1]);
  });
});

describe('training run plumbing', () => {
  it('metrics per step, chart (SVG + PNG), summary; the DPO options reach the trainer with the paper defaults', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'stic-trainrun-'));
    try {
      const options = validateDpoOptions({ prefs: 'p.jsonl' }, cliProblem);
      expect(options).to.deep.include({
        beta: 0.1, sftWeight: 1 / 1024, sftNorm: 'sum', rejectedLogp: 'label', loss: 'sigmoid', loraR: 128, loraAlpha: 256, loraDropout: 0.05,
        loraTargets: ['q', 'k', 'v', 'o', 'gate', 'up', 'down'], lr: 1e-7, projectorLr: 2e-5, trainProjector: true, schedule: 'cosine',
        warmupRatio: 0.03, epochs: 1, batchSize: 8, gradAccum: 1, maxLength: 2048, seed: 42,
      });
      expect(Object.keys(options).sort()).to.deep.equal(Object.keys(DPO_OPTIONS).sort());
      const trainer = new FakeTrainer();
      const examples = Array.from({ length: 20 }, (_, i) => ({ id: `p${i}`, image: `/x/${i}.png`, prompt: [{ role: 'user' as const, content: '<image>\nD' }], chosen: `c${i}`, rejected: `r${i}` }));
      const out = path.join(dir, 'dpo');
      const run = await runTraining(trainer, { kind: 'dpo', job: { model: 'm', out, resume: true, examples, options } }, [['stage', 'dpo']]);
      expect(run.result.steps).to.equal(3);
      expect(readFileSync(run.metricsFile, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l).step)).to.deep.equal([0, 1, 2]);
      expect(readFileSync(run.chart.svg, 'utf8')).to.contain('data-title="reward accuracy"');
      expect(readFileSync(run.chart.png).subarray(1, 4).toString()).to.equal('PNG');
      expect(run.summary).to.equal(readFileSync(path.join(out, 'summary.txt'), 'utf8'));
      expect(run.summary.split('\n')[0]).to.equal('stage            dpo');
      expect(run.summary).to.contain(`\nadapter          ${out}\n`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
