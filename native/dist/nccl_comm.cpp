// NCCL communicator of stic_dist.node (nccl_comm.h). Only compiled with STIC_WITH_NCCL.
#include "dist/nccl_comm.h"

#include <cuda_runtime.h>
#include <mpi.h>
#include <nccl.h>

#include <cstring>

namespace stic::dist {
namespace {

ncclComm_t comm = nullptr;
cudaStream_t stream = nullptr;
int commDevice = -1;

std::string cudaProblem(const char* what, cudaError_t e) {
  return std::string(what) + " failed: " + cudaGetErrorString(e);
}

std::string ncclProblem(const char* what, ncclResult_t r) {
  return std::string(what) + " failed: " + ncclGetErrorString(r);
}

}  // namespace

std::string ncclVersion() {
  int v = 0;
  if (ncclGetVersion(&v) != ncclSuccess) return "unknown";
  // NCCL >= 2.9 encodes major*10000 + minor*100 + patch; older ones major*1000 + minor*100 + patch.
  const int major = v >= 10000 ? v / 10000 : v / 1000;
  const int minor = v >= 10000 ? (v / 100) % 100 : (v / 100) % 10;
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(v % 100);
}

bool ncclInitialized() { return comm != nullptr; }

std::string ncclInit(int localRank, int& device) {
  if (comm) {
    device = commDevice;
    return "";
  }
  int mpiReady = 0;
  MPI_Initialized(&mpiReady);
  if (!mpiReady) return "NCCL needs MPI to bootstrap: call init() first";
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);

  int visible = 0;
  cudaError_t ce = cudaGetDeviceCount(&visible);
  if (ce != cudaSuccess) return cudaProblem("cudaGetDeviceCount", ce);
  if (visible < 1) return "NCCL: no CUDA device is visible to rank " + std::to_string(rank);
  device = localRank % visible;
  if ((ce = cudaSetDevice(device)) != cudaSuccess) return cudaProblem("cudaSetDevice", ce);

  // Rank 0 draws the id; every rank receives the same bytes before joining.
  ncclUniqueId id;
  std::memset(&id, 0, sizeof id);
  if (rank == 0) {
    ncclResult_t r = ncclGetUniqueId(&id);
    if (r != ncclSuccess) return ncclProblem("ncclGetUniqueId", r);
  }
  if (MPI_Bcast(&id, static_cast<int>(sizeof id), MPI_BYTE, 0, MPI_COMM_WORLD) != MPI_SUCCESS) {
    return "MPI_Bcast of the ncclUniqueId failed";
  }
  if ((ce = cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking)) != cudaSuccess) return cudaProblem("cudaStreamCreate", ce);
  ncclComm_t c = nullptr;
  ncclResult_t r = ncclCommInitRank(&c, size, id, rank);
  if (r != ncclSuccess) {
    cudaStreamDestroy(stream);
    stream = nullptr;
    return ncclProblem("ncclCommInitRank", r);
  }
  comm = c;
  commDevice = device;
  return "";
}

std::string ncclFinalize() {
  if (!comm) return "";
  ncclResult_t r = ncclCommDestroy(comm);
  comm = nullptr;
  if (stream) cudaStreamDestroy(stream);
  stream = nullptr;
  commDevice = -1;
  return r == ncclSuccess ? "" : ncclProblem("ncclCommDestroy", r);
}

std::string ncclAllreduceSumDeviceF32(float* d, int64_t n) {
  if (!comm) return "NCCL is not initialised: call ncclInit() first";
  if (n == 0) return "";
  ncclResult_t r = ncclAllReduce(d, d, static_cast<size_t>(n), ncclFloat32, ncclSum, comm, stream);
  if (r != ncclSuccess) return ncclProblem("ncclAllReduce", r);
  cudaError_t ce = cudaStreamSynchronize(stream);
  return ce == cudaSuccess ? "" : cudaProblem("cudaStreamSynchronize", ce);
}

std::string ncclAllreduceSumHostF32(float* data, int64_t n) {
  if (!comm) return "NCCL is not initialised: call ncclInit() first";
  if (n == 0) return "";
  cudaError_t ce = cudaSetDevice(commDevice);
  if (ce != cudaSuccess) return cudaProblem("cudaSetDevice", ce);
  float* d = nullptr;
  const size_t bytes = static_cast<size_t>(n) * sizeof(float);
  if ((ce = cudaMalloc(&d, bytes)) != cudaSuccess) return cudaProblem("cudaMalloc", ce);
  std::string e;
  if ((ce = cudaMemcpyAsync(d, data, bytes, cudaMemcpyHostToDevice, stream)) != cudaSuccess) e = cudaProblem("cudaMemcpy to the device", ce);
  if (e.empty()) e = ncclAllreduceSumDeviceF32(d, n);
  if (e.empty() && (ce = cudaMemcpy(data, d, bytes, cudaMemcpyDeviceToHost)) != cudaSuccess) e = cudaProblem("cudaMemcpy to the host", ce);
  cudaFree(d);
  return e;
}

}  // namespace stic::dist
