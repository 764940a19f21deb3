// The life of a rank, for the CLI entry point: startWorld() before the command (reads the launch,
// initialises MPI when there are several ranks, gives this rank its share of the cores, keeps ranks
// other than 0 quiet), finishWorld() after it, failWorld() when it throws. currentWorld() is what
// the stages and the training loop ask; without startWorld (library use, tests) it is one process.
import { availableParallelism, cpus } from 'node:os';

import { loadDistAddon } from '../native/dist_loader.ts';
import { native } from '../native/index.ts';
import { type Comm, LocalComm, MpiComm } from './comm.ts';
import { type Launch, discoverLaunch, launchProblem } from './world.ts';

export interface World extends Launch {
  comm: Comm;
}

const SINGLE_WORLD: World = { launcher: 'single', rank: 0, size: 1, localRank: 0, localSize: 1, comm: new LocalComm() };

let world: World = SINGLE_WORLD;
let mpiInitialized = false;
let loudStderr: ((text: string) => void) | null = null;

/** This process's world (one process unless startWorld found several ranks). */
export function currentWorld(): World {
  return world;
}

/** Rank 0 writes every output file; the others compute and send. */
export function isWriter(): boolean {
  return world.rank === 0;
}

/** Reads the launch and, for several ranks, joins them over MPI. Idempotent. */
export async function startWorld(env: NodeJS.ProcessEnv = process.env): Promise<World> {
  if (mpiInitialized) return world;
  const launch = discoverLaunch(env);
  const problem = launchProblem(launch);
  if (problem) throw new Error(problem);
  if (launch.size === 1) return world;
  const mpi = loadDistAddon();
  const got = mpi.init();
  mpiInitialized = true;
  if (got.size !== launch.size || got.rank !== launch.rank) {
    const hint = launch.launcher === 'srun' ? ' (srun must start stic with --mpi=pmix so that MPI sees the whole step)' : '';
    throw new Error(`${launch.launcher} announced rank ${launch.rank} of ${launch.size} but MPI sees rank ${got.rank} of ${got.size}${hint}`);
  }
  world = { ...launch, comm: new MpiComm(mpi, got.rank, got.size) };
  shareCores(launch, env);
  if (launch.rank !== 0) quietThisRank();
  return world;
}

/** After a command that succeeded (or failed the same way on every rank): leave MPI. */
export async function finishWorld(): Promise<void> {
  if (!mpiInitialized) return;
  await world.comm.barrier();
  loadDistAddon().finalize();
  mpiInitialized = false;
}

/**
 * A rank's command failed: say which rank and why, once, and stop every rank (MPI_Abort makes the
 * launcher kill the others within seconds). Outputs stay consistent: rank 0 writes whole batches
 * and whole files only, so a re-run resumes. Returns only in a one-process world.
 */
export function failWorld(message: string): void {
  if (!mpiInitialized) return;
  (loudStderr ?? ((t: string) => process.stderr.write(t)))(`stic: rank ${world.rank} of ${world.size} failed: ${message}\nstic: stopping all ${world.size} ranks\n`);
  loadDistAddon().abort(1);
}

// Each rank of a node gets its share of the cores, unless the user chose (STIC_THREADS,
// OMP_NUM_THREADS, --threads later) or the launcher bound the rank to fewer cores than the node has
// (mpirun's default binds each rank to one core for -np <= 2: use --bind-to none or --map-by slot:PE=k).
function shareCores(l: Launch, env: NodeJS.ProcessEnv): void {
  if (env.STIC_THREADS || env.OMP_NUM_THREADS) return;
  const usable = availableParallelism();
  const share = usable < cpus().length ? usable : Math.max(1, Math.floor(usable / Math.max(1, l.localSize)));
  native().setThreads(share);
}

// Ranks other than 0 compute the same things: their reports and progress bars would repeat rank
// 0's. Their stdout and stderr are dropped; failWorld still reaches the terminal.
function quietThisRank(): void {
  const original = process.stderr.write.bind(process.stderr);
  loudStderr = (text) => void original(text);
  const drop = ((_chunk: unknown, ...rest: unknown[]) => {
    const cb = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
    cb?.();
    return true;
  }) as typeof process.stdout.write;
  process.stdout.write = drop;
  process.stderr.write = drop;
}
