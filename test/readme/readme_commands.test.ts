// Every command block of README.md runs as written, in order, in one temporary folder that looks
// like the repository root to the commands: `models/toy-llava` (the built-in model), and `stic` /
// `npx stic` running this checkout's CLI. Files the README shows as YAML/JSON blocks named in their
// first line are written where they say before the commands after them run. The project's own npm
// commands (install, test, demo) are checked to name existing scripts instead of being run inside
// the suite (readme_blocks.ts). The blocks are parsed when the test runs: a block added to the
// README is run without editing this file.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { mpiEnv, mpiUnavailable } from '../dist/mpirun.ts';
import { npmScriptOf, readmeBlocks, splitNpmLines } from './readme_blocks.ts';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const readme = readFileSync(path.join(repo, 'README.md'), 'utf8');
const blocks = readmeBlocks(readme);
const scripts = (JSON.parse(readFileSync(path.join(repo, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;

describe('README.md command blocks, run as written on the built-in model', function () {
  this.timeout(600_000);
  let dir: string;
  let env: NodeJS.ProcessEnv;

  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'stic-readme-'));
    mkdirSync(path.join(dir, 'models'));
    symlinkSync(path.join(repo, 'models', 'toy-llava'), path.join(dir, 'models', 'toy-llava'));
    // `stic` on PATH (a linked install) and `npx stic` (a local bin), both this checkout's CLI.
    const shim = `#!/bin/sh\nexec "${process.execPath}" "${path.join(repo, 'bin', 'stic.js')}" "$@"\n`;
    for (const bin of [path.join(dir, '.bin'), path.join(dir, 'node_modules', '.bin')]) {
      mkdirSync(bin, { recursive: true });
      writeFileSync(path.join(bin, 'stic'), shim);
      chmodSync(path.join(bin, 'stic'), 0o755);
    }
    // mpiEnv: Open MPI's allow-as-root (CI runs as root) and its traffic kept on shm and `lo`
    env = { ...mpiEnv(), PATH: `${path.join(dir, '.bin')}${path.delimiter}${process.env.PATH}`, NO_COLOR: '1', npm_config_yes: 'false' };
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('the README shows the stage commands and a stic run config with its --dry-run', () => {
    const commands = blocks.filter((b) => b.kind === 'commands').map((b) => b.text).join('\n');
    for (const stage of ['pref', 'dpo', 'describe', 'infuse', 'sft']) expect(commands).to.match(new RegExp(`\\bstic ${stage} `));
    expect(commands).to.match(/\bstic run \S+ --dry-run/);
    expect(blocks.some((b) => b.kind === 'file')).to.equal(true);
  });

  for (const b of blocks) {
    const where = `README.md:${b.line} (${b.section})`;
    if (b.kind === 'file') {
      it(`${where}: the file ${b.file} is written`, () => {
        const target = path.join(dir, b.file as string);
        mkdirSync(path.dirname(target), { recursive: true });
        writeFileSync(target, b.text);
      });
      continue;
    }
    const { npm, rest } = splitNpmLines(b.text);
    it(`${where}: runs${npm.length ? ` (npm lines name existing scripts: ${npm.join('; ')})` : ''}`, function () {
      const noMpi = /^\s*mpirun\b/m.test(rest) ? mpiUnavailable() : null;
      if (noMpi) {
        process.stderr.write(`      skipped: ${where} needs mpirun: ${noMpi}\n`);
        this.skip();
      }
      for (const line of npm) expect(scripts, `${where}: "${line}" runs package.json script "${npmScriptOf(line)}"`).to.have.property(npmScriptOf(line));
      if (rest.trim() === '') return;
      const r = spawnSync('bash', ['-e', '-o', 'pipefail', '-c', rest], { cwd: dir, env, encoding: 'utf8', timeout: 540_000 });
      expect(r.status, `${where} failed (exit ${r.status}${r.signal ? `, ${r.signal}` : ''}):\n${rest}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`).to.equal(0);
    });
  }
});
