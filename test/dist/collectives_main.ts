// Run by mpi.test.ts under `mpirun -np 2`: every collective of lib/dist/comm.ts on real ranks.
// Each rank writes what it received to <dir>/rank-<r>.json for the test to compare.
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';

import { currentWorld, finishWorld, startWorld } from '../../lib/dist/launch.ts';
import { seededRandom } from '../../lib/util/seeded.ts';

// A gradient-like vector of odd length (chunk boundaries fall mid-tensor), different per rank.
function vector(rank: number, n: number): Float32Array {
  const rng = seededRandom(7, 'allreduce', String(rank));
  return Float32Array.from({ length: n }, () => (rng.next() - 0.5) * 10 ** (rng.int(7) - 3));
}

const dir = process.argv[2];
await startWorld();
const { rank, size, comm } = currentWorld();
const n = 100_003;
const data = vector(rank, n);
await comm.allreduceSum(data);
// What the fixed order promises: each element is the double sum in rank order, rounded once.
let exact = true;
const others = Array.from({ length: size }, (_, r) => vector(r, n));
for (let i = 0; i < n; i++) {
  let s = 0;
  for (let r = 0; r < size; r++) s += others[r][i];
  if (data[i] !== Math.fround(s)) exact = false;
}
const result = {
  rank,
  size,
  broadcast: await comm.broadcastJson(0, rank === 0 ? { from: 'rank 0', values: [1.5, -0, 1e-310] } : null),
  allgather: await comm.allgatherJson({ rank, text: 'é'.repeat(rank + 1) }),
  gather: await comm.gatherJson(0, rank * 10),
  bigBroadcast: (await comm.broadcastBytes(0, rank === 0 ? new Uint8Array(3_000_001).fill(7) : null)).reduce((a, b) => a + b, 0),
  allreduceExact: exact,
  allreduceSha: createHash('sha256').update(new Uint8Array(data.buffer)).digest('hex'),
};
writeFileSync(path.join(dir, `rank-${rank}.json`), JSON.stringify(result));
await finishWorld();
