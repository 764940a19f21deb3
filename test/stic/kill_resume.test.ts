// Kill-and-resume across every stage (issue 20): `stic run` killed with SIGKILL at seeded random
// moments inside each of the five stages, up to twice per stage, then run to the end (three seeds), leaves exactly the
// files of a run that was never interrupted (byte for byte, less the wall-clock fields listed in
// run_compare.ts). Each killed run leaves its output-folder lock behind; the next run takes it over.
import { expect } from 'chai';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { makeRng } from '../helpers/rng.ts';
import { repo, runCli, writeTinyLlava } from './cli_helpers.ts';
import { writeImages } from './fakes.ts';
import { comparable, filesUnder } from './run_compare.ts';

const STAGE_OUTPUT = { pref: 'pref.jsonl', dpo: 'dpo', describe: 'descriptions.jsonl', infuse: 'infused.json', sft: 'sft' } as const;

describe('stic run killed at random points of every stage resumes to the same files', function () {
  this.timeout(240_000);
  let dir: string;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'stic-kill-'));
    await writeTinyLlava(path.join(dir, 'model'));
    const names = await writeImages(path.join(dir, 'images'), 8, 9, 30, 30);
    const samples = names.slice(0, 5).map((image, i) => ({ id: `s${i}`, image, conversations: [{ from: 'human', value: `<image>\nWhat is ${i}?` }, { from: 'gpt', value: `Thing ${i}.` }] }));
    writeFileSync(path.join(dir, 'instr.json'), JSON.stringify(samples));
    writeFileSync(
      path.join(dir, 'run.yaml'),
      'model: model\nout: run\nseed: 3\nthreads: 1\n' +
        'pref: {images: images, max-new-tokens: 6, batch-size: 2, ref-logps: true}\n' +
        'dpo: {lora-r: 4, lora-alpha: 8, batch-size: 2, epochs: 4, lr: 1.0e-2, checkpoint-every: 1}\n' +
        'describe: {instructions: instr.json, image-root: images, max-new-tokens: 6, batch-size: 2, temperature: 0}\n' +
        'sft: {batch-size: 2, epochs: 3, lr: 1.0e-2, checkpoint-every: 1}\n',
    );
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('three seeds: up to two kills inside each stage, then a full run: every file equals the uninterrupted run\'s', async () => {
    const cfg = path.join(dir, 'run.yaml');
    const out = path.join(dir, 'run');
    const whole = path.join(dir, 'run-whole');
    const ref = await runCli(['run', cfg]);
    expect(ref.code, ref.stderr).to.equal(0);
    renameSync(out, whole); // the killed runs write to the same path, so path-bearing files compare too

    for (const seed of [2020, 2021, 2022]) {
      rmSync(out, { recursive: true, force: true });
      const rng = makeRng(seed);
      const kills: string[] = [];
      for (const stage of Object.keys(STAGE_OUTPUT) as (keyof typeof STAGE_OUTPUT)[]) {
        for (let k = 0; k < 2; k++) {
          if (existsSync(path.join(out, `${STAGE_OUTPUT[stage]}.done.json`))) break; // finished by an earlier run
          const child = spawn(process.execPath, [path.join(repo, 'bin/stic.js'), 'run', cfg], { stdio: 'ignore' });
          const exited = exitOf(child);
          // Wait until the stage has started (its output exists), then kill after 0-150 ms more.
          while (!existsSync(path.join(out, STAGE_OUTPUT[stage])) && child.exitCode === null) await sleep(3);
          await sleep(rng.int(0, 150));
          child.kill('SIGKILL');
          kills.push(`${stage}: ${(await exited) ?? 'finished first'}`);
        }
      }
      if (process.env.STIC_TEST_VERBOSE) process.stderr.write(`seed ${seed}: ${kills.join(', ')}\n`);
      // Kills that land: 6 or 7 on an idle machine. describe, infuse and sft of this tiny run can all
      // finish within one kill's random delay (a clean-clone CI run once saw pref x2, dpo x2, describe
      // and nothing after), so 5 is the bound that still proves kills in three stages.
      expect(kills.filter((k) => k.endsWith('SIGKILL')).length, kills.join('; ')).to.be.at.least(5);

      const last = await runCli(['run', cfg]);
      expect(last.code, last.stderr).to.equal(0);
      const files = filesUnder(whole);
      expect(filesUnder(out), `seed ${seed}`).to.deep.equal(files);
      for (const f of files) expect(comparable(path.join(out, f)), `seed ${seed}: ${f}`).to.deep.equal(comparable(path.join(whole, f)));
    }
  });
});

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function exitOf(child: ChildProcess): Promise<NodeJS.Signals | null> {
  return new Promise((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
}
