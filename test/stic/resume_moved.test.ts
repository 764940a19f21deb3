// A run folder moved with its inputs resumes (issue 20): paths enter manifests, checkpoint data
// fingerprints and the reference log-prob cache relative to the run folder, so a project copied to
// another place is neither stale nor retrained. Here `stic run` is killed during dpo, the whole
// project (config, model, images, run folder) is moved, and the run goes on: pref is skipped, dpo
// resumes from its checkpoint and ends with the same weights and metrics as an uninterrupted run.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { repo, runCli, writeTinyLlava } from './cli_helpers.ts';
import { writeImages } from './fakes.ts';
import { comparable } from './run_compare.ts';

describe('a run folder moved with its inputs resumes', function () {
  this.timeout(120_000);
  let top: string;
  before(() => (top = mkdtempSync(path.join(tmpdir(), 'stic-moved-'))));
  after(() => rmSync(top, { recursive: true, force: true }));

  async function project(dir: string): Promise<string> {
    await writeTinyLlava(path.join(dir, 'model'));
    await writeImages(path.join(dir, 'images'), 6, 5, 30, 30);
    const cfg = path.join(dir, 'run.yaml');
    writeFileSync(cfg, 'model: model\nout: run\nseed: 5\nthreads: 1\nstages: [pref, dpo]\npref: {images: images, max-new-tokens: 6, batch-size: 2}\ndpo: {lora-r: 4, lora-alpha: 8, batch-size: 2, epochs: 6, lr: 1.0e-2, checkpoint-every: 1}\n');
    return cfg;
  }

  it('killed during dpo, moved elsewhere, run again: pref skipped, dpo resumed to the uninterrupted result', async () => {
    const whole = await project(path.join(top, 'whole'));
    const r = await runCli(['run', whole]);
    expect(r.code, r.stderr).to.equal(0);

    const first = path.join(top, 'first');
    const cfg = await project(first);
    const child = spawn(process.execPath, [path.join(repo, 'bin/stic.js'), 'run', cfg], { stdio: 'ignore' });
    const exited = new Promise<string | null>((resolve) => child.on('exit', (_c, s) => resolve(s)));
    const ckpts = path.join(first, 'run/dpo/work/checkpoints');
    while (!(existsSync(ckpts) && readdirSync(ckpts).filter((n) => n.startsWith('step-')).length >= 1)) {
      if (child.exitCode !== null) throw new Error('stic run ended before dpo wrote a checkpoint');
      await new Promise((res) => setTimeout(res, 3));
    }
    child.kill('SIGKILL');
    expect(await exited).to.equal('SIGKILL');

    const moved = path.join(top, 'elsewhere', 'deeper');
    mkdirSync(path.dirname(moved), { recursive: true });
    renameSync(first, moved); // one level deeper, so every absolute path and its depth change

    const again = await runCli(['run', path.join(moved, 'run.yaml')]);
    expect(again.code, again.stderr).to.equal(0);
    const said = again.stderr.split('\n').filter((l) => /^(pref|dpo): (skip|resume|run)/.test(l)).map((l) => l.replace(/ \(.*/, ''));
    expect(said).to.deep.equal(['pref: skip', 'dpo: resume']);
    // (pref.jsonl itself records the model's path as given, so it differs between the two projects.)
    for (const f of ['dpo/adapter_model.safetensors', 'dpo/metrics.jsonl']) {
      expect(comparable(path.join(moved, 'run', f)), f).to.deep.equal(comparable(path.join(top, 'whole/run', f)));
    }
    // The reference log-probs came from the cache written before the move, not recomputed.
    expect(readFileSync(path.join(moved, 'run/dpo/work/reference_logps.jsonl'))).to.deep.equal(readFileSync(path.join(top, 'whole/run/dpo/work/reference_logps.jsonl')));
  });
});
