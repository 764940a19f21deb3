// What `stic info` says about many processes: whether MPI can be loaded (and which), whether the MPI
// addon was built with NCCL (and which), and the launch this process is part of.
import { loadDistAddon } from '../native/dist_loader.ts';
import { discoverLaunch } from './world.ts';

export interface DistInfo {
  mpi: { available: boolean; detail: string };
  nccl: { available: boolean; detail: string };
  launch: ReturnType<typeof discoverLaunch>;
}

export function distInfo(): DistInfo {
  let mpi: DistInfo['mpi'];
  let ncclVersion: string | null = null;
  try {
    const addon = loadDistAddon();
    mpi = { available: true, detail: addon.libraryVersion() };
    ncclVersion = addon.nccl ?? null;
  } catch (err) {
    mpi = { available: false, detail: (err as Error).message.split('\n')[0] };
  }
  const nccl = ncclVersion
    ? { available: true, detail: `NCCL ${ncclVersion} (GPU all-reduce, bootstrapped over MPI)` }
    : { available: false, detail: `not built (${mpi.available ? 'stic_dist.node found no nccl.h, libnccl and CUDA runtime at build time' : 'needs the MPI addon'})` };
  return { mpi, nccl, launch: discoverLaunch() };
}

/** The rows `stic info` prints. */
export function distInfoRows(d: DistInfo): [string, string][] {
  const l = d.launch;
  return [
    ['mpi', d.mpi.available ? d.mpi.detail : `not available: ${d.mpi.detail}`],
    ['nccl', d.nccl.detail],
    ['ranks', l.size === 1 ? '1 (one process; launch with mpirun -np N or srun --mpi=pmix for more)' : `rank ${l.rank} of ${l.size} (${l.launcher}, local rank ${l.localRank} of ${l.localSize})`],
  ];
}
