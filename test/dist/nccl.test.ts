// The NCCL path of stic_dist.node (native/dist/nccl_comm.cpp) with world size 1 on a GPU: MPI
// bootstraps the communicator and an all-reduce goes through the device. Skipped, with the reason in
// the title, where mpirun, the MPI addon, an NCCL build of it or a GPU is missing.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { loadDistAddon } from '../../lib/native/dist_loader.ts';
import { mpiUnavailable, mpirun, repo } from './mpirun.ts';

function ncclUnavailable(): string | null {
  const mpi = mpiUnavailable();
  if (mpi) return mpi;
  if (!loadDistAddon().nccl) return 'stic_dist.node was built without NCCL (no nccl.h, libnccl and CUDA runtime at build time)';
  const smi = spawnSync('nvidia-smi', ['-L'], { encoding: 'utf8' });
  if (smi.error || smi.status !== 0 || !/GPU \d+/.test(smi.stdout)) return 'no GPU visible (nvidia-smi -L lists none)';
  return null;
}

const unavailable = ncclUnavailable();

(unavailable ? describe.skip : describe)(`NCCL over MPI on a GPU${unavailable ? ` (skipped: ${unavailable})` : ''}`, () => {
  it('world size 1: the communicator joins over MPI and an all-reduce returns the vector bit for bit', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'stic-nccl-'));
    try {
      const r = await mpirun(1, [dir], { script: path.join(repo, 'test/dist/nccl_main.ts') });
      expect(r.code, r.stderr).to.equal(0);
      const got = JSON.parse(readFileSync(path.join(dir, 'nccl.json'), 'utf8'));
      expect(got).to.include({ size: 1, device: 0, n: 1_000_003, mismatches: 0 });
      expect(got.version).to.match(/^\d+\.\d+\.\d+$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
