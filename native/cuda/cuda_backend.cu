// The CUDA backend (cuda_backend.cuh): cudaMalloc'd memory, copies on the backend's stream, and the
// ops table bound to it. Host code only.
#include <utility>

#include "cuda/cuda_backend.cuh"
#include "cuda/cuda_status.h"

namespace stic::cuda {

Result<std::unique_ptr<CudaBackend>> CudaBackend::create(int device, const Gemm& gemm) {
  int count = 0;
  STIC_RETURN_IF_ERROR(cudaStatus(cudaGetDeviceCount(&count), "CudaBackend: device count"));
  STIC_CHECK_ARG(device >= 0 && device < count, "cuda: expected a device index in [0, ", count, ") but received ", device);
  std::unique_ptr<CudaBackend> b(new CudaBackend());
  b->device_ = device;
  STIC_RETURN_IF_ERROR(b->useDevice("CudaBackend: set device"));
  cudaDeviceProp prop{};
  STIC_RETURN_IF_ERROR(cudaStatus(cudaGetDeviceProperties(&prop, device), "CudaBackend: device properties"));
  b->name_ = "cuda:" + std::to_string(device) + " (" + prop.name + ")";
  STIC_RETURN_IF_ERROR(cudaStatus(cudaStreamCreateWithFlags(&b->stream_, cudaStreamNonBlocking), "CudaBackend: stream"));
  auto table = OpsTable::create(b->stream_, gemm);
  if (!table.isOk()) return table.status();
  b->table_ = table.take();
  return Result<std::unique_ptr<CudaBackend>>(std::move(b));
}

CudaBackend::~CudaBackend() {
  if (!stream_) return;
  cudaStreamSynchronize(stream_);
  table_.reset();  // its scratch is freed while the device is current
  cudaStreamDestroy(stream_);
}

Status CudaBackend::useDevice(const char* op) const { return cudaStatus(cudaSetDevice(device_), op); }

Result<void*> CudaBackend::allocate(size_t bytes, const char* what) {
  STIC_RETURN_IF_ERROR(useDevice("allocate"));
  void* p = nullptr;
  const cudaError_t err = cudaMalloc(&p, bytes ? bytes : 1);
  if (err == cudaSuccess) return p;
  cudaGetLastError();  // clear the error so the query below works
  size_t freeB = 0, totalB = 0;
  cudaMemGetInfo(&freeB, &totalB);
  if (err == cudaErrorMemoryAllocation) {
    return error(Code::OutOfMemory, name_, ": could not allocate ", bytes, " bytes for ", what, " (", freeB, " bytes free of ",
                 totalB, ")");
  }
  return cudaStatus(err, "allocate").withContext(std::string(name_) + ": " + what);
}

void CudaBackend::release(void* ptr) {
  if (ptr) cudaFree(ptr);
}

Status CudaBackend::copy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, bool wait, const char* op) {
  if (bytes == 0) return Status::ok();
  STIC_RETURN_IF_ERROR(useDevice(op));
  STIC_RETURN_IF_ERROR(cudaStatus(cudaMemcpyAsync(dst, src, bytes, kind, stream_), op));
  return wait ? cudaStatus(cudaStreamSynchronize(stream_), op) : Status::ok();
}

Status CudaBackend::copyFromHost(void* dst, const void* src, size_t bytes) {
  return copy(dst, src, bytes, cudaMemcpyHostToDevice, true, "copyFromHost");
}
Status CudaBackend::copyToHost(void* dst, const void* src, size_t bytes) {
  return copy(dst, src, bytes, cudaMemcpyDeviceToHost, true, "copyToHost");
}
Status CudaBackend::copyWithin(void* dst, const void* src, size_t bytes) {
  return copy(dst, src, bytes, cudaMemcpyDeviceToDevice, false, "copyWithin");
}

Status CudaBackend::synchronize() {
  const Status waited = cudaStatus(cudaStreamSynchronize(stream_), "synchronize");
  const Status ops = table_->ops().check();
  return ops.isOk() ? waited : ops;
}

Status CudaBackend::memoryInfo(size_t* freeBytes, size_t* totalBytes) {
  STIC_RETURN_IF_ERROR(useDevice("memoryInfo"));
  return cudaStatus(cudaMemGetInfo(freeBytes, totalBytes), "memoryInfo");
}

}  // namespace stic::cuda
