// The optional MPI addon (stic_dist.node, native/dist/) and its typed contract. It is loaded only
// when several ranks are launched, or when `stic info` asks: a single process never needs libmpi.
// RTLD_GLOBAL: Open MPI opens its own plugins with dlopen, and they look for libmpi's symbols in the
// global scope; Node opens addons RTLD_LOCAL by default, which would hide them.
import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import path from 'node:path';

import { packageRoot } from './loader.ts';

/** stic_dist.node (native/dist/dist_binding.cpp). Collectives are on MPI_COMM_WORLD; call one at a time. */
export interface DistBinding {
  /** MPI_Get_library_version's first line (no MPI_Init needed). */
  libraryVersion(): string;
  /** MPI_Init_thread(SERIALIZED) once; this rank and the world size. */
  init(): { rank: number; size: number; threadLevel: number };
  finalize(): void;
  /** MPI_Abort: the launcher stops every rank. */
  abort(code: number): void;
  barrier(): Promise<void>;
  /** root's bytes on every rank (others pass null). */
  broadcast(root: number, data: Uint8Array | null): Promise<Uint8Array>;
  /** Every rank's bytes in rank order, on every rank. */
  allgather(data: Uint8Array): Promise<Uint8Array[]>;
  /** Every rank's bytes in rank order on root; null elsewhere. */
  gather(root: number, data: Uint8Array): Promise<Uint8Array[] | null>;
  /** In place: data := sum over ranks, added in rank order (identical bits on every rank). */
  allreduceSumF32(data: Float32Array): Promise<void>;
  /** NCCL's version when built with NCCL (native/dist/nccl_comm.cpp), else null; the three below exist only then. */
  nccl: string | null;
  /** After init(): this rank joins the NCCL communicator (rank 0's ncclUniqueId broadcast over MPI) on
   * the GPU its local rank picks (local rank mod visible devices). */
  ncclInit?(localRank: number): { device: number };
  ncclFinalize?(): void;
  /** In place: data := sum over ranks by ncclAllReduce (host -> device -> host). */
  ncclAllreduceSumF32?(data: Float32Array): Promise<void>;
}

export function distAddonCandidates(env: NodeJS.ProcessEnv = process.env): string[] {
  const out: string[] = [];
  if (env.STIC_DIST_ADDON_PATH) out.push(path.resolve(env.STIC_DIST_ADDON_PATH));
  out.push(path.join(packageRoot, 'build', 'Release', 'stic_dist.node'));
  out.push(path.join(packageRoot, 'build', 'Debug', 'stic_dist.node'));
  return out;
}

let cached: DistBinding | undefined;

/** The MPI addon, or an error saying every path tried and why each failed. */
export function loadDistAddon(): DistBinding {
  if (cached) return cached;
  const tried: string[] = [];
  for (const file of distAddonCandidates()) {
    if (!existsSync(file)) {
      tried.push(`${file}: file does not exist`);
      continue;
    }
    try {
      const mod = { exports: {} as DistBinding };
      process.dlopen(mod, file, constants.dlopen.RTLD_NOW | constants.dlopen.RTLD_GLOBAL);
      cached = mod.exports;
      return cached;
    } catch (err) {
      tried.push(`${file}: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  throw new Error(
    [
      'MPI is not available to stic: the MPI addon (stic_dist.node) did not load. Paths tried:',
      ...tried.map((t) => `  - ${t}`),
      'Possible solutions: install Open MPI (Debian/Ubuntu: apt-get install libopenmpi-dev openmpi-bin), then `npm run build`',
    ].join('\n'),
  );
}
