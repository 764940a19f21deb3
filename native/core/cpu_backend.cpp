#include <cstdlib>
#include <cstring>
#include <fstream>
#include <new>

#include "core/backend.h"
#include "core/ops.h"

namespace stic {
namespace {

constexpr size_t kAlign = 64;  // one cache line; also the widest SIMD load (AVX-512)

// /proc/meminfo MemAvailable, in bytes; 0 where unreadable.
size_t availableHostBytes(size_t* total) {
  std::ifstream in("/proc/meminfo");
  std::string key;
  size_t kib = 0, avail = 0;
  std::string unit;
  *total = 0;
  while (in >> key >> kib >> unit) {
    if (key == "MemTotal:") *total = kib * 1024;
    if (key == "MemAvailable:") avail = kib * 1024;
  }
  return avail;
}

class CpuBackend final : public Backend {
 public:
  Device device() const override { return Device::Cpu; }
  std::string name() const override { return "cpu"; }

  Result<void*> allocate(size_t bytes, const char* what) override {
    size_t rounded = (bytes + kAlign - 1) / kAlign * kAlign;
    if (rounded == 0) rounded = kAlign;
    void* p = std::aligned_alloc(kAlign, rounded);
    if (!p) {
      size_t total = 0, avail = availableHostBytes(&total);
      return error(Code::OutOfMemory, "cpu: could not allocate ", bytes, " bytes for ", what, " (", avail,
                   " bytes available of ", total, ")");
    }
    return p;
  }
  void release(void* ptr) override { std::free(ptr); }
  Status copyFromHost(void* dst, const void* src, size_t bytes) override { return copy(dst, src, bytes); }
  Status copyToHost(void* dst, const void* src, size_t bytes) override { return copy(dst, src, bytes); }
  Status copyWithin(void* dst, const void* src, size_t bytes) override { return copy(dst, src, bytes); }
  Status synchronize() override { return Status::ok(); }
  Status memoryInfo(size_t* freeBytes, size_t* totalBytes) override {
    *freeBytes = availableHostBytes(totalBytes);
    return Status::ok();
  }
  const Ops& ops() const override { return cpuOps(); }

 private:
  static Status copy(void* dst, const void* src, size_t bytes) {
    if (bytes) std::memcpy(dst, src, bytes);
    return Status::ok();
  }
};

}  // namespace

Backend& cpuBackend() {
  static CpuBackend backend;
  return backend;
}

}  // namespace stic
