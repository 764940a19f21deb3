// The MPI side of data parallelism (lib/dist): the few collectives stic needs, on MPI_COMM_WORLD,
// as plain C++ returning an error string ("" = ok). Nothing here touches Node-API; the binding
// (dist_binding.cpp) runs each call on a worker thread, one at a time (MPI_THREAD_SERIALIZED).
// Legend: W ranks, n floats of a gradient buffer, r a rank.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace stic::dist {

struct WorldInfo {
  int rank = 0;
  int size = 1;
  // The MPI_THREAD_* level granted (we ask for SERIALIZED).
  int threadLevel = 0;
};

// MPI_Get_library_version: callable before MPI_Init (stic info).
std::string libraryVersion();

// MPI_Init_thread(SERIALIZED); a second call returns the same world.
std::string init(WorldInfo& out);
bool initialized();
std::string finalize();
// MPI_Abort(MPI_COMM_WORLD, code): the launcher stops every rank. Does not return normally.
void abortAll(int code);

std::string barrier();
// root's `bytes` to every rank (others' input is ignored and replaced).
std::string broadcast(int root, std::vector<uint8_t>& bytes);
// Every rank's `mine`, in rank order, to every rank.
std::string allgather(const std::vector<uint8_t>& mine, std::vector<std::vector<uint8_t>>& all);
// Every rank's `mine`, in rank order, to `root` only (others get an empty list).
std::string gather(int root, const std::vector<uint8_t>& mine, std::vector<std::vector<uint8_t>>& all);

// data (n) := sum over ranks of data, identical bits on every rank and for a given W the same bits
// on every run: rank c owns the c-th of W contiguous chunks, receives that chunk from every rank
// (all-to-all), adds the W copies in rank order 0..W-1 in double, and all-gathers the sums. This is
// a reduce-scatter + all-gather: each rank sends and receives 2 (W-1)/W n floats, like a ring.
std::string allreduceSumF32(float* data, int64_t n);

}  // namespace stic::dist
