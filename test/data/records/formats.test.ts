// The record formats: preference pairs (ours and the public STIC release), descriptions, LLaVA
// instruction data. Each bad-record case is skipped and counted with its exact message; a file
// with nothing usable is a file-level error.
import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { descriptionFormat } from '../../../lib/data/records/descriptions.ts';
import { instructionFormat } from '../../../lib/data/records/instructions.ts';
import { loadRecords } from '../../../lib/data/records/load.ts';
import { preferenceFormat, withImageToken } from '../../../lib/data/records/preference.ts';
import { rejectionOf } from '../../helpers/rejection.ts';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures', 'stic');

const turn = (content: string) => ({ role: 'user', content });
const answer = (content: string) => ({ role: 'assistant', content });

function ourPair(id: string, extra: Record<string, unknown> = {}) {
  return {
    id,
    image: `${id}.png`,
    chosen: [turn('<image>\nDescribe the picture.'), answer('A red square on grey.')],
    rejected: [turn('<image>\nDescribe the picture.'), answer('A red square next to a cat.')],
    image_corruption: false,
    hallu_prompt: 'Add a plausible animal.',
    provenance: { dispreferred: 'hallucination', corruption: null },
    ...extra,
  };
}

describe('preference records', () => {
  let dir: string;
  before(() => (dir = mkdtempSync(path.join(tmpdir(), 'stic-pref-rec-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('reads the public STIC release (JSONL and JSON array): id from the image, prompt with or without <image>', async () => {
    for (const name of ['public-pref.jsonl', 'public-pref.json']) {
      const file = path.join(fixtures, name);
      const { records, skips } = await loadRecords(file, preferenceFormat);
      expect(skips.count).to.equal(0);
      expect(records.map((r) => [r.id, r.format, r.promptHasImageToken, r.image])).to.deep.equal([
        ['COCO_train2014_000000000009.jpg', 'stic-public', false, 'COCO_train2014_000000000009.jpg'],
        ['COCO_train2014_000000000025.jpg', 'stic-public', true, 'COCO_train2014_000000000025.jpg'],
      ]);
      expect(records[0].prompt).to.deep.equal([{ role: 'user', content: 'Outline the main things shown in the picture.' }]);
      expect(records[0].chosen).to.equal('A lunch box holds broccoli, bread and a small bowl of fruit on a wooden table.');
      expect(records[0].rejected).to.equal("A lunch box sits beside a kettle, a chef's knife and a toaster on a busy counter.");
      expect(withImageToken(records[0].prompt)).to.deep.equal([{ role: 'user', content: '<image>\nOutline the main things shown in the picture.' }]);
      expect(records.map((r) => r.line)).to.deep.equal(name.endsWith('l') ? [1, 2] : [2, 27]);
    }
  });

  it('reads ours with reference log-probs', async () => {
    const file = path.join(dir, 'ours.jsonl');
    writeFileSync(file, `${JSON.stringify(ourPair('a', { ref_chosen_logp: -12.5, ref_rejected_logp: -20.25 }))}\n`);
    const { records } = await loadRecords(file, preferenceFormat);
    expect(records[0]).to.deep.include({ id: 'a', format: 'stic', refChosenLogp: -12.5, refRejectedLogp: -20.25, promptHasImageToken: true });
  });

  it('skips and counts each bad record with its exact message', async () => {
    const file = path.join(dir, 'bad.jsonl');
    const lines = [
      ourPair('ok1'),
      { ...ourPair('p2'), chosen: [answer('only an answer'), answer('x')] }, // no user turn
      { ...ourPair('p3'), rejected: [turn('<image>\nSomething else.'), answer('y')] },
      { ...ourPair('p4'), chosen: [turn('q'), { role: 'robot', content: 'x' }] },
      { ...ourPair('p5'), provenance: { dispreferred: 'noise', corruption: null } },
      ourPair('p6', { ref_chosen_logp: -3 }),
      ourPair('p7', { ref_chosen_logp: 2, ref_rejected_logp: -1 }),
      { ...ourPair('p8'), image: 42 },
      ourPair('ok1'),
      { ...ourPair('p10'), chosen: [turn('q'), answer('a'), turn('more?')] },
      { ...ourPair('p11'), provenance: { dispreferred: 'corruption', corruption: null } },
    ].map((r) => JSON.stringify(r));
    lines.splice(3, 0, '{"id": "p-broken", "image": ');
    writeFileSync(file, `${lines.join('\n')}\n`);
    const { records, skips } = await loadRecords(file, preferenceFormat);
    expect(records.map((r) => r.id)).to.deep.equal(['ok1']);
    expect(skips.faults.map((f) => f.message)).to.deep.equal([
      `${file}:2 (id "p2"): expected "chosen" to have a user message before the answer`,
      `${file}:3 (id "p3"): expected "chosen" and "rejected" to share the same prompt turns but they differ`,
      `${file}:4: malformed JSON (${(() => { try { JSON.parse('{"id": "p-broken", "image": '); } catch (e) { return (e as Error).message; } })()})`,
      `${file}:5 (id "p4"): expected one of "system", "user", "assistant" for "chosen[1].role" but received "robot"`,
      `${file}:6 (id "p5"): expected one of "hallucination", "corruption" for "dispreferred" but received "noise"`,
      `${file}:7 (id "p6"): expected both "ref_chosen_logp" and "ref_rejected_logp" or neither but only one is present`,
      `${file}:8 (id "p7"): expected a finite number <= 0 for "ref_chosen_logp" but received 2`,
      `${file}:9 (id "p8"): expected a non-empty string for "image" but received 42`,
      `${file}:10 (id "ok1"): duplicate id (first seen on line 1); this record is skipped`,
      `${file}:11 (id "p10"): expected "chosen" to end with an assistant message but the last role is "user"`,
      `${file}:12 (id "p11"): expected an object for "provenance.corruption" but received null`,
    ]);
    expect(skips.headline()).to.equal('11 records skipped (9 invalid record, 1 duplicate id, 1 malformed JSON)');
  });

  it('a file with no usable pair is a file-level error', async () => {
    const file = path.join(dir, 'none.jsonl');
    writeFileSync(file, '{"image": ""}\n');
    const err = await rejectionOf(loadRecords(file, preferenceFormat));
    expect(err.message).to.equal(`${file}: no usable preference pairs (1 records skipped (1 invalid record))`);
    const empty = path.join(dir, 'empty.jsonl');
    writeFileSync(empty, '\n\n');
    expect((await rejectionOf(loadRecords(empty, preferenceFormat))).message).to.equal(`${empty}: no usable preference pairs (the file is empty)`);
  });
});

describe('TRL preference records', () => {
  let dir: string;
  before(() => (dir = mkdtempSync(path.join(tmpdir(), 'stic-trl-rec-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  const part = (text: string) => ({ type: 'text', text });
  const standard = { prompt: 'Describe the picture.', chosen: 'A red square on grey.', rejected: 'A red square next to a cat.', images: ['a.png'] };
  const conversational = {
    prompt: [{ role: 'user', content: [{ type: 'image' }, part('Describe the picture.')] }],
    chosen: [{ role: 'assistant', content: [part('A red square on grey.')] }],
    rejected: [{ role: 'assistant', content: 'A red square next to a cat.' }],
    image: 'a.png',
  };

  it('reads the standard and the conversational shapes as the pair ours would be; named by line without an id', async () => {
    const file = path.join(dir, 'trl.jsonl');
    const withToken = { ...standard, prompt: '<image>\nDescribe the picture.', id: 'x', image_root: 'imgs', images: [{ path: 'a.png', bytes: null }] };
    const system = { ...conversational, prompt: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: [part('Describe the picture.')] }] };
    writeFileSync(file, [standard, conversational, withToken, system].map((r) => JSON.stringify(r)).join('\n'));
    const ours = path.join(dir, 'ours.jsonl');
    writeFileSync(ours, `${JSON.stringify({ ...ourPair('a'), image: 'a.png' })}\n`);
    const [expected] = (await loadRecords(ours, preferenceFormat)).records;
    const { records, skips } = await loadRecords(file, preferenceFormat);
    expect(skips.count).to.equal(0);
    const same = (r: (typeof records)[number]) => ({ image: r.image, prompt: r.prompt, chosen: r.chosen, rejected: r.rejected, promptHasImageToken: r.promptHasImageToken });
    for (const r of records.slice(0, 3)) expect(same(r)).to.deep.equal(same(expected));
    expect(records.map((r) => [r.id, r.format, r.line, r.imageRoot ?? null])).to.deep.equal([['line 1', 'trl', 1, null], ['line 2', 'trl', 2, null], ['x', 'trl', 3, 'imgs'], ['line 4', 'trl', 4, null]]);
    expect(records[3].prompt).to.deep.equal([{ role: 'system', content: 'Be brief.' }, { role: 'user', content: '<image>\nDescribe the picture.' }]);
  });

  it('skips and counts each malformed TRL record with file:line, what was expected and what was found', async () => {
    const file = path.join(dir, 'bad.jsonl');
    const lines = [
      standard,
      { ...standard, images: ['a.png', 'b.png'] },
      { ...standard, images: undefined },
      { ...standard, image: 'b.png' },
      { ...standard, chosen: ['A red square.'] },
      { ...conversational, chosen: 'A red square.' },
      { ...conversational, prompt: [{ role: 'assistant', content: 'hi' }] },
      { ...conversational, prompt: [{ role: 'user', content: [{ type: 'video' }] }] },
      { ...conversational, rejected: [{ role: 'user', content: 'x' }] },
      { ...standard, prompt: '<image> and <image>' },
      { ...standard, prompt: 7 },
      { ...standard, images: [3] },
      { ...conversational, chosen: [{ role: 'assistant', content: [{ type: 'image' }] }] },
    ];
    writeFileSync(file, lines.map((r) => JSON.stringify(r)).join('\n'));
    const { records, skips } = await loadRecords(file, preferenceFormat);
    expect(records.map((r) => r.id)).to.deep.equal(['line 1']);
    expect(skips.faults.map((f) => f.message.replace(`${file}:`, ''))).to.deep.equal([
      '2: expected a list of exactly one image path for "images" (one image per pair) but received ["a.png","b.png"]',
      '3: expected "images": [path] (or "image": path) but the record has neither',
      '4: expected "images" or "image" but the record has both',
      '5: expected a non-empty string for "chosen" (the standard format, as "prompt" is a string) but received ["A red square."]',
      '6: expected a list of one assistant message for "chosen" (the conversational format, as "prompt" is a list) but received "A red square."',
      '7: expected "prompt" to end with a user message but the last role is "assistant"',
      '8: expected {"type": "image"} or {"type": "text", "text": string} for "prompt[0].content[0]" but received {"type":"video"}',
      '9: expected role "assistant" for "rejected[0].role" but received "user"',
      '10: expected at most one image in "prompt" (one image per pair) but found 2',
      '11: expected a string or a non-empty message list [{role, content}] for "prompt" but received 7',
      '12: expected an image path (a non-empty string or {"path": string}) for "images[0]" but received 3',
      '13: expected text only in "chosen[0].content" but it holds an image',
    ]);
    expect(skips.headline()).to.equal('12 records skipped (12 invalid record)');
  });
});

describe('description records', () => {
  let dir: string;
  before(() => (dir = mkdtempSync(path.join(tmpdir(), 'stic-desc-rec-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('reads ours; the public shape (no id) needs requireId false and is keyed by image', async () => {
    const { records } = await loadRecords(path.join(fixtures, 'descriptions.jsonl'), descriptionFormat());
    expect(records.map((r) => r.id)).to.deep.equal(['4242', 'orphan-7', '000000033471', 'tvqa-17']);
    const file = path.join(dir, 'public.jsonl');
    writeFileSync(file, '{"image": "/data/images/coco/a.jpg", "prompt": "p", "description": "d"}\n');
    expect((await loadRecords(file, descriptionFormat(false))).records[0].id).to.equal('/data/images/coco/a.jpg');
    const err = await rejectionOf(loadRecords(file, descriptionFormat()));
    expect(err.message).to.equal(`${file}: no usable descriptions (1 records skipped (1 invalid record))`);
  });

  it('exact messages for a missing id and a blank description', async () => {
    const file = path.join(dir, 'bad.jsonl');
    writeFileSync(file, ['{"id":"a","image":"a.jpg","prompt":"p","description":"fine"}', '{"image":"b.jpg","prompt":"p","description":"x"}', '{"id":"c","image":"c.jpg","prompt":"p","description":"  "}'].join('\n'));
    const { skips } = await loadRecords(file, descriptionFormat());
    expect(skips.faults.map((f) => [f.kind, f.message])).to.deep.equal([
      ['invalid record', `${file}:2: expected a non-empty string or an integer for "id" but received nothing`],
      ['empty description', `${file}:3 (id "c"): expected a non-empty "description" but it is blank`],
    ]);
  });
});

describe('LLaVA instruction records', () => {
  let dir: string;
  before(() => (dir = mkdtempSync(path.join(tmpdir(), 'stic-instr-rec-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('reads the fixture: numeric and string ids, text-only samples, extra fields kept', async () => {
    const { records, skips } = await loadRecords(path.join(fixtures, 'instructions.json'), instructionFormat);
    expect(skips.count).to.equal(0);
    expect(records.map((r) => [r.id, r.image ?? null, r.line])).to.deep.equal([
      ['000000033471', 'coco/train2017/000000033471.jpg', 2],
      ['tvqa-17', 'textvqa/train_images/0a1b2c.jpg', 12],
      ['4242', 'vg/VG_100K/4242.jpg', 21],
      ['text-only-1', null, 29],
      ['no-desc', 'coco/train2017/000000099999.jpg', 36],
    ]);
    expect(records[1].raw.source).to.equal('textvqa');
  });

  it('exact messages for bad turns', async () => {
    const file = path.join(dir, 'bad.json');
    const recs = [
      { id: 'a', conversations: [{ from: 'gpt', value: 'hi' }] },
      { id: 'b', conversations: [{ from: 'human', value: 'q' }, { from: 'assistant', value: 'a' }] },
      { id: 'c', conversations: [] },
      { id: 'd', image: '', conversations: [{ from: 'human', value: 'q' }] },
      { id: 'e', conversations: [{ from: 'human', value: 7 }] },
      { id: 'f', conversations: [{ from: 'human', value: 'fine' }, { from: 'gpt', value: 'yes' }] },
    ];
    writeFileSync(file, JSON.stringify(recs, null, 1));
    const { records, skips } = await loadRecords(file, instructionFormat);
    expect(records.map((r) => r.id)).to.deep.equal(['f']);
    expect(skips.faults.map((f) => f.message.replace(`${file}:`, ''))).to.deep.equal([
      '2 (id "a"): expected the first turn of "conversations" to be from "human" but it is from "gpt"',
      '11 (id "b"): expected "human" or "gpt" for "conversations[1].from" but received "assistant"',
      '24 (id "c"): expected a non-empty list of turns ({from, value}) for "conversations" but received []',
      '28 (id "d"): expected a non-empty string for "image" but received ""',
      '38 (id "e"): expected a string for "conversations[0].value" but received 7',
    ]);
  });
});
