// Stage 2a (describe) with stand-in engines, and stage 2b data (infuse): the join is by id even when
// the files are shuffled, the text goes right after the image token, and every sample without a
// description and every description without a sample is reported.
import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { descriptionFormat } from '../../../lib/data/records/descriptions.ts';
import { instructionFormat } from '../../../lib/data/records/instructions.ts';
import { loadRecords } from '../../../lib/data/records/load.ts';
import { planDescription, runDescribeStage } from '../../../lib/stic/stages/describe.ts';
import { infuseSamples, insertDescription } from '../../../lib/stic/stages/infuse.ts';
import { userTurn } from '../../../lib/data/records/preference.ts';
import { DEFAULT_PROMPTS } from '../../../lib/data/prompts.ts';
import { executeInfuse } from '../../../lib/stic/stages/infuse.ts';
import { makeRng } from '../../helpers/rng.ts';
import { FakeEngine, FakeImages, fakeAnswer, writeImages } from '../fakes.ts';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures', 'stic');
const settings = { missing: 'drop' as const, joinBy: 'id' as const, template: DEFAULT_PROMPTS.infusion };

describe('insertDescription', () => {
  const info = 'Image description:\nA bus.\n\n';
  it('right after "<image>\\n" (the common LLaVA layout)', () => {
    expect(insertDescription('<image>\nWhat colour is the bus?', info)).to.equal('<image>\nImage description:\nA bus.\n\nWhat colour is the bus?');
  });
  it('after a trailing image token', () => {
    expect(insertDescription('What is written on the sign?\n<image>', info)).to.equal('What is written on the sign?\n<image>\nImage description:\nA bus.\n\n');
  });
  it('prepended when the turn has no image token', () => {
    expect(insertDescription('Describe the weather.', info)).to.equal('Image description:\nA bus.\n\nDescribe the weather.');
  });
  it('only after the first image token', () => {
    expect(insertDescription('<image>\nA <image> B', info)).to.equal('<image>\nImage description:\nA bus.\n\nA <image> B');
  });
});

describe('infuse', () => {
  let dir: string;
  before(() => (dir = mkdtempSync(path.join(tmpdir(), 'stic-infuse-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('joins the fixture by id: infused, text-only, missing and unused', async () => {
    const samples = (await loadRecords(path.join(fixtures, 'instructions.json'), instructionFormat)).records;
    const descs = (await loadRecords(path.join(fixtures, 'descriptions.jsonl'), descriptionFormat())).records;
    const { output, report } = infuseSamples(samples, descs, settings);
    expect(report).to.deep.equal({ samples: 5, written: 4, infused: 3, textOnly: 1, missing: ['no-desc'], unused: ['orphan-7'], ambiguous: 0 });
    const first = (o: object) => (o as { conversations: { value: string }[] }).conversations[0].value;
    expect(output.map(first)).to.deep.equal([
      '<image>\nImage description:\nA white bus with a red stripe stops at a shelter where three people wait.\n\nWhat colour is the bus?',
      'What is written on the sign?\n<image>\nImage description:\nA red octagonal road sign on a pole.\n\n',
      'Image description:\nA park with tall trees under a blue sky.\n\nDescribe the weather in this picture.',
      'Name three primary colours.',
    ]);
    // everything else of a sample is kept as it was
    expect(output[1]).to.deep.include({ id: 'tvqa-17', source: 'textvqa' });
    expect((output[0] as { conversations: unknown[] }).conversations.slice(1)).to.deep.equal(samples[0].conversations.slice(1));
    expect(output[2]).to.deep.include({ id: 4242 });
  });

  it('shuffled inputs give the same output (never joined by position)', () => {
    const rng = makeRng(3);
    const n = 60;
    const samples = Array.from({ length: n }, (_, i) => ({
      id: `s${i}`, image: `img/${i}.jpg`,
      conversations: [{ from: 'human' as const, value: `<image>\nQ${i}?` }, { from: 'gpt' as const, value: `A${i}` }],
      raw: { id: `s${i}`, image: `img/${i}.jpg`, conversations: [{ from: 'human', value: `<image>\nQ${i}?` }, { from: 'gpt', value: `A${i}` }] },
    }));
    const descs = samples.map((s, i) => ({ id: s.id, image: s.image, prompt: 'p', description: `D${i}-${rng.int(0, 1e6)}` }));
    const shuffle = <T>(xs: T[]) => xs.map((x) => [rng.next(), x] as const).sort((a, b) => a[0] - b[0]).map(([, x]) => x);
    const ref = infuseSamples(samples, descs, settings).output;
    for (let t = 0; t < 5; t++) expect(infuseSamples(samples, shuffle(descs), settings).output).to.deep.equal(ref);
    ref.forEach((o, i) => expect((o as { conversations: { value: string }[] }).conversations[0].value).to.equal(`<image>\nImage description:\n${descs[i].description}\n\nQ${i}?`));
  });

  it('--missing keep / error, --join-by image for description files without ids', async () => {
    const samples = (await loadRecords(path.join(fixtures, 'instructions.json'), instructionFormat)).records;
    const descs = (await loadRecords(path.join(fixtures, 'descriptions.jsonl'), descriptionFormat())).records;
    expect(infuseSamples(samples, descs, { ...settings, missing: 'keep' }).report.written).to.equal(5);
    expect(() => infuseSamples(samples, descs, { ...settings, missing: 'error' })).to.throw('1 samples with an image have no description (--missing error): "no-desc"');
    const publicDescs = [
      { id: '/data/x/coco/train2017/000000033471.jpg', image: '/data/x/coco/train2017/000000033471.jpg', prompt: 'p', description: 'bus' },
      { id: '/data/x/vg/VG_100K/4242.jpg', image: '/data/x/vg/VG_100K/4242.jpg', prompt: 'p', description: 'park' },
    ];
    const { report } = infuseSamples(samples, publicDescs, { ...settings, joinBy: 'image' });
    expect(report).to.deep.include({ infused: 2, missing: ['tvqa-17', 'no-desc'], unused: [] });
  });

  it('executeInfuse writes LLaVA JSON atomically and reports the counts and ids', async () => {
    const out = path.join(dir, 'infused.json');
    const r = await executeInfuse(
      { model: '', prompts: DEFAULT_PROMPTS, log: () => undefined },
      { instructions: path.join(fixtures, 'instructions.json'), descriptions: path.join(fixtures, 'descriptions.jsonl'), missing: 'drop', joinBy: 'id' },
      out,
    );
    expect(JSON.parse(readFileSync(out, 'utf8')).length).to.equal(4);
    expect(r.report).to.equal(
      [
        `infuse: 4 samples written to ${out} (3 with a description, 1 text-only unchanged)`,
        'infuse: 1 samples with an image have no description and were left out: "no-desc"',
        'infuse: 1 descriptions match no sample: "orphan-7"',
        'infuse: no records skipped',
        '',
      ].join('\n'),
    );
    expect(r.counts).to.deep.equal({ samples: 5, written: 4, infused: 3, missing: 1, unused: 1, skipped: 0 });
  });
});

describe('describe stage', () => {
  let dir: string;
  before(() => (dir = mkdtempSync(path.join(tmpdir(), 'stic-describe-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('describes each sample with an image using its planned prompt and seed; text-only counted; resumes', async () => {
    const names = await writeImages(path.join(dir, 'img'), 5, 8);
    const recs = [
      ...names.map((n, i) => ({ id: `s${i}`, image: `img/${n}`, conversations: [{ from: 'human', value: `<image>\nQ${i}` }, { from: 'gpt', value: 'A' }] })),
      { id: 'txt', conversations: [{ from: 'human', value: 'Hi' }, { from: 'gpt', value: 'Hello' }] },
      { id: 'gone', image: 'img/gone.png', conversations: [{ from: 'human', value: '<image>\nQ' }, { from: 'gpt', value: 'A' }] },
    ];
    const file = path.join(dir, 'data.json');
    writeFileSync(file, JSON.stringify(recs, null, 2));
    const samples = (await loadRecords(file, instructionFormat)).records;
    const base = { samples, imageRoot: dir, prompts: DEFAULT_PROMPTS, sampling: { temperature: 0.2, topP: 1, topK: 0, maxNewTokens: 1024 }, batchSize: 2, seed: 9 };
    const whole = path.join(dir, 'whole.jsonl');
    const r = await runDescribeStage({ ...base, out: whole }, { engine: new FakeEngine(), images: new FakeImages() });
    expect(r).to.deep.include({ total: 6, resumed: 0, written: 5, textOnly: 1 });
    expect(r.skips.faults.map((f) => f.message)).to.deep.equal([`${file}:85 (id "gone"): image not found: ${path.join(dir, 'img/gone.png')} ("img/gone.png" resolved against --image-root ${dir}); pass --image-root DIR, the folder the image paths are relative to`]);
    const lines = readFileSync(whole, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
    const images = new FakeImages();
    for (const [i, d] of lines.entries()) {
      const plan = planDescription(`s${i}`, DEFAULT_PROMPTS, 9);
      expect(d).to.deep.equal({ id: `s${i}`, image: `img/${names[i]}`, image_root: '.', prompt: plan.prompt, description: fakeAnswer([userTurn(plan.prompt)], await images.load(path.join(dir, 'img', names[i])), plan.seed) });
    }
    // kill after the first batch, resume: same bytes
    const part = path.join(dir, 'part.jsonl');
    writeFileSync(part, readFileSync(whole, 'utf8').split('\n').slice(0, 2).join('\n') + '\n{"id":"s2","ima');
    const again = await runDescribeStage({ ...base, out: part, batchSize: 3 }, { engine: new FakeEngine(), images: new FakeImages() });
    expect(again).to.deep.include({ resumed: 2, written: 3 });
    expect(readFileSync(part)).to.deep.equal(readFileSync(whole));
  });
});
