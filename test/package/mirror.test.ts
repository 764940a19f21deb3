// test/ mirrors lib/ and native/: every folder of test/ that holds tests is named after the lib/ or
// native/ folder whose code its tests check (test/data/records for lib/data/records, test/cpu for
// native/cpu, test/cuda for native/cuda, test/model for lib/model and native/model, test/native for
// lib/native and the addon), so a test is found where its code is. The folders that hold no code's
// tests, or are named otherwise, are listed with the reason.
import { expect } from 'chai';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const testDir = path.join(repo, 'test');

/** test/ folders that mirror no lib/ or native/ folder, with why. */
const OWN: Record<string, string> = {
  fixtures: 'reference data (Hugging Face fixtures, STIC files), no tests',
  helpers: 'code shared by the tests (the lab loader, RNG, option tables, mutators)',
  package: 'the package as a whole: compiled output, layers, type names, this layout',
  readme: "the README's commands, run as written",
  leak: "the sanitizer run's leak check (npm run test:sanitize), a script, not a mocha test",
};

/** Folders (relative to test/, '/'-separated) that hold at least one *.test.ts, outside OWN's trees. */
function testFolders(): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    const entries = readdirSync(path.join(testDir, rel), { withFileTypes: true });
    if (rel && entries.some((e) => e.isFile() && e.name.endsWith('.test.ts'))) out.push(rel);
    for (const e of entries) {
      const sub = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory() && !(rel === '' && e.name in OWN)) walk(sub);
    }
  };
  walk('');
  return out.sort();
}

describe('test/ mirrors lib/ and native/', () => {
  const folders = testFolders();

  it('finds the test folders it checks', () => {
    expect(folders).to.include.members(['cpu', 'cuda', 'data', 'data/records', 'eval', 'model', 'stic/stages', 'toy']);
  });

  it('names every test folder after a lib/ or native/ folder, or lists it with a reason', () => {
    const lone = folders.filter((f) => !existsSync(path.join(repo, 'lib', f)) && !existsSync(path.join(repo, 'native', f)));
    expect(lone).to.deep.equal([]);
  });

  it('lists only folders that exist', () => {
    expect(Object.keys(OWN).filter((f) => !existsSync(path.join(testDir, f)))).to.deep.equal([]);
  });
});
