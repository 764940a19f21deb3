#include "core/arena.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <sstream>

namespace stic {

void ArenaPlan::addBytes(size_t bytes, const char* what) {
  const size_t aligned = alignUp(bytes);
  bytes_ += aligned;
  named_.emplace_back(what ? what : "other", aligned);
}

void ArenaPlan::append(const ArenaPlan& other) {
  bytes_ += other.bytes_;
  named_.insert(named_.end(), other.named_.begin(), other.named_.end());
}

namespace {
std::string mib(size_t bytes) {
  std::ostringstream s;
  s.setf(std::ios::fixed);
  s.precision(bytes < (size_t{1} << 20) ? 3 : 1);
  s << static_cast<double>(bytes) / (1 << 20) << " MiB";
  return s.str();
}
}  // namespace

std::string ArenaPlan::summary() const {
  std::map<std::string, size_t> byName;
  for (const auto& [what, bytes] : named_) byName[what] += bytes;
  std::vector<std::pair<std::string, size_t>> parts(byName.begin(), byName.end());
  std::stable_sort(parts.begin(), parts.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  std::string out = mib(bytes_);
  for (size_t i = 0; i < parts.size(); i++) out += (i == 0 ? " = " : " + ") + mib(parts[i].second) + " " + parts[i].first;
  return out;
}

Result<std::unique_ptr<Arena>> Arena::create(Backend& backend, Lifetime lifetime, const ArenaPlan& plan) {
  // STIC_LOG_ARENAS=1: one stderr line per arena, what it holds (as llm.c reports its allocations).
  const char* log = std::getenv("STIC_LOG_ARENAS");
  if (log && *log && std::string(log) != "0") std::fprintf(stderr, "stic: %s arena %s\n", lifetimeName(lifetime), plan.summary().c_str());
  return create(backend, lifetime, plan.bytes());
}

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
