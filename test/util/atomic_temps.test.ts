// A process killed inside an atomic write leaves its temporary file behind (found by the
// kill-and-resume test: `.pref.jsonl.done.json.<pid>.<hex>.tmp` in a run folder). The next write of
// the same file removes the temporaries of writers that no longer run and keeps a live writer's.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { writeSafetensors } from '../../lib/model/safetensors.ts';
import { writeFileAtomic } from '../../lib/util/atomic_write.ts';

describe('atomic writes clean up after killed writers', () => {
  let dir: string;
  before(() => (dir = mkdtempSync(path.join(tmpdir(), 'stic-temps-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('a dead writer\'s temporary is removed, a live one\'s and other files are kept (JSON and safetensors)', async () => {
    const dead = spawnSync(process.execPath, ['-e', '0']).pid as number;
    for (const name of ['m.done.json', 'w.safetensors']) {
      const keep = [`.${name}.${process.pid}.cafebabe.tmp`, `.${name}.x.tmp`, `.other.${dead}.deadbeef.tmp`];
      for (const n of [`.${name}.${dead}.deadbeef.tmp`, ...keep]) writeFileSync(path.join(dir, n), 'partial');
      if (name.endsWith('.json')) await writeFileAtomic(path.join(dir, name), '{}\n');
      else await writeSafetensors(path.join(dir, name), [{ name: 't', dtype: 'F32', shape: [2], data: new Float32Array([1.5, -2]) }]);
      expect(readdirSync(dir).filter((n) => n.includes(name) || n.startsWith('.other')).sort()).to.deep.equal([...keep, name].sort());
      for (const n of keep) rmSync(path.join(dir, n));
    }
  });
});
