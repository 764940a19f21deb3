// One description of a component's buffers, run twice: once to plan (sizes only) and once to carve
// them from the arena that plan sized. Plan and allocation come from the same code path, so they
// cannot drift apart; a plan also keeps each request's name and size, so it can be printed
// (ArenaPlan::summary).
//   void carveX(Carver& c, XBuffers& b, ...) { c.f32(&b.a, {T, D}, "..."); ... }
//   ArenaPlan plan; Carver p = Carver::planning(plan); carveX(p, b, ...);      // sizes
//   Carver k = Carver::carving(arena); carveX(k, b, ...); k.status();         // pointers
#pragma once
#include <cstdint>

#include "core/arena.h"

namespace stic {

class Carver {
 public:
  static Carver planning(ArenaPlan& plan) { return Carver(&plan, nullptr); }
  static Carver carving(Arena& arena) { return Carver(nullptr, &arena); }

  // *slot = a buffer of `shape` (null while planning, or after a failed allocation).
  void f32(float** slot, const Shape& shape, const char* what) { *slot = static_cast<float*>(take(DType::F32, shape, what)); }
  void i64(int64_t** slot, const Shape& shape, const char* what) { *slot = static_cast<int64_t*>(take(DType::I64, shape, what)); }
  void bytes(void** slot, size_t n, const char* what) { *slot = take(DType::U8, {static_cast<int64_t>(n)}, what); }

  bool planningOnly() const { return plan_ != nullptr; }
  // The first allocation failure (out of memory), or ok.
  const Status& status() const { return status_; }

 private:
  Carver(ArenaPlan* plan, Arena* arena) : plan_(plan), arena_(arena) {}
  void* take(DType dtype, const Shape& shape, const char* what) {
    if (plan_) {
      plan_->add(dtype, shape, what);
      return nullptr;
    }
    if (!status_.isOk()) return nullptr;
    auto t = arena_->allocate(dtype, shape, what);
    if (!t.isOk()) {
      status_ = t.status();
      return nullptr;
    }
    return t.value().raw();
  }
  ArenaPlan* plan_;
  Arena* arena_;
  Status status_;
};

}  // namespace stic
