// The benchmark readers on tiny files in each official format (images made here), scored with
// hand-written answers whose scores are worked out by hand; bad files name the file, the line (or
// row, or record) and what was expected.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { expect } from 'chai';

import { chartQaBenchmark } from '../../lib/eval/chartqa.ts';
import { mmbenchBenchmark, readMmbench } from '../../lib/eval/mmbench.ts';
import { popeBenchmark } from '../../lib/eval/pope.ts';
import { scienceQaBenchmark } from '../../lib/eval/scienceqa.ts';
import { textVqaBenchmark } from '../../lib/eval/textvqa.ts';
import { jsonl, rejection, writeImage, writeText } from './helpers.ts';

describe('eval readers: official formats, scores, bad files', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'stic-eval-read-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('ScienceQA: image problems of the test split only, LLaVA prompt, accuracy and breakdowns', async () => {
    const problem = (question: string, choices: string[], answer: number, extra: object) => ({ question, choices, answer, hint: '', image: 'image.png', subject: 'natural science', grade: 'grade2', split: 'test', ...extra });
    writeText(path.join(dir, 'problems.json'), JSON.stringify({
      1: problem('Which is a mammal?', ['frog', 'dog'], 1, {}),
      2: problem('Which word rhymes?', ['cat', 'hat', 'dog'], 0, { subject: 'language science', grade: 'grade8', hint: 'Read the list.' }),
      3: problem('No image here', ['a', 'b'], 0, { image: null }),
      4: problem('Train problem', ['a', 'b'], 0, {}),
    }));
    writeText(path.join(dir, 'pid_splits.json'), JSON.stringify({ train: ['4'], val: [], test: ['1', '2', '3'] }));
    await writeImage(path.join(dir, 'images/test/1/image.png'), 1);
    await writeImage(path.join(dir, 'images/test/2/image.png'), 2);
    const b = await scienceQaBenchmark(dir, undefined);
    expect(b.items.map((it) => it.id)).to.deep.equal(['1', '2']);
    expect(b.items[1].question).to.equal("Context: Read the list.\nWhich word rhymes?\nA. cat\nB. hat\nC. dog\nAnswer with the option's letter from the given choices directly.");
    const r = await b.score(new Map([['1', 'B'], ['2', 'The answer is B.']]), {});
    expect(r.headline.value).to.equal(50);
    const rows = Object.fromEntries(r.tables[0].rows.map((row) => [row.label, [row.n, row.values[0]]]));
    expect(rows.NAT).to.deep.equal([1, 100]);
    expect(rows.LAN).to.deep.equal([1, 0]);
    expect(rows['TXT (has context text)']).to.deep.equal([1, 0]);
    expect(rows['G7-12']).to.deep.equal([1, 0]);

    writeText(path.join(dir, 'pid_splits.json'), JSON.stringify({ test: ['1', '9'] }));
    const e1 = await rejection(scienceQaBenchmark(dir, undefined));
    expect(e1.message).to.equal(`${path.join(dir, 'problems.json')}:problem "9": listed in ${path.join(dir, 'pid_splits.json')} under "test" but not in this file`);
    writeText(path.join(dir, 'pid_splits.json'), JSON.stringify({ test: ['1'] }));
    writeText(path.join(dir, 'problems.json'), JSON.stringify({ 1: problem('Q', ['a', 'b'], 2, {}) }));
    const e2 = await rejection(scienceQaBenchmark(dir, undefined));
    expect(e2.message).to.equal(`${path.join(dir, 'problems.json')}:problem "1": expected "answer" to index the 2 choices (0..1) but received 2`);
  });

  it('TextVQA: val JSON + train_images, VQA accuracy averaged over questions', async () => {
    const data = [
      { question_id: 34602, question: 'what is written?', image_id: 'abc', answers: [...Array(3).fill('stop'), ...Array(7).fill('stop sign')] },
      { question_id: 34603, question: 'what brand?', image_id: 'def', answers: Array(10).fill('nokia') },
    ];
    writeText(path.join(dir, 'TextVQA_0.5.1_val.json'), JSON.stringify({ dataset_name: 'textvqa', data }));
    await writeImage(path.join(dir, 'train_images/abc.jpg'), 3, 'jpeg');
    await writeImage(path.join(dir, 'train_images/def.jpg'), 4, 'jpeg');
    const b = await textVqaBenchmark(path.join(dir, 'TextVQA_0.5.1_val.json'), undefined);
    expect(b.items[0].question).to.equal('what is written?\nAnswer the question using a single word or phrase.');
    const r = await b.score(new Map([['34602', 'Stop.'], ['34603', 'Samsung']]), {});
    expect(r.headline.value).to.be.closeTo(45, 1e-9); // (0.9 + 0) / 2
    expect(r.items[0].extracted).to.equal('stop');

    writeText(path.join(dir, 'bad.json'), JSON.stringify({ data: [{ question_id: 1, question: 'q', image_id: 'abc' }] }));
    const e = await rejection(textVqaBenchmark(path.join(dir, 'bad.json'), undefined));
    expect(e.message).to.equal(`${path.join(dir, 'bad.json')}:data[0]: expected "answers" to be an array of strings but received nothing`);
    writeText(path.join(dir, 'bad2.json'), JSON.stringify([1, 2]));
    expect((await rejection(textVqaBenchmark(path.join(dir, 'bad2.json'), undefined))).message).to.equal(
      `${path.join(dir, 'bad2.json')}: expected a JSON object with a "data" array of questions but received an array of 2`,
    );
  });

  it('ChartQA: both sets of a test folder, relaxed accuracy per set and overall', async () => {
    writeText(path.join(dir, 'test_human.json'), JSON.stringify([{ imgname: 'a.png', query: 'What is the peak?', label: '42' }, { imgname: 'a.png', query: 'Which year?', label: '2019' }]));
    writeText(path.join(dir, 'test_augmented.json'), JSON.stringify([{ imgname: 'b.png', query: 'Share of X?', label: '12%' }]));
    await writeImage(path.join(dir, 'png/a.png'), 5);
    await writeImage(path.join(dir, 'png/b.png'), 6);
    const b = await chartQaBenchmark(dir, undefined);
    expect(b.items.map((it) => it.id)).to.deep.equal(['human:0', 'human:1', 'augmented:0']);
    const r = await b.score(new Map([['human:0', '43.5'], ['human:1', '2020'], ['augmented:0', '0.121']]), {});
    // 43.5 is 3.6% off 42: right; 2020 vs 2019 is 0.05% off: right; 0.121 vs 0.12 is 0.8% off: right
    expect(r.headline.value).to.equal(100);
    const r2 = await b.score(new Map([['human:0', '45'], ['human:1', 'twenty']]), {});
    expect(r2.tables[0].rows.map((row) => [row.label, row.values[0]])).to.deep.equal([['human', 0], ['augmented', 0]]);

    writeText(path.join(dir, 'bad.json'), '[\n  {"imgname": "a.png", "query": "q", "label": "1"},\n  {"imgname": "a.png", "label": "2"}\n]\n');
    const e = await rejection(chartQaBenchmark(path.join(dir, 'bad.json'), path.join(dir, 'png')));
    expect(e.message).to.equal(`${path.join(dir, 'bad.json')}:3: expected "query" to be a string but received nothing`);
  });

  it('POPE: a folder of split files, yes/no metrics per split, F1 averaged over splits', async () => {
    await writeImage(path.join(dir, 'val2014/COCO_val2014_000000000001.jpg'), 7, 'jpeg');
    const q = (id: number, label: string) => ({ question_id: id, image: 'COCO_val2014_000000000001.jpg', text: `Is there a thing ${id} in the image?`, label });
    writeText(path.join(dir, 'coco_pope_random.json'), jsonl([q(1, 'yes'), q(2, 'no'), q(3, 'yes'), q(4, 'no')]));
    writeText(path.join(dir, 'coco_pope_adversarial.json'), jsonl([q(1, 'yes'), q(2, 'no')]));
    const b = await popeBenchmark(dir, undefined);
    expect(b.split).to.equal('all');
    expect(b.items.map((it) => it.id)).to.deep.equal(['random:1', 'random:2', 'random:3', 'random:4', 'adversarial:1', 'adversarial:2']);
    const preds = new Map([['random:1', 'Yes.'], ['random:2', 'Yes, there is.'], ['random:3', 'No'], ['random:4', 'There is no thing.'], ['adversarial:1', 'Yes'], ['adversarial:2', 'No']]);
    const r = await b.score(preds, {});
    // random: tp 1, fp 1, tn 1, fn 1 -> precision 50, recall 50, F1 50; adversarial: all right -> F1 100
    expect(r.metrics['random f1']).to.equal(50);
    expect(r.metrics['adversarial f1']).to.equal(100);
    expect(r.headline.value).to.equal(75);
    expect((await popeBenchmark(dir, undefined, { split: 'adversarial' })).items).to.have.length(2);

    writeText(path.join(dir, 'coco_pope_popular.json'), `${JSON.stringify(q(1, 'yes'))}\n${JSON.stringify(q(2, 'maybe'))}\n`);
    const e = await rejection(popeBenchmark(path.join(dir, 'coco_pope_popular.json'), undefined));
    expect(e.message).to.equal(`${path.join(dir, 'coco_pope_popular.json')}:2: expected "label" to be "yes" or "no" but received "maybe"`);
    writeText(path.join(dir, 'coco_pope_popular.json'), `${JSON.stringify(q(1, 'yes'))}\n{"question_id": 2,\n`);
    const e2 = await rejection(popeBenchmark(path.join(dir, 'coco_pope_popular.json'), undefined));
    expect(e2.message).to.match(new RegExp(`^${escapeRe(path.join(dir, 'coco_pope_popular.json'))}:2: expected one JSON record per line but the line does not parse`));
    writeText(path.join(dir, 'coco_pope_popular.json'), jsonl([{ ...q(1, 'yes'), image: 'missing.jpg' }]));
    const e3 = await rejection(popeBenchmark(path.join(dir, 'coco_pope_popular.json'), undefined));
    expect(e3.message).to.equal(`${path.join(dir, 'coco_pope_popular.json')}:1: image not found: ${path.join(dir, 'val2014/missing.jpg')}`);
  });

  it('MMBench: base64 images, hint, NaN options, rotations for circular evaluation', async () => {
    const png = (await writeImage(path.join(dir, 'src.png'), 8)).toString('base64');
    const header = ['index', 'question', 'hint', 'A', 'B', 'C', 'D', 'answer', 'category', 'l2-category', 'split', 'image'];
    const rows = [
      ['10', 'What colour is the ball?', 'nan', 'red', 'blue', 'green', '', 'B', 'attribute_recognition', 'finegrained_perception', 'dev', png],
      ['11', 'Is it a "toy"?', 'Look closely.', 'yes', 'no', 'None', '', 'A', 'object_localization', 'coarse_perception', 'dev', '10'],
    ];
    // pandas quotes a field holding a quote: "Is it a ""toy""?"
    const line = (r: string[]) => r.map((c) => (c.includes('"') ? `"${c.replaceAll('"', '""')}"` : c)).join('\t');
    writeText(path.join(dir, 'mmbench.tsv'), `${[header.join('\t'), ...rows.map(line)].join('\n')}\n`);
    const passes = await readMmbench(path.join(dir, 'mmbench.tsv'), path.join(dir, 'decoded'));
    // question 10: 3 options -> 3 passes; question 11: "None" is NaN to pandas, so 2 options -> 2 passes
    expect(passes.map((p) => p.id)).to.deep.equal(['10', '10/1', '10/2', '11', '11/1']);
    expect(passes[1].options).to.deep.equal({ A: 'blue', B: 'green', C: 'red' });
    expect(passes.map((p) => p.answer)).to.deep.equal(['B', 'A', 'C', 'A', 'B']);
    expect(passes[0].prompt).to.equal("What colour is the ball?\nA. red\nB. blue\nC. green\nAnswer with the option's letter from the given choices directly.");
    expect(passes[3].prompt).to.equal('Look closely.\nIs it a "toy"?\nA. yes\nB. no\nAnswer with the option\'s letter from the given choices directly.');
    expect(readFileSync(passes[3].image).equals(readFileSync(path.join(dir, 'src.png')))).to.equal(true);

    const b = await mmbenchBenchmark(path.join(dir, 'mmbench.tsv'), path.join(dir, 'decoded'));
    // question 10 (answer blue): pass 0 "B" right, pass 1 (blue first) "A. blue" right, pass 2 (blue third) "A" wrong;
    // question 11: pass 0 "yes" read by its text as A, right; pass 1 (no, yes) "B" right
    const r = await b.score(new Map([['10', 'B'], ['10/1', 'A. blue'], ['10/2', 'A'], ['11', 'yes'], ['11/1', 'B']]), {});
    expect(r.metrics['first-pass accuracy']).to.equal(100);
    expect(r.headline.value).to.equal(50); // question 10 fails its third pass, question 11 is right twice
    expect(r.tables[0].rows).to.deep.equal([
      { label: 'coarse_perception', n: 1, values: [100] },
      { label: 'finegrained_perception', n: 1, values: [0] },
    ]);
  });

  it('MMBench: pre-rotated copies (index + k * 1e6) are used as given; bad rows are named', async () => {
    const png = (await writeImage(path.join(dir, 'src.png'), 9)).toString('base64');
    const header = 'index\tquestion\thint\tA\tB\tanswer\tcategory\tl2-category\timage';
    const rows = ['3\tQ?\tnan\tx\ty\tA\tc\tl\t' + png, '1000003\tQ?\tnan\ty\tx\tB\tc\tl\t3'];
    writeText(path.join(dir, 'm.tsv'), [header, ...rows].join('\n'));
    const passes = await readMmbench(path.join(dir, 'm.tsv'), path.join(dir, 'decoded'));
    expect(passes.map((p) => [p.id, p.question, p.answer])).to.deep.equal([['3', '3', 'A'], ['1000003', '3', 'B']]);

    writeText(path.join(dir, 'bad.tsv'), [header, '3\tQ?\tnan\tx\ty\tC\tc\tl\t' + png].join('\n'));
    expect((await rejection(readMmbench(path.join(dir, 'bad.tsv'), path.join(dir, 'd2')))).message).to.equal(
      `${path.join(dir, 'bad.tsv')}:2: expected "answer" to be one of the options A, B but received "C"`,
    );
    writeText(path.join(dir, 'bad.tsv'), [header, '3\tQ?\tnan\tx\tnan\tA\tc\tl\t' + png].join('\n'));
    expect((await rejection(readMmbench(path.join(dir, 'bad.tsv'), path.join(dir, 'd2')))).message).to.equal(
      `${path.join(dir, 'bad.tsv')}:2: expected at least 2 options (columns A, B, ...) but received 1`,
    );
    writeText(path.join(dir, 'bad.tsv'), [header, '3\tQ?\tnan\tx'].join('\n'));
    expect((await rejection(readMmbench(path.join(dir, 'bad.tsv'), path.join(dir, 'd2')))).message).to.equal(
      `${path.join(dir, 'bad.tsv')}:2: expected 9 tab-separated fields (as the header) but received 4`,
    );
    writeText(path.join(dir, 'bad.tsv'), [header, '3\tQ?\tnan\tx\ty\tA\tc\tl\tbm90IGFuIGltYWdl'].join('\n'));
    expect((await rejection(readMmbench(path.join(dir, 'bad.tsv'), path.join(dir, 'd2')))).message).to.equal(
      `${path.join(dir, 'bad.tsv')}:2: expected "image" to hold a base64 PNG or JPEG but it decodes to neither`,
    );
  });
});

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
