// Never lose a user's data (issue 20): an output that is, contains or lies inside an input is
// refused before anything is written, naming both; an output file that is a symbolic link is never
// written through; two processes on one output folder exclude each other, and a lock left by a
// killed process is taken over. Each case failed before the fix: infuse rewrote the instruction
// file, corrupt overwrote the images, describe appended to its instructions, dpo ended in EEXIST,
// a resumed pref appended to the file its output link pointed at.
import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';

import { LOCK_FILE } from '../../lib/util/output_lock.ts';
import { repo, runCli, writeTinyLlava } from './cli_helpers.ts';
import { writeImages } from './fakes.ts';

/** Every file under dir with its bytes, to prove a refused command wrote nothing. */
function snapshot(dir: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const e of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (e.isFile()) m.set(path.relative(dir, path.join(e.parentPath, e.name)), readFileSync(path.join(e.parentPath, e.name)).toString('base64'));
  }
  return m;
}

describe('data safety: outputs never overwrite inputs, one writer per output folder', function () {
  this.timeout(60_000);
  let dir: string;
  let model: string;
  let images: string;
  let instr: string;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'stic-safety-'));
    model = path.join(dir, 'model');
    images = path.join(dir, 'images');
    await writeTinyLlava(model);
    const names = await writeImages(images, 4, 11, 30, 30);
    instr = path.join(dir, 'instr.json');
    writeFileSync(instr, JSON.stringify(names.map((image, i) => ({ id: `s${i}`, image, conversations: [{ from: 'human', value: '<image>\nWhat?' }, { from: 'gpt', value: 'This.' }] }))));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  async function refused(argv: string[], message: RegExp): Promise<void> {
    const before = snapshot(dir);
    const r = await runCli(argv);
    expect(r.code, r.stderr).to.equal(1);
    expect(r.stderr).to.match(message);
    expect(snapshot(dir)).to.deep.equal(before); // nothing written, nothing changed
  }

  it('stic infuse --out equal to --instructions is refused, naming both', async () => {
    const descs = path.join(dir, 'descs.jsonl');
    writeFileSync(descs, `${JSON.stringify({ id: 's0', image: 'img-00.png', prompt: 'p', description: 'd' })}\n`);
    await refused(['infuse', '--instructions', instr, '--descriptions', descs, '--out', instr], new RegExp(`^stic: --out ${instr} is the same path as the input --instructions ${instr}: an output must never overwrite or change an input; choose another output path\\n$`));
    rmSync(descs);
  });

  it('stic corrupt --in X --out X is refused; an --out inside --in too', async () => {
    await refused(['corrupt', '--in', images, '--out', images], /^stic: --out .* is the same path as the input --in /);
    await refused(['corrupt', '--in', images, '--out', path.join(images, 'c')], /^stic: --out .*images\/c lies inside the input folder --in .*images: /);
  });

  it('stic describe --out equal to --instructions, and through a link to it, is refused', async () => {
    const common = ['describe', '--model', model, '--instructions', instr, '--max-new-tokens', '2'];
    await refused([...common, '--out', instr], /^stic: --out .* is the same path as the input --instructions /);
    const link = path.join(dir, 'link.jsonl');
    symlinkSync(instr, link);
    await refused([...common, '--out', link], new RegExp(`^stic: --out ${link} is \\(after resolving links, ${instr}\\) the same path as the input --instructions ${instr}: `));
    rmSync(link);
  });

  it('stic dpo --out equal to --prefs, or a folder holding the model, is refused', async () => {
    const prefs = path.join(dir, 'prefs.jsonl');
    writeFileSync(prefs, '');
    await refused(['dpo', '--model', model, '--prefs', prefs, '--out', prefs], /^stic: --out .*prefs.jsonl is the same path as the input --prefs /);
    await refused(['dpo', '--model', model, '--prefs', prefs, '--out', dir], /^stic: --out .* contains the input --model .*model: /);
    rmSync(prefs);
  });

  it('a stage output that is a symbolic link is refused, and the file it points at is untouched', async () => {
    const target = path.join(dir, 'elsewhere.txt');
    writeFileSync(target, 'precious\n');
    const out = path.join(dir, 'pref.jsonl');
    symlinkSync(target, out);
    const r = await runCli(['pref', '--model', model, '--images', images, '--max-new-tokens', '2', '--out', out]);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.equal(`stic: ${out}: the output is a symbolic link; stic does not write through links (it would change the file the link points at): remove the link or choose another output path\n`);
    expect(readFileSync(target, 'utf8')).to.equal('precious\n');
    rmSync(out);
    rmSync(target);
  });

  it('stic run refuses a run folder that would land inside its image folder', async () => {
    const cfg = path.join(dir, 'inside.yaml');
    writeFileSync(cfg, `model: model\nout: images/run\nstages: [pref]\npref: {images: images}\n`);
    await refused(['run', cfg], new RegExp(`^stic: ${cfg}: out \\(pref\\) .*images/run/pref.jsonl lies inside the input folder ${cfg}: pref.images .*images: `));
    rmSync(cfg);
  });

  describe('the output-folder lock', () => {
    const cfgFor = (out: string) => {
      const cfg = path.join(dir, `${path.basename(out)}.yaml`);
      writeFileSync(cfg, `model: model\nout: ${out}\nthreads: 1\nstages: [pref]\npref: {images: images, max-new-tokens: 2, batch-size: 1}\n`);
      return cfg;
    };

    it('a second writer exits at once naming the live holder; the lock is gone after a normal end', async () => {
      const out = path.join(dir, 'run-locked');
      mkdirSync(out);
      const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
      try {
        writeFileSync(path.join(out, LOCK_FILE), `${JSON.stringify({ pid: holder.pid, host: hostname(), command: 'stic run other.yaml', since: '2026-01-01T00:00:00.000Z' })}\n`);
        const r = await runCli(['run', cfgFor(out)]);
        expect(r.code).to.equal(1);
        expect(r.stderr).to.equal(
          `stic: ${out} is in use by another stic process (pid ${holder.pid} on ${hostname()}, since 2026-01-01T00:00:00.000Z: stic run other.yaml); ` +
            `wait for it to finish, or write to another output. If that process no longer runs, delete ${path.join(out, LOCK_FILE)}\n`,
        );
        expect(existsSync(path.join(out, 'pref.jsonl'))).to.equal(false);
        // A stage command writing into the same folder is excluded too.
        const p = await runCli(['pref', '--model', model, '--images', images, '--out', path.join(out, 'p.jsonl')]);
        expect(p.stderr).to.match(/is in use by another stic process \(pid \d+/);
      } finally {
        holder.kill('SIGKILL');
      }
    });

    it('a lock left by a killed process is taken over with a message, and released at the end', async () => {
      const out = path.join(dir, 'run-stale');
      mkdirSync(out);
      const dead = spawnSync(process.execPath, ['-e', '0']).pid as number;
      writeFileSync(path.join(out, LOCK_FILE), `${JSON.stringify({ pid: dead, host: hostname(), command: 'stic run killed.yaml', since: 'x' })}\n`);
      // What a process killed while taking or taking over a lock leaves behind: removed too.
      for (const litter of [`${LOCK_FILE}.${dead}-deadbeef.tmp`, `${LOCK_FILE}.stale-${dead}-deadbeef`]) writeFileSync(path.join(out, litter), 'x');
      const r = await runCli(['run', cfgFor(out)]);
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stderr).to.contain(`note: took over the lock of ${out} left by process ${dead} (stic run killed.yaml), which no longer runs\n`);
      expect(existsSync(path.join(out, 'pref.jsonl.done.json'))).to.equal(true);
      expect(readdirSync(out).filter((n) => n.startsWith('.stic.lock'))).to.deep.equal([]);
    });

    it('two stic run processes on one folder: one runs, the other exits at once naming it; SIGTERM releases the lock', async () => {
      const out = path.join(dir, 'run-two');
      const cfg = cfgFor(out);
      const stic = path.join(repo, 'bin/stic.js');
      const first = spawn(process.execPath, [stic, 'run', cfg], { stdio: ['ignore', 'ignore', 'pipe'] });
      const firstExit = new Promise<NodeJS.Signals | null>((resolve) => first.on('exit', (_c, s) => resolve(s)));
      while (!existsSync(path.join(out, LOCK_FILE))) await new Promise((r) => setTimeout(r, 2));
      first.kill('SIGSTOP'); // frozen while holding the lock, however fast the machine
      const second = spawnSync(process.execPath, [stic, 'run', cfg], { encoding: 'utf8' });
      expect(second.status).to.equal(1);
      expect(second.stderr).to.match(new RegExp(`^stic: ${out} is in use by another stic process \\(pid ${first.pid} on ${hostname()}, since \\S+: stic run ${cfg}\\)`));
      let firstErr = '';
      first.stderr?.on('data', (d) => (firstErr += d));
      first.kill('SIGTERM');
      first.kill('SIGCONT');
      expect(await firstExit).to.equal('SIGTERM');
      expect(existsSync(path.join(out, LOCK_FILE))).to.equal(false);
      expect(firstErr).to.include('stic: stopped by SIGTERM; what was written so far is kept: run the same command again to resume');
    });
  });
});
