// Arena: one allocation per lifetime class (weights, gradients, optimizer state, activations,
// KV cache, scratch), sized up front from a plan and handed out by bumping an offset, so a
// training or generation step never allocates. Sizes are reported so users see where memory goes.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace stic {

enum class Lifetime : uint8_t { Weights, Gradients, OptimizerState, Activations, KvCache, Scratch };
const char* lifetimeName(Lifetime l);

constexpr size_t kArenaAlign = 256;  // satisfies every SIMD width and CUDA's vectorised loads

// Collects the sizes a component will need before anything is allocated (core/carver.h plans and
// carves from one description). Named requests are kept, so a plan can say where its bytes go;
// names are string literals, kept by pointer.
class ArenaPlan {
 public:
  void add(DType dtype, const Shape& shape, const char* what = nullptr) {
    addBytes(static_cast<size_t>(shapeNumel(shape)) * dtypeSize(dtype), what);
  }
  void addBytes(size_t bytes, const char* what = nullptr);
  // Adds every request of `other` (two plans that share one arena).
  void append(const ArenaPlan& other);
  size_t bytes() const { return bytes_; }
  // "<total> = <bytes> <what> + ..." with the bytes of each name summed, largest first.
  std::string summary() const;
  static size_t alignUp(size_t n) { return (n + kArenaAlign - 1) / kArenaAlign * kArenaAlign; }

 private:
  size_t bytes_ = 0;
  // (what, aligned bytes), in request order; `what` is a string literal (no copy on the step path).
  std::vector<std::pair<const char*, size_t>> named_;
};

class Arena {
 public:
  // Reserves `capacity` bytes on `backend` in a single allocation.
  static Result<std::unique_ptr<Arena>> create(Backend& backend, Lifetime lifetime, size_t capacity);
  // An arena of the plan's size; with STIC_LOG_ARENAS=1 it logs the plan's summary to stderr first.
  static Result<std::unique_ptr<Arena>> create(Backend& backend, Lifetime lifetime, const ArenaPlan& plan);

  // A tensor carved from the arena. Fails with OutOfMemory naming the arena, the request and what is left.
  Result<Tensor> allocate(DType dtype, const Shape& shape, const char* what);
  // Forget every allocation (tensors handed out before must no longer be used).
  void reset() { used_ = 0; }

  Lifetime lifetime() const { return lifetime_; }
  size_t capacity() const { return capacity_; }
  size_t used() const { return used_; }
  size_t highWater() const { return highWater_; }

 private:
  Arena(Lifetime lifetime, std::shared_ptr<Buffer> buffer, size_t capacity)
      : lifetime_(lifetime), buffer_(std::move(buffer)), capacity_(capacity) {}
  Lifetime lifetime_;
  std::shared_ptr<Buffer> buffer_;
  size_t capacity_;
  size_t used_ = 0;
  size_t highWater_ = 0;
};

}  // namespace stic
