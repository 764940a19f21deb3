// Resume never mixes settings (issue 19): a pref / describe output started with one temperature and
// resumed with another was completed silently with records of both. Now the settings are kept beside
// the output and a resume with other ones is refused, naming each changed field; the original
// settings resume to the uninterrupted bytes; --fresh starts over.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { expect } from 'chai';

import { changedFields } from '../../lib/stic/output_settings.ts';
import { repo, runCli } from './cli_helpers.ts';

const TOY = path.join(repo, 'models', 'toy-llava');

describe('resumed outputs keep the settings they were started with', function () {
  this.timeout(300_000);
  let dir: string;
  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'stic-settings-'));
    const r = await runCli(['toy', 'world', '--out', path.join(dir, 'data'), '--count', '5', '--seed', '3']);
    expect(r.code, r.stderr).to.equal(0);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const cut = (file: string, lines: number) => writeFileSync(file, readFileSync(file, 'utf8').split('\n').slice(0, lines).map((l) => `${l}\n`).join(''));

  it('stic pref: another temperature and seed are refused by name; the original settings resume to the same bytes; --fresh starts over', async () => {
    const out = path.join(dir, 'a', 'pref.jsonl');
    const pref = (...more: string[]) => runCli(['pref', '--model', TOY, '--images', path.join(dir, 'data', 'images'), '--out', out, '--max-new-tokens', '6', '--threads', '1', ...more]);
    expect((await pref('--temperature', '0.2')).code).to.equal(0);
    const whole = readFileSync(out, 'utf8');
    cut(out, 2);
    const mixed = await pref('--temperature', '0.9', '--seed', '3');
    expect(mixed.code).to.equal(1);
    expect(mixed.stderr).to.include(`pref: ${out} was started with other settings (${out}.settings.json): plan.seed: 42 -> 3; sampling.temperature: 0.2 -> 0.9.`);
    expect(mixed.stderr).to.include('--fresh');
    expect(readFileSync(out, 'utf8').split('\n')).to.have.length(3); // untouched: 2 records and the final newline
    const resumed = await pref('--temperature', '0.2');
    expect(resumed.code, resumed.stderr).to.equal(0);
    expect(readFileSync(out, 'utf8')).to.equal(whole);
    const fresh = await pref('--temperature', '0.9', '--fresh');
    expect(fresh.code, fresh.stderr).to.equal(0);
    const records = readFileSync(out, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(records).to.have.length(5);
    for (const r of records) expect(JSON.stringify(r.provenance)).to.include('"temperature":0.9');
  });

  it('stic describe: another number of new tokens is refused by name', async () => {
    const out = path.join(dir, 'b', 'descriptions.jsonl');
    const describe = (tokens: string) => runCli(['describe', '--model', TOY, '--instructions', path.join(dir, 'data', 'instructions.jsonl'), '--out', out, '--max-new-tokens', tokens, '--threads', '1']);
    expect((await describe('6')).code).to.equal(0);
    cut(out, 1);
    const r = await describe('7');
    expect(r.code).to.equal(1);
    expect(r.stderr).to.include('sampling.maxNewTokens: 6 -> 7');
  });

  it('stic dpo run again on its complete output says that nothing was trained', async () => {
    const prefs = path.join(dir, 'a', 'pref.jsonl'); // made by the first test
    const out = path.join(dir, 'a', 'dpo');
    const dpo = () => runCli(['dpo', '--model', TOY, '--prefs', prefs, '--out', out, '--batch-size', '2', '--threads', '1']);
    const first = await dpo();
    expect(first.code, first.stderr).to.equal(0);
    expect(first.stderr).to.not.include('already complete');
    const again = await dpo();
    expect(again.code, again.stderr).to.equal(0);
    expect(again.stderr).to.include(`dpo: ${out} is already complete (3 of 3 steps in its last checkpoint): nothing was trained now`);
  });

  it('changedFields names nested fields, added and removed ones', () => {
    expect(changedFields({ a: 1, s: { t: 0.2, k: 0 }, gone: 'x' }, { a: 1, s: { t: 0.9, k: 0 }, added: [1] })).to.deep.equal(['added: (not set) -> [1]', 'gone: "x" -> (not set)', 's.t: 0.2 -> 0.9']);
  });
});
