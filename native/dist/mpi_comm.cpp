// MPI collectives for lib/dist (see mpi_comm.h). Every MPI return code becomes a message naming the
// call; MPI_ERRORS_RETURN is set on MPI_COMM_WORLD so a failed call returns instead of aborting.
#include "dist/mpi_comm.h"

#include <mpi.h>

#include <algorithm>
#include <climits>
#include <cstring>

namespace stic::dist {
namespace {

std::string mpiError(const char* call, int code) {
  if (code == MPI_SUCCESS) return "";
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(code, text, &len) != MPI_SUCCESS) len = 0;
  return std::string(call) + " failed: " + (len > 0 ? std::string(text, len) : "MPI error " + std::to_string(code));
}

#define STIC_MPI(call)                                  \
  do {                                                  \
    std::string e_ = mpiError(#call, (call));           \
    if (!e_.empty()) return e_;                         \
  } while (0)

int worldSize() {
  int size = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  return size;
}

int worldRank() {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank;
}

// MPI counts are ints: byte messages bigger than that are refused with a message saying so.
std::string checkCount(const char* what, uint64_t n) {
  if (n > static_cast<uint64_t>(INT_MAX)) {
    return std::string(what) + ": expected at most " + std::to_string(INT_MAX) + " bytes in one message but received " + std::to_string(n);
  }
  return "";
}

// Lengths (one per rank) -> displacements; fails when the total does not fit an MPI count.
std::string displacements(const std::vector<uint64_t>& lens, std::vector<int>& counts, std::vector<int>& displs) {
  counts.resize(lens.size());
  displs.resize(lens.size());
  uint64_t total = 0;
  for (size_t r = 0; r < lens.size(); r++) {
    counts[r] = static_cast<int>(lens[r]);
    displs[r] = static_cast<int>(total);
    total += lens[r];
    std::string e = checkCount("gathered bytes", total);
    if (!e.empty()) return e;
  }
  return "";
}

void split(const std::vector<uint8_t>& flat, const std::vector<uint64_t>& lens, std::vector<std::vector<uint8_t>>& all) {
  all.assign(lens.size(), {});
  size_t at = 0;
  for (size_t r = 0; r < lens.size(); r++) {
    all[r].assign(flat.begin() + at, flat.begin() + at + lens[r]);
    at += lens[r];
  }
}

// One segment of the fixed-order all-reduce (n fits an int).
std::string allreduceSegment(float* data, int n, int W, int me) {
  std::vector<int> start(W + 1);
  for (int c = 0; c <= W; c++) start[c] = static_cast<int>(static_cast<int64_t>(n) * c / W);
  const int mine = start[me + 1] - start[me];
  std::vector<int> sendCounts(W), sendDispls(W), recvCounts(W, mine), recvDispls(W);
  for (int c = 0; c < W; c++) {
    sendCounts[c] = start[c + 1] - start[c];
    sendDispls[c] = start[c];
    recvDispls[c] = c * mine;
  }
  std::vector<float> copies(static_cast<size_t>(mine) * W);  // (W, mine): rank r's copy of my chunk
  STIC_MPI(MPI_Alltoallv(data, sendCounts.data(), sendDispls.data(), MPI_FLOAT, copies.data(), recvCounts.data(), recvDispls.data(),
                         MPI_FLOAT, MPI_COMM_WORLD));
  float* chunk = data + start[me];
  for (int i = 0; i < mine; i++) {
    double s = 0.0;
    for (int r = 0; r < W; r++) s += copies[static_cast<size_t>(r) * mine + i];  // rank order, always
    chunk[i] = static_cast<float>(s);
  }
  std::vector<int> counts(W);
  for (int c = 0; c < W; c++) counts[c] = start[c + 1] - start[c];
  STIC_MPI(MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, data, counts.data(), start.data(), MPI_FLOAT, MPI_COMM_WORLD));
  return "";
}

}  // namespace

std::string libraryVersion() {
  char text[MPI_MAX_LIBRARY_VERSION_STRING];
  int len = 0;
  if (MPI_Get_library_version(text, &len) != MPI_SUCCESS) return "unknown MPI library";
  // Open MPI counts the terminating NUL in len: cut at the first NUL or line end.
  std::string s(text, len);
  size_t eol = s.find_first_of(std::string("\r\n\0", 3));
  s = eol == std::string::npos ? s : s.substr(0, eol);
  while (!s.empty() && (s.back() == ' ' || s.back() == ',')) s.pop_back();
  return s;
}

bool initialized() {
  int flag = 0;
  MPI_Initialized(&flag);
  int done = 0;
  MPI_Finalized(&done);
  return flag != 0 && done == 0;
}

std::string init(WorldInfo& out) {
  int flag = 0;
  MPI_Initialized(&flag);
  if (!flag) {
    int provided = 0;
    STIC_MPI(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided));
    if (provided < MPI_THREAD_SERIALIZED) {
      return "MPI_Init_thread: expected MPI_THREAD_SERIALIZED (collectives run on a worker thread) but the library granted level " +
             std::to_string(provided);
    }
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  }
  MPI_Query_thread(&out.threadLevel);
  out.rank = worldRank();
  out.size = worldSize();
  return "";
}

std::string finalize() {
  if (!initialized()) return "";
  STIC_MPI(MPI_Finalize());
  return "";
}

void abortAll(int code) { MPI_Abort(MPI_COMM_WORLD, code); }

std::string barrier() {
  STIC_MPI(MPI_Barrier(MPI_COMM_WORLD));
  return "";
}

std::string broadcast(int root, std::vector<uint8_t>& bytes) {
  uint64_t len = bytes.size();
  STIC_MPI(MPI_Bcast(&len, 1, MPI_UINT64_T, root, MPI_COMM_WORLD));
  if (worldRank() != root) bytes.resize(len);
  // Segments of at most INT_MAX bytes: a 7B model's optimizer state is broadcast this way too.
  for (uint64_t at = 0; at < len;) {
    int n = static_cast<int>(std::min<uint64_t>(len - at, INT_MAX));
    STIC_MPI(MPI_Bcast(bytes.data() + at, n, MPI_BYTE, root, MPI_COMM_WORLD));
    at += n;
  }
  return "";
}

std::string allgather(const std::vector<uint8_t>& mine, std::vector<std::vector<uint8_t>>& all) {
  const int W = worldSize();
  std::string e = checkCount("allgather", mine.size());
  if (!e.empty()) return e;
  uint64_t len = mine.size();
  std::vector<uint64_t> lens(W);
  STIC_MPI(MPI_Allgather(&len, 1, MPI_UINT64_T, lens.data(), 1, MPI_UINT64_T, MPI_COMM_WORLD));
  std::vector<int> counts, displs;
  e = displacements(lens, counts, displs);
  if (!e.empty()) return e;
  std::vector<uint8_t> flat(static_cast<size_t>(displs[W - 1]) + lens[W - 1]);
  STIC_MPI(MPI_Allgatherv(mine.data(), static_cast<int>(len), MPI_BYTE, flat.data(), counts.data(), displs.data(), MPI_BYTE, MPI_COMM_WORLD));
  split(flat, lens, all);
  return "";
}

std::string gather(int root, const std::vector<uint8_t>& mine, std::vector<std::vector<uint8_t>>& all) {
  const int W = worldSize();
  const bool isRoot = worldRank() == root;
  std::string e = checkCount("gather", mine.size());
  if (!e.empty()) return e;
  uint64_t len = mine.size();
  std::vector<uint64_t> lens(W);
  STIC_MPI(MPI_Gather(&len, 1, MPI_UINT64_T, lens.data(), 1, MPI_UINT64_T, root, MPI_COMM_WORLD));
  std::vector<int> counts, displs;
  std::vector<uint8_t> flat;
  if (isRoot) {
    // A root that cannot take the total fails here; lib/dist then aborts every rank (MPI_Abort),
    // so the others waiting in the Gatherv below do not hang.
    e = displacements(lens, counts, displs);
    if (!e.empty()) return e;
    flat.resize(static_cast<size_t>(displs[W - 1]) + lens[W - 1]);
  }
  STIC_MPI(MPI_Gatherv(mine.data(), static_cast<int>(len), MPI_BYTE, flat.data(), counts.data(), displs.data(), MPI_BYTE, root, MPI_COMM_WORLD));
  if (isRoot) split(flat, lens, all);
  else all.clear();
  return "";
}

std::string allreduceSumF32(float* data, int64_t n) {
  const int W = worldSize();
  const int me = worldRank();
  if (W == 1) return "";
  // Segments keep every MPI count an int; each segment's chunking is the same on every run.
  constexpr int64_t kSegment = int64_t{1} << 26;
  for (int64_t at = 0; at < n; at += kSegment) {
    std::string e = allreduceSegment(data + at, static_cast<int>(std::min(kSegment, n - at)), W, me);
    if (!e.empty()) return e;
  }
  return "";
}

}  // namespace stic::dist
