// The package as npm installs it: the compiled JavaScript (npm run build:js -> dist/) runs the CLI
// and serves `import ... from 'stic'` with type declarations, and the README's ```js blocks run as
// written against it (through a node_modules/stic link, as an installed package resolves).
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { repo } from '../stic/cli_helpers.ts';

const run = (args: string[], env: Record<string, string> = {}, cwd = repo) =>
  spawnSync(process.execPath, args, { cwd, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 120_000 });

describe('the compiled package (dist/)', function () {
  this.timeout(180_000);
  let dir: string;
  before(() => {
    const tsc = spawnSync(process.execPath, [path.join(repo, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: repo, encoding: 'utf8' });
    expect(tsc.status, tsc.stdout + tsc.stderr).to.equal(0);
    dir = mkdtempSync(path.join(tmpdir(), 'stic-pkg-'));
    mkdirSync(path.join(dir, 'node_modules'));
    symlinkSync(repo, path.join(dir, 'node_modules', 'stic'));
  });
  after(() => dir && rmSync(dir, { recursive: true, force: true }));

  it('has declarations beside the JavaScript of every public module', () => {
    const pkg = JSON.parse(readFileSync(path.join(repo, 'package.json'), 'utf8')) as { exports: Record<string, { types: string; default: string }> };
    for (const f of [pkg.exports['.'].types, pkg.exports['.'].default]) expect(existsSync(path.join(repo, f)), f).to.equal(true);
    expect(readFileSync(path.join(repo, 'dist/lib/index.d.ts'), 'utf8')).to.contain('loadChatModel');
  });

  it('stic runs compiled: --version from package.json alone, --help and info through dist/bin', () => {
    const version = (JSON.parse(readFileSync(path.join(repo, 'package.json'), 'utf8')) as { version: string }).version;
    expect(run(['bin/stic.js', '--version']).stdout).to.equal(`${version}\n`);
    const help = run(['bin/stic.js', '--help'], { STIC_COMPILED: '1' });
    expect(help.status, help.stderr).to.equal(0);
    for (const c of ['pref', 'dpo', 'describe', 'infuse', 'sft', 'run', 'eval']) expect(help.stdout).to.match(new RegExp(`stic ${c}\\b`));
    const info = run(['bin/stic.js', 'info'], { STIC_COMPILED: '1' });
    expect(info.status, info.stderr).to.equal(0);
  });

  const readme = readFileSync(path.join(repo, 'README.md'), 'utf8');
  const blocks = [...readme.matchAll(/^```js\n([\s\S]*?)^```$/gm)].map((m) => m[1]);
  it('the README has a js block importing from stic', () => expect(blocks.some((b) => /from 'stic'/.test(b))).to.equal(true));
  blocks.forEach((block, i) => {
    it(`README js block ${i + 1} runs as written against the installed package, every name defined`, () => {
      const names = [...block.matchAll(/import\s*\{([^}]*)\}\s*from 'stic'/g)].flatMap((m) => m[1].split(',').map((n) => n.trim()).filter(Boolean));
      const file = path.join(dir, `block${i}.mjs`);
      writeFileSync(file, `${block}\nfor (const [n, v] of Object.entries({ ${names.join(', ')} })) if (v === undefined) throw new Error(n + ' is undefined');\nconsole.log('ok');\n`);
      const r = run([file], {}, dir);
      expect(r.status, r.stderr).to.equal(0);
      expect(r.stdout).to.equal('ok\n');
    });
  });
});
