// Arenas are planned and carved from one description (native/core/carver.h), and a plan keeps what
// each request is for: with STIC_LOG_ARENAS=1 the addon writes one stderr line per arena it creates,
// its size and where the bytes go ("stic: kv-cache arena 0.047 MiB = 0.023 MiB keys + ..."), as
// llm.c reports its allocations. The lines must add up: the parts of each line sum to its total.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { expect } from 'chai';

import { repo, writeTinyLlava } from '../stic/cli_helpers.ts';

const IMAGE = path.join(repo, 'test', 'fixtures', 'hf', 'images', 'scene.png');

function generate(model: string, env: Record<string, string>): { status: number | null; stderr: string } {
  const args = ['generate', '--model', model, '--image', IMAGE, '--prompt', 'Describe the image.', '--max-new-tokens', '3'];
  const r = spawnSync(process.execPath, [path.join(repo, 'bin', 'stic.js'), ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
  return { status: r.status, stderr: r.stderr };
}

/** MiB figures of a line "stic: <lifetime> arena <total> MiB = <part> MiB <what> + ...". */
function parse(line: string): { lifetime: string; total: number; parts: Map<string, number> } {
  const m = /^stic: (\S+) arena ([\d.]+) MiB = (.+)$/.exec(line);
  if (!m) throw new Error(`not an arena line: ${line}`);
  const parts = new Map<string, number>();
  for (const p of m[3].split(' + ')) {
    const pm = /^([\d.]+) MiB (.+)$/.exec(p);
    if (!pm) throw new Error(`not an arena part: ${p} (in ${line})`);
    parts.set(pm[2], Number(pm[1]));
  }
  return { lifetime: m[1], total: Number(m[2]), parts };
}

describe('arena plans (STIC_LOG_ARENAS)', function () {
  this.timeout(120000);
  let dir: string;
  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'stic-arena-'));
    await writeTinyLlava(path.join(dir, 'model'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('logs each arena of a generation with its parts, which add up to its size', () => {
    const r = generate(path.join(dir, 'model'), { STIC_LOG_ARENAS: '1' });
    expect(r.status, r.stderr).to.equal(0);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('stic: ') && l.includes(' arena '));
    const arenas = lines.map(parse);
    const kv = arenas.find((a) => a.lifetime === 'kv-cache');
    expect(kv, r.stderr).to.not.equal(undefined);
    expect([...(kv?.parts.keys() ?? [])].sort()).to.deep.equal(['keys', 'values']);
    const act = arenas.find((a) => a.lifetime === 'activations');
    expect(act?.parts.has('decoder activations'), r.stderr).to.equal(true);
    for (const a of arenas) {
      const sum = [...a.parts.values()].reduce((s, v) => s + v, 0);
      // Each figure is rounded to 0.1 MiB (0.001 below 1 MiB).
      expect(Math.abs(sum - a.total), `${a.lifetime}: ${[...a.parts]}`).to.be.below(0.05 * (a.parts.size + 1) + 1e-9);
    }
  });

  it('logs nothing without it', () => {
    const r = generate(path.join(dir, 'model'), {});
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stderr).to.not.include(' arena ');
  });
});
