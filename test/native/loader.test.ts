import { expect } from 'chai';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { AddonLoadError, addonCandidates, checkThreadVariables, loadAddonFrom, native } from '../../lib/native/index.ts';

describe('native addon loader', () => {
  it('loads the built addon and reports its build', () => {
    const info = native().buildInfo();
    expect(info.backends).to.include('cpu');
    expect(info.napiVersion).to.equal(8);
    expect(info.threads).to.be.greaterThan(0);
  });

  it('sets and restores the thread count', () => {
    const before = native().buildInfo().threads;
    expect(native().setThreads(1)).to.equal(1);
    expect(native().buildInfo().threads).to.equal(1);
    native().setThreads(before);
  });

  it('rejects a non-number thread count with a TypeError', () => {
    expect(() => (native().setThreads as (x: unknown) => number)('two')).to.throw(TypeError, /Expected a positive integer/);
  });

  it('STIC_ADDON_PATH, when set, is the only candidate (no silent fallback to another build)', () => {
    expect(addonCandidates({ STIC_ADDON_PATH: '/opt/x/stic.node' })).to.deep.equal(['/opt/x/stic.node']);
    expect(addonCandidates({})[0]).to.match(/build\/Release\/stic\.node$/);
  });

  it('STIC_THREADS / OMP_NUM_THREADS must be whole numbers in [1, 1024]', () => {
    for (const ok of ['1', '8', ' 16 ', '1024', '']) expect(() => checkThreadVariables({ STIC_THREADS: ok, OMP_NUM_THREADS: ok })).to.not.throw();
    for (const bad of ['abc', '0', '-2', '1.5', '1025', '4x']) {
      expect(() => checkThreadVariables({ STIC_THREADS: bad })).to.throw(`environment variable STIC_THREADS: expected a whole number of CPU threads in [1, 1024] but found ${JSON.stringify(bad)}`);
      expect(() => checkThreadVariables({ OMP_NUM_THREADS: bad })).to.throw('environment variable OMP_NUM_THREADS');
    }
  });

  it('lists every path tried, each reason, and the fix when nothing loads', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'stic-loader-'));
    const broken = path.join(dir, 'broken.node');
    writeFileSync(broken, 'not an ELF file');
    const missing = path.join(dir, 'missing.node');
    let caught: unknown;
    try {
      loadAddonFrom([missing, broken]);
    } catch (e) {
      caught = e;
    }
    expect(caught).to.be.instanceOf(AddonLoadError);
    const err = caught as AddonLoadError;
    expect(err.attempts.map((a) => a.path)).to.deep.equal([missing, broken]);
    expect(err.message).to.contain(`  - ${missing}: file does not exist`);
    expect(err.message).to.match(new RegExp(`  - ${broken.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: .*(invalid ELF|too short|file too short)`));
    expect(err.message).to.contain('run `npm run build`');
  });
});
