// Who am I among how many: the launch environment read once at start-up. stic's ranks are wired by
// MPI, so the launchers are the MPI ones:
//   mpirun / mpiexec (Open MPI)   OMPI_COMM_WORLD_RANK, _SIZE, _LOCAL_RANK, _LOCAL_SIZE
//   Slurm srun --mpi=pmix         SLURM_PROCID, SLURM_STEP_NUM_TASKS, SLURM_LOCALID, SLURM_STEP_TASKS_PER_NODE
// torchrun-style variables (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE) are read too, but only to
// refuse them clearly when they announce several ranks: without an MPI launcher nothing connects the
// processes. SLURM_NTASKS is deliberately not used: an sbatch script sees the allocation's task count
// while it is a single process; srun sets the step's. One process (no launcher) is rank 0 of 1.

export type Launcher = 'single' | 'mpirun' | 'srun' | 'torchrun';

export interface Launch {
  launcher: Launcher;
  rank: number;
  size: number;
  /** Rank among the processes of this node: picks the GPU (`CUDA_VISIBLE_DEVICES` order). */
  localRank: number;
  /** Processes on this node: they share its cores. */
  localSize: number;
}

const SINGLE: Launch = { launcher: 'single', rank: 0, size: 1, localRank: 0, localSize: 1 };

function intVar(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const v = env[name];
  if (v === undefined || v === '') return undefined;
  if (!/^\d+$/.test(v.trim())) throw new Error(`environment variable ${name}: expected a non-negative integer but found ${JSON.stringify(v)}`);
  return Number(v);
}

// "2(x3),1" -> tasks on the first node listed; for the local size only a node's own count matters,
// and srun lists ours among them: the largest is a safe share of the cores.
function slurmTasksPerNode(spec: string | undefined): number | undefined {
  if (!spec) return undefined;
  const counts = spec.split(',').map((p) => Number(p.replace(/\(x\d+\)$/, '')));
  return counts.every((n) => Number.isInteger(n) && n > 0) ? Math.max(...counts) : undefined;
}

/** The launch this process is part of, from its environment. */
export function discoverLaunch(env: NodeJS.ProcessEnv = process.env): Launch {
  const ompiSize = intVar(env, 'OMPI_COMM_WORLD_SIZE');
  if (ompiSize !== undefined) {
    return {
      launcher: 'mpirun',
      rank: intVar(env, 'OMPI_COMM_WORLD_RANK') ?? 0,
      size: ompiSize,
      localRank: intVar(env, 'OMPI_COMM_WORLD_LOCAL_RANK') ?? 0,
      localSize: intVar(env, 'OMPI_COMM_WORLD_LOCAL_SIZE') ?? 1,
    };
  }
  const slurmSize = intVar(env, 'SLURM_STEP_NUM_TASKS');
  if (slurmSize !== undefined && env.SLURM_PROCID !== undefined) {
    return {
      launcher: 'srun',
      rank: intVar(env, 'SLURM_PROCID') ?? 0,
      size: slurmSize,
      localRank: intVar(env, 'SLURM_LOCALID') ?? 0,
      localSize: slurmTasksPerNode(env.SLURM_STEP_TASKS_PER_NODE) ?? 1,
    };
  }
  const torchSize = intVar(env, 'WORLD_SIZE');
  if (torchSize !== undefined && torchSize > 1) {
    return {
      launcher: 'torchrun',
      rank: intVar(env, 'RANK') ?? 0,
      size: torchSize,
      localRank: intVar(env, 'LOCAL_RANK') ?? 0,
      localSize: intVar(env, 'LOCAL_WORLD_SIZE') ?? 1,
    };
  }
  return SINGLE;
}

/** Why a launch cannot run, or null. */
export function launchProblem(l: Launch): string | null {
  if (l.launcher === 'torchrun') {
    return `WORLD_SIZE=${l.size} (torchrun-style variables) is set, but stic connects its ranks with MPI and torchrun starts no MPI job; launch with \`mpirun -np ${l.size} npx stic ...\` or \`srun --mpi=pmix -n ${l.size} npx stic ...\``;
  }
  if (l.size < 1 || l.rank >= l.size) return `${l.launcher}: expected a rank below the world size but found rank ${l.rank} of ${l.size}`;
  return null;
}
