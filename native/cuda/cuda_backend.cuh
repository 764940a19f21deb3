// The CUDA backend (core/backend.h), the twin of core/cpu_backend.cpp: one device's memory, byte
// copies on one stream, and the CUDA ops table (ops_table.cuh) bound to that stream, so a model's
// arenas (core/arena.h: Arena::create(backend, ...)) and its computation live on the device.
// Host synchronisation: copyFromHost and copyToHost wait for the stream (the host buffer may be
// released or read on return, as on the CPU); copyWithin only enqueues; synchronize() waits and
// returns the first failure of the work enqueued since the last check (the table's, then the
// stream's). Compiled wherever nvcc is (stic_cuda_check); nothing creates one in the shipped addon
// yet (no `--device cuda`), the kernel lab's cuda.backendRoundTrip does for the GPU tests.
#pragma once
#include <cuda_runtime.h>

#include <memory>
#include <string>

#include "core/backend.h"
#include "cuda/gemm.cuh"
#include "cuda/ops_table.cuh"

namespace stic::cuda {

class CudaBackend final : public Backend {
 public:
  // The backend of `device` with its own non-blocking stream; `gemm` (cuBLASLt: makeCublasLtGemm,
  // or referenceGemm()) computes the table's products and must outlive the backend.
  static Result<std::unique_ptr<CudaBackend>> create(int device, const Gemm& gemm);
  ~CudaBackend() override;
  CudaBackend(const CudaBackend&) = delete;
  CudaBackend& operator=(const CudaBackend&) = delete;

  Device device() const override { return Device::Cuda; }
  std::string name() const override { return name_; }  // "cuda:<device> (<card>)"
  // OutOfMemory names the request, `what`, and the device's free and total bytes.
  Result<void*> allocate(size_t bytes, const char* what) override;
  void release(void* ptr) override;
  Status copyFromHost(void* dst, const void* src, size_t bytes) override;
  Status copyToHost(void* dst, const void* src, size_t bytes) override;
  Status copyWithin(void* dst, const void* src, size_t bytes) override;
  Status synchronize() override;
  Status memoryInfo(size_t* freeBytes, size_t* totalBytes) override;
  const Ops& ops() const override { return table_->ops(); }
  cudaStream_t stream() const { return stream_; }

 private:
  CudaBackend() = default;
  // Makes this backend's device current for the calling thread.
  Status useDevice(const char* op) const;
  Status copy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, bool wait, const char* op);

  int device_ = 0;
  std::string name_;
  cudaStream_t stream_ = nullptr;
  std::unique_ptr<OpsTable> table_;
};

}  // namespace stic::cuda
