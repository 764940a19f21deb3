// The GPU side of data parallelism (lib/dist): one NCCL communicator over MPI_COMM_WORLD's ranks,
// bootstrapped over MPI (rank 0's ncclUniqueId broadcast with MPI_Bcast), on the GPU that the local
// rank picks in CUDA_VISIBLE_DEVICES order. Compiled into stic_dist.node only where nccl.h, libnccl
// and the CUDA runtime are found at build time (CMakeLists.txt: STIC_WITH_NCCL). Plain C++ returning
// an error string ("" = ok), like mpi_comm.h. Legend: W ranks, n floats of a gradient buffer.
#pragma once
#include <cstdint>
#include <string>

namespace stic::dist {

// NCCL's version as "major.minor.patch" (ncclGetVersion; no communicator needed).
std::string ncclVersion();

// cudaSetDevice(localRank % visible devices), then rank 0 draws the ncclUniqueId, MPI_Bcast sends its
// bytes to every rank, and every rank joins with ncclCommInitRank. MPI must be initialised. A second
// call keeps the first communicator. `device` is the CUDA device this rank uses.
std::string ncclInit(int localRank, int& device);
bool ncclInitialized();
std::string ncclFinalize();

// In place on device memory: d (n floats, on this rank's device) := sum over ranks, on the
// communicator's stream, synchronised before returning. NCCL's ring order fixes the bits for a given
// W and topology, not the rank order of allreduceSumF32 (mpi_comm.h).
std::string ncclAllreduceSumDeviceF32(float* d, int64_t n);

// The same for host memory (copies to the device and back): what the binding exposes for the tests
// and for gradients that live on the host.
std::string ncclAllreduceSumHostF32(float* data, int64_t n);

}  // namespace stic::dist
