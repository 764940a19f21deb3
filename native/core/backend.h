// Backend: where tensor memory lives, how bytes move, and which ops table computes on that memory.
// Kernels are free functions with the same operation name per backend (cpu::rmsnorm_forward,
// cuda::rmsnorm_forward); the model never names them, it calls backend.ops() (core/ops.h), so the
// model code is written once against this interface.
#pragma once
#include <cstddef>
#include <string>

#include "core/status.h"

namespace stic {

struct Ops;  // core/ops.h

enum class Device : uint8_t { Cpu, Cuda };

inline const char* deviceName(Device d) { return d == Device::Cpu ? "cpu" : "cuda"; }

class Backend {
 public:
  virtual ~Backend() = default;
  virtual Device device() const = 0;
  virtual std::string name() const = 0;
  // Allocation failures come back as OutOfMemory naming the size and what was free.
  virtual Result<void*> allocate(size_t bytes, const char* what) = 0;
  virtual void release(void* ptr) = 0;
  virtual Status copyFromHost(void* dst, const void* src, size_t bytes) = 0;
  virtual Status copyToHost(void* dst, const void* src, size_t bytes) = 0;
  virtual Status copyWithin(void* dst, const void* src, size_t bytes) = 0;
  virtual Status synchronize() = 0;
  // Free and total bytes of this backend's memory (host RAM for cpu).
  virtual Status memoryInfo(size_t* freeBytes, size_t* totalBytes) = 0;
  // The operations that compute on this backend's memory (possibly incomplete: see missingOps).
  virtual const Ops& ops() const = 0;
};

// The process-wide CPU backend (64-byte aligned allocations).
Backend& cpuBackend();

}  // namespace stic
