// toyAnswersReasoned (lib/toy/answer_form.ts): a toy model answers in the reasoned form when
// its training.json records --reasoned; no record means plain answers; a broken record is an error
// that names the file.
import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { toyAnswersReasoned } from '../../lib/toy/answer_form.ts';

describe('toyAnswersReasoned', () => {
  let dir = '';
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'stic-reasoned-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const record = (text: string) => writeFileSync(path.join(dir, 'training.json'), text);

  it('reads options.reasoned of the run record, and answers false without one', () => {
    expect(toyAnswersReasoned(dir)).to.equal(false);
    record(JSON.stringify({ options: { reasoned: true, seed: 3 } }));
    expect(toyAnswersReasoned(dir)).to.equal(true);
    record(JSON.stringify({ options: { reasoned: false } }));
    expect(toyAnswersReasoned(dir)).to.equal(false);
    record(JSON.stringify({ options: { seed: 1 } })); // a record from before --reasoned existed
    expect(toyAnswersReasoned(dir)).to.equal(false);
  });

  it('refuses a record that does not parse or holds another value, naming the file', () => {
    const file = path.join(dir, 'training.json');
    record('{"options": ');
    expect(() => toyAnswersReasoned(dir)).to.throw(`${file}: expected the JSON record of a stic toy pretrain run but it does not parse`);
    record(JSON.stringify({ options: { reasoned: 'yes' } }));
    expect(() => toyAnswersReasoned(dir)).to.throw(`${file}: expected options.reasoned to be true or false but found "yes"`);
  });
});
