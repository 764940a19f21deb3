// Nothing dropped silently in the training stages (issue 19: a run reported "no records skipped"
// while skipped.jsonl listed 10 of its 11 pairs): every record left out while reading or while
// tokenising is counted by kind in the printed summary and summary.txt and listed in
// <out>/skipped.jsonl; truncated ones are counted; fewer than --min-kept stops before training.
import { expect } from 'chai';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { cliProblem } from '../../../lib/stic/options.ts';
import { DEFAULT_PROMPTS } from '../../../lib/data/prompts.ts';
import { executeDpo } from '../../../lib/stic/stages/dpo.ts';
import type { StageEnv } from '../../../lib/stic/stages/stage_io.ts';
import { validateDpoOptions } from '../../../lib/stic/train_options.ts';
import { FakeTrainer, writeImages } from '../fakes.ts';
import { rejectionOf } from '../../helpers/rejection.ts';

describe('training stages count what they leave out', () => {
  let dir: string;
  let prefs: string;
  const logs: string[] = [];
  const env: StageEnv = { model: 'm', prompts: DEFAULT_PROMPTS, log: (t) => logs.push(t) };
  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'stic-account-'));
    const names = await writeImages(path.join(dir, 'imgs'), 10, 3);
    const pair = (id: string, image: string) => JSON.stringify({
      id, image, image_root: 'imgs',
      chosen: [{ role: 'user', content: '<image>\nDescribe.' }, { role: 'assistant', content: `good ${id}` }],
      rejected: [{ role: 'user', content: '<image>\nDescribe.' }, { role: 'assistant', content: `bad ${id}` }],
      provenance: { dispreferred: 'hallucination', corruption: null },
    });
    prefs = path.join(dir, 'pref.jsonl');
    // 10 pairs with images, one whose image is gone, one without answers: 12 records.
    writeFileSync(prefs, [...names.map((n, i) => pair(`p${i}`, n)), pair('gone', 'nope.png'), '{"id":"bad","image":"a.png"}'].join('\n') + '\n');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const options = (over: Record<string, unknown> = {}) => validateDpoOptions({ prefs, batchSize: 4, minKept: 0.5, ...over }, cliProblem);

  it('summary, summary.txt and skipped.jsonl count every skip by kind, and truncations', async () => {
    const trainer = new FakeTrainer();
    trainer.tooLong = new Set(['p3']);
    trainer.truncate = new Set(['p4', 'p5']);
    const out = path.join(dir, 'dpo');
    const r = await executeDpo(env, options(), out, async () => trainer);
    const line = '9 of 12 trained on (3 pairs skipped (1 image not found, 1 invalid record, 1 too long); 2 truncated to --max-length)';
    expect(r.report).to.contain(`\npairs            ${line}\n`);
    expect(readFileSync(path.join(out, 'summary.txt'), 'utf8')).to.contain(line);
    expect(r.counts).to.deep.include({ pairs: 9, skipped: 3, truncated: 2 });
    const listed = readFileSync(path.join(out, 'skipped.jsonl'), 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(listed.map((s) => [s.id, s.kind])).to.deep.equal([['bad', 'invalid record'], ['gone', 'image not found'], ['p3', 'too long']]);
  });

  it('fewer than --min-kept (default 0.95) of the records stops before training, with the counts by reason', async () => {
    const trainer = new FakeTrainer();
    const out = path.join(dir, 'dpo-min');
    const err = await rejectionOf(executeDpo(env, options({ minKept: undefined }), out, async () => trainer));
    expect(err.message).to.equal(
      `dpo: would train on 10 of the 12 pairs in ${prefs} (83.3%), fewer than --min-kept 0.95 (95%): 2 pairs skipped (1 image not found, 1 invalid record); first: ${prefs}:12 (id "bad"): expected a list of at least 2 messages ({role, content}) for "chosen" but received nothing. Fix the data, raise --max-length, or lower --min-kept to train on what is left`,
    );
    expect(existsSync(path.join(out, 'adapter_config.json'))).to.equal(false);
    expect(readFileSync(path.join(out, 'skipped.jsonl'), 'utf8').trimEnd().split('\n')).to.have.length(2);
  });
});
