// Running commands under `mpirun` for the tests and the scaling bench: Open MPI from Debian's
// packages, as root in CI (its allow-run-as-root variables), all traffic on this machine (shared
// memory between ranks, the loopback interface for Open MPI's own wiring; never another address).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const stic = path.join(repo, 'bin', 'stic.js');

/** Why the 2-rank tests cannot run here, or null when they can. */
export function mpiUnavailable(): string | null {
  const which = spawnSync('mpirun', ['--version'], { encoding: 'utf8' });
  if (which.error || which.status !== 0) return 'mpirun not found (install openmpi-bin and libopenmpi-dev; .ci/run does)';
  if (!existsSync(path.join(repo, 'build', 'Release', 'stic_dist.node'))) return 'build/Release/stic_dist.node was not built (no MPI at build time: install libopenmpi-dev, then npm run build)';
  return null;
}

/** Open MPI settings: local transports only, loopback only, root allowed, no core binding. */
export function mpiEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    OMPI_ALLOW_RUN_AS_ROOT: '1',
    OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: '1',
    OMPI_MCA_btl: 'self,vader',
    OMPI_MCA_btl_vader_single_copy_mechanism: 'none', // no CMA: containers often forbid ptrace
    OMPI_MCA_pml: 'ob1',
    OMPI_MCA_oob_tcp_if_include: 'lo',
    OMPI_MCA_btl_tcp_if_include: 'lo',
    OMPI_MCA_rmaps_base_oversubscribe: '1',
    OMPI_MCA_hwloc_base_binding_policy: 'none',
    ...extra,
  };
}

export interface MpiRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  seconds: number;
}

export interface MpiChild {
  pid: number;
  done: Promise<MpiRun>;
}

/** Starts `mpirun -np <ranks> node <script or bin/stic.js> args...`. */
export function startMpirun(ranks: number, args: string[], options: { script?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): MpiChild {
  const t0 = performance.now();
  const entry = options.script ? ['--import', 'tsx', options.script] : [stic];
  const child = spawn('mpirun', ['-np', String(ranks), process.execPath, ...entry, ...args], { cwd: repo, env: mpiEnv(options.env) });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 240_000);
  const done = new Promise<MpiRun>((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, seconds: (performance.now() - t0) / 1000 });
    });
  });
  return { pid: child.pid as number, done };
}

export function mpirun(ranks: number, args: string[], options: { script?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<MpiRun> {
  return startMpirun(ranks, args, options).done;
}
