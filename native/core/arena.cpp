#include "core/arena.h"

namespace stic {

const char* lifetimeName(Lifetime l) {
  switch (l) {
    case Lifetime::Weights: return "weights";
    case Lifetime::Gradients: return "gradients";
    case Lifetime::OptimizerState: return "optimizer-state";
    case Lifetime::Activations: return "activations";
    case Lifetime::KvCache: return "kv-cache";
    case Lifetime::Scratch: return "scratch";
  }
  return "?";
}

Result<std::unique_ptr<Arena>> Arena::create(Backend& backend, Lifetime lifetime, size_t capacity) {
  std::string what = std::string(lifetimeName(lifetime)) + " arena";
  auto mem = backend.allocate(capacity, what.c_str());
  if (!mem.isOk()) return mem.status();
  auto buffer = std::make_shared<Buffer>(backend, mem.value(), capacity);
  return std::unique_ptr<Arena>(new Arena(lifetime, std::move(buffer), capacity));
}

Result<Tensor> Arena::allocate(DType dtype, const Shape& shape, const char* what) {
  for (int64_t d : shape) {
    if (d < 0) return error(Code::InvalidArgument, what, ": negative dimension in shape ", shapeString(shape));
  }
  size_t bytes = ArenaPlan::alignUp(static_cast<size_t>(shapeNumel(shape)) * dtypeSize(dtype));
  if (used_ + bytes > capacity_) {
    return error(Code::OutOfMemory, lifetimeName(lifetime_), " arena: ", what, " ", shapeString(shape), " ", dtypeName(dtype),
                 " needs ", bytes, " bytes but only ", capacity_ - used_, " of ", capacity_, " are left");
  }
  void* p = static_cast<char*>(buffer_->data()) + used_;
  used_ += bytes;
  if (used_ > highWater_) highWater_ = used_;
  return Tensor(dtype, shape, p, buffer_);
}

}  // namespace stic
