// What `stic info` says about many processes: whether MPI can be loaded (and which), whether this
// build has NCCL, and the launch this process is part of.
import { loadDistAddon } from '../native/dist_loader.ts';
import { discoverLaunch } from './world.ts';

export interface DistInfo {
  mpi: { available: boolean; detail: string };
  nccl: { available: boolean; detail: string };
  launch: ReturnType<typeof discoverLaunch>;
}

export function distInfo(build: { nccl?: boolean }): DistInfo {
  let mpi: DistInfo['mpi'];
  try {
    mpi = { available: true, detail: loadDistAddon().libraryVersion() };
  } catch (err) {
    mpi = { available: false, detail: (err as Error).message.split('\n')[0] };
  }
  const nccl = build.nccl
    ? { available: true, detail: 'built (GPU collectives, bootstrapped over MPI)' }
    : { available: false, detail: 'not built (needs the CUDA backend and NCCL at build time)' };
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
