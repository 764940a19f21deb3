// A toy dataset on disk (lib/toy/dataset.ts) and `stic toy world`: every file, its records joined
// back to the truth, images at every size, and the CLI's exit codes.
import { expect } from 'chai';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';

import { main } from '../../bin/cli.ts';
import { writeToyDataset } from '../../lib/toy/dataset.ts';
import { captions, questions, reasonedAnswer } from '../../lib/toy/text.ts';
import { generateScenes } from '../../lib/toy/world.ts';

function readJsonl(file: string): Record<string, unknown>[] {
  return readFileSync(file, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('toy dataset', () => {
  let dir = '';
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'stic-toy-ds-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('writes images, truth, captions, questions and instruction samples that agree', async () => {
    const progress: number[] = [];
    const r = await writeToyDataset({ outDir: dir, seed: 9, count: 4, start: 10, extraSizes: [112], onScene: (done) => progress.push(done) });
    const scenes = generateScenes(9, 4, 10);
    expect(progress).to.deep.equal([1, 2, 3, 4]);
    expect(r.scenes).to.equal(4);
    expect(readJsonl(path.join(dir, 'truth.jsonl'))).to.deep.equal(JSON.parse(JSON.stringify(scenes)));
    expect(readJsonl(path.join(dir, 'captions.jsonl'))).to.deep.equal(scenes.map((s) => ({ id: s.id, image: `images/${s.id}.png`, captions: captions(s) })));
    const qa = readJsonl(path.join(dir, 'qa.jsonl'));
    expect(qa).to.deep.equal(scenes.flatMap((s) => questions(s).map((q) => ({ ...q, image: `images/${s.id}.png` }))));
    expect(r.questions).to.equal(qa.length);
    for (const s of scenes) {
      expect((await sharp(path.join(dir, 'images', `${s.id}.png`)).metadata()).width).to.equal(84);
      expect((await sharp(path.join(dir, 'images_112px', `${s.id}.png`)).metadata()).width).to.equal(112);
    }
    const inst = readJsonl(path.join(dir, 'instructions.jsonl'));
    const first = inst[0] as { id: string; image: string; conversations: { from: string; value: string }[] };
    const short = questions(scenes[0]).filter((q) => q.type !== 'describe');
    expect(first.id).to.equal(scenes[0].id);
    expect(first.conversations).to.have.length(2 * short.length);
    expect(first.conversations[0]).to.deep.equal({ from: 'human', value: `<image>\n${short[0].question}` });
    expect(first.conversations[1]).to.deep.equal({ from: 'gpt', value: short[0].answer });
    expect(first.conversations[2]).to.deep.equal({ from: 'human', value: short[1].question });
    expect(JSON.parse(readFileSync(path.join(dir, 'world.json'), 'utf8'))).to.deep.equal({
      seed: 9,
      start: 10,
      count: 4,
      size: 84,
      extraSizes: [112],
      minShapes: null,
      maxShapes: null,
      reasoned: false,
    });
  });

  it('writes the instruction answers in the reasoned form for a model pretrained with --reasoned (the questions stay canonical)', async () => {
    await writeToyDataset({ outDir: dir, seed: 9, count: 3, reasoned: true });
    const scenes = generateScenes(9, 3);
    const inst = readJsonl(path.join(dir, 'instructions.jsonl')) as { conversations: { from: string; value: string }[] }[];
    scenes.forEach((scene, k) => {
      const short = questions(scene).filter((q) => q.type !== 'describe');
      expect(inst[k].conversations.filter((c) => c.from === 'gpt').map((c) => c.value)).to.deep.equal(short.map((q) => reasonedAnswer(scene, q)));
    });
    expect(inst.some((s) => s.conversations.some((c) => c.value.includes(': yes')))).to.equal(true);
    expect(readJsonl(path.join(dir, 'qa.jsonl'))).to.deep.equal(scenes.flatMap((s) => questions(s).map((q) => ({ ...q, image: `images/${s.id}.png` }))));
    expect(JSON.parse(readFileSync(path.join(dir, 'world.json'), 'utf8')).reasoned).to.equal(true);
  });

  it('is written by `stic toy world`, which exits 1 on a bad count and 0 otherwise', async () => {
    const stderr = process.stderr.write;
    const stdout = process.stdout.write;
    let err = '';
    let out = '';
    process.stderr.write = ((s: string) => ((err += s), true)) as typeof process.stderr.write;
    process.stdout.write = ((s: string) => ((out += s), true)) as typeof process.stdout.write;
    let bad: number;
    let good: number;
    try {
      bad = await main(['toy', 'world', '--out', dir, '--count', '-3']);
      good = await main(['toy', 'world', '--out', dir, '--count', '2', '--seed', '4', '--size', '56']);
    } finally {
      process.stderr.write = stderr;
      process.stdout.write = stdout;
    }
    expect(bad).to.equal(1);
    expect(err).to.equal('stic: Expected a non-negative integer for the scene count but received -3\n');
    expect(good).to.equal(0);
    expect(out).to.equal(`wrote 2 scenes and ${generateScenes(4, 2).flatMap(questions).length} questions to ${dir} (truth.jsonl, captions.jsonl, qa.jsonl, instructions.jsonl, world.json, images/)\n`);
    expect(existsSync(path.join(dir, 'images', 'toy-4-1.png'))).to.equal(true);
    expect((await sharp(path.join(dir, 'images', 'toy-4-1.png')).metadata()).width).to.equal(56);
  });
});
