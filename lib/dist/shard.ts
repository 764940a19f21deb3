// Sharded generation (stic pref, stic describe): the stage's batches are dealt out round-robin, batch
// b to rank b mod W, so every batch holds exactly the records it holds in a one-process run; each
// round's W results are gathered to rank 0, which hands them to `sink` in batch order. With records
// seeded per id and generation independent of what else is in a batch, rank 0's output is the
// one-process file byte for byte, for any W and across resumes with another W (the todo list, and so
// the batches, come from the output's ids, which rank 0 reads and sends to all).
import type { World } from './launch.ts';

/**
 * Runs `work` on this rank's batches; on rank 0 `sink(result, batch)` sees every batch's result in
 * batch order (results travel as JSON). `sink` runs on rank 0 only.
 */
export async function forEachBatchSharded<T, R>(
  world: Pick<World, 'rank' | 'size' | 'comm'>,
  batches: T[][],
  work: (batch: T[]) => Promise<R>,
  sink: (result: R, batch: T[]) => Promise<void>,
): Promise<void> {
  const W = world.size;
  for (let first = 0; first < batches.length; first += W) {
    const mine = first + world.rank;
    const result = mine < batches.length ? await work(batches[mine]) : null;
    const round = W === 1 ? [result] : await world.comm.gatherJson(0, result);
    if (!round) continue; // ranks other than 0
    for (let r = 0; r < W && first + r < batches.length; r++) await sink(round[r] as R, batches[first + r]);
  }
}

/** The ids an output already holds, read by rank 0 (the only one that opens it) and sent to all. */
export async function sharedDoneIds(world: Pick<World, 'comm'>, ids: string[] | null): Promise<Set<string>> {
  return new Set(await world.comm.broadcastJson(0, ids ?? []));
}
