// The collectives lib/dist is built on, behind one interface with two implementations: LocalComm
// (one process: every collective is the identity, so the one-process path runs the same code) and
// MpiComm (stic_dist.node). MPI calls must not overlap (MPI_THREAD_SERIALIZED): MpiComm chains them.
// JSON helpers carry records and small tables; gradients travel as Float32Array.
import type { DistBinding } from '../native/dist_loader.ts';

export interface Comm {
  readonly rank: number;
  readonly size: number;
  barrier(): Promise<void>;
  /** root's value on every rank (others pass anything, e.g. null). */
  broadcastJson<T>(root: number, value: T): Promise<T>;
  /** Every rank's value in rank order, on every rank. */
  allgatherJson<T>(value: T): Promise<T[]>;
  /** Every rank's value in rank order on root; null elsewhere. */
  gatherJson<T>(root: number, value: T): Promise<T[] | null>;
  /** root's bytes on every rank. */
  broadcastBytes(root: number, data: Uint8Array | null): Promise<Uint8Array>;
  /** In place: the sum over ranks, in rank order (same bits on every rank, and run to run). */
  allreduceSum(data: Float32Array): Promise<void>;
}

export class LocalComm implements Comm {
  readonly rank = 0;
  readonly size = 1;
  async barrier(): Promise<void> {}
  async broadcastJson<T>(_root: number, value: T): Promise<T> {
    return value;
  }
  async allgatherJson<T>(value: T): Promise<T[]> {
    return [value];
  }
  async gatherJson<T>(_root: number, value: T): Promise<T[]> {
    return [value];
  }
  async broadcastBytes(_root: number, data: Uint8Array | null): Promise<Uint8Array> {
    if (!data) throw new Error('internal: broadcastBytes on one rank needs the data');
    return data;
  }
  async allreduceSum(): Promise<void> {}
}

const encode = (v: unknown) => new TextEncoder().encode(JSON.stringify(v === undefined ? null : v));
const decode = <T>(b: Uint8Array) => JSON.parse(new TextDecoder().decode(b)) as T;

export class MpiComm implements Comm {
  private tail: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly mpi: DistBinding,
    readonly rank: number,
    readonly size: number,
  ) {}

  // One MPI call at a time, in the order they were asked for (every rank asks in the same order).
  private serial<T>(call: () => Promise<T>): Promise<T> {
    const run = this.tail.then(call, call);
    this.tail = run.catch(() => undefined);
    return run;
  }

  barrier(): Promise<void> {
    return this.serial(() => this.mpi.barrier());
  }
  async broadcastJson<T>(root: number, value: T): Promise<T> {
    return decode<T>(await this.broadcastBytes(root, this.rank === root ? encode(value) : null));
  }
  async allgatherJson<T>(value: T): Promise<T[]> {
    return (await this.serial(() => this.mpi.allgather(encode(value)))).map((b) => decode<T>(b));
  }
  async gatherJson<T>(root: number, value: T): Promise<T[] | null> {
    const all = await this.serial(() => this.mpi.gather(root, encode(value)));
    return all ? all.map((b) => decode<T>(b)) : null;
  }
  broadcastBytes(root: number, data: Uint8Array | null): Promise<Uint8Array> {
    return this.serial(() => this.mpi.broadcast(root, data));
  }
  allreduceSum(data: Float32Array): Promise<void> {
    return this.serial(() => this.mpi.allreduceSumF32(data));
  }
}
