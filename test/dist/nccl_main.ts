// Run by nccl.test.ts under `mpirun -np 1` on a GPU machine: MPI starts, NCCL joins over it (rank 0's
// ncclUniqueId broadcast with MPI_Bcast), and one ncclAllReduce of a random vector runs through the
// GPU. With one rank the sum is the vector itself, bit for bit. Writes <dir>/nccl.json.
import { writeFileSync } from 'node:fs';
import path from 'node:path';

import { loadDistAddon } from '../../lib/native/dist_loader.ts';
import { seededRandom } from '../../lib/util/seeded.ts';

const dir = process.argv[2];
const mpi = loadDistAddon();
if (!mpi.ncclInit || !mpi.ncclAllreduceSumF32 || !mpi.ncclFinalize) throw new Error('stic_dist.node was built without NCCL');
const world = mpi.init();
const { device } = mpi.ncclInit(Number(process.env.OMPI_COMM_WORLD_LOCAL_RANK ?? 0));
const rng = seededRandom(11, 'nccl');
const input = Float32Array.from({ length: 1_000_003 }, () => (rng.next() - 0.5) * 10 ** (rng.int(7) - 3));
const data = input.slice();
await mpi.ncclAllreduceSumF32(data);
let mismatches = 0;
for (let i = 0; i < input.length; i++) if (data[i] !== input[i] * world.size) mismatches++; // exact for W = 1 and 2 (the test runs 1)
mpi.ncclFinalize();
writeFileSync(path.join(dir, 'nccl.json'), JSON.stringify({ version: mpi.nccl, size: world.size, device, n: input.length, mismatches }));
mpi.finalize();
