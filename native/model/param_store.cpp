// The store of trainable tensors (see param_store.h). Legend: n elements of a tensor, Ntot of a buffer.
#include "model/param_store.h"

#include <algorithm>
#include <cmath>

#include "core/ops.h"

namespace stic::model {
namespace {

constexpr int64_t kAlignFloats = static_cast<int64_t>(kArenaAlign / sizeof(float));

int64_t alignUp(int64_t n) { return (n + kAlignFloats - 1) / kAlignFloats * kAlignFloats; }

constexpr const char* kWhat[kParamKinds] = {"parameters", "gradients", "exp_avg", "exp_avg_sq"};

}  // namespace

Result<std::unique_ptr<ParamStore>> ParamStore::create(Backend& backend, std::vector<ParamSpec> table,
                                                       const std::vector<size_t>& storage) {
  auto p = std::unique_ptr<ParamStore>(new ParamStore(backend));
  STIC_RETURN_IF_ERROR(p->layOut(std::move(table), storage));
  STIC_RETURN_IF_ERROR(p->allocate());
  return p;
}

// Names, shapes and offsets: storage order decides the offsets, table order the listing.
Status ParamStore::layOut(std::vector<ParamSpec> table, const std::vector<size_t>& storage) {
  std::vector<size_t> order = storage;
  if (order.empty()) {
    for (size_t i = 0; i < table.size(); i++) order.push_back(i);
  }
  STIC_CHECK_ARG(order.size() == table.size(), "parameter store: expected a storage order of ", table.size(),
                 " tensors but found ", order.size());
  tensors_.resize(table.size());
  std::vector<bool> placed(table.size(), false);
  for (size_t k = 0; k < order.size(); k++) {
    const size_t i = order[k];
    STIC_CHECK_ARG(i < table.size() && !placed[i], "parameter store: storage order entry ", k,
                   " is not a table index placed once (found ", i, ")");
    placed[i] = true;
    ParamSpec& s = table[i];
    const int64_t offset = s.fused && k > 0 ? numel_ : alignUp(numel_);
    tensors_[i] = {std::move(s.name), std::move(s.shape), s.group, offset, 0};
    tensors_[i].numel = shapeNumel(tensors_[i].shape);
    numel_ = offset + tensors_[i].numel;
  }
  numel_ = alignUp(numel_);
  for (size_t i = 0; i < tensors_.size(); i++) {
    STIC_CHECK_ARG(index_.emplace(tensors_[i].name, i).second, "parameter store: tensor name ", tensors_[i].name,
                   " appears twice");
  }
  return Status::ok();
}

// One arena per lifetime class (the moments share OptimizerState), each buffer zero.
Status ParamStore::allocate() {
  const Lifetime lifetimes[3] = {Lifetime::Weights, Lifetime::Gradients, Lifetime::OptimizerState};
  const int64_t n = std::max<int64_t>(numel_, 1);
  for (int a = 0; a < 3; a++) {
    ArenaPlan plan;
    for (int k = a; k < (a == 2 ? kParamKinds : a + 1); k++) plan.add(DType::F32, {n}, kWhat[k]);
    auto arena = Arena::create(backend_, lifetimes[a], plan);
    if (!arena.isOk()) return arena.status().withContext(std::string("trainable ") + kWhat[a]);
    arenas_[a] = arena.take();
  }
  for (int k = 0; k < kParamKinds; k++) {
    auto flat = arenas_[std::min(k, 2)]->allocate(DType::F32, {numel_}, kWhat[k]);
    if (!flat.isOk()) return flat.status();
    flat_[k] = flat.take();
    backend_.ops().memory.fill(data(static_cast<ParamKind>(k)), 0.0f, numel_);
  }
  for (ParamTensor& t : tensors_) {
    t.param = data(ParamKind::Param, t);
    t.grad = data(ParamKind::Grad, t);
    t.m = data(ParamKind::ExpAvg, t);
    t.v = data(ParamKind::ExpAvgSq, t);
  }
  return Status::ok();
}

const ParamTensor* ParamStore::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

Result<Tensor> ParamStore::view(ParamKind kind, const ParamTensor& t) const {
  auto range = flat_[static_cast<int>(kind)].slice0(t.offset, t.offset + t.numel);
  if (!range.isOk()) return range.status();
  return range.value().reshape(t.shape);
}

Result<std::vector<train::ParamSlot>> ParamStore::slots(const std::vector<std::string>& frozen) const {
  for (const std::string& name : frozen) {
    STIC_CHECK_ARG(find(name) != nullptr, "frozen: expected the name of a tensor of the model but found '", name, "'");
  }
  std::vector<train::ParamSlot> out;
  out.reserve(tensors_.size());
  for (const ParamTensor& t : tensors_) {
    if (std::find(frozen.begin(), frozen.end(), t.name) != frozen.end()) continue;
    out.push_back({t.param, t.grad, t.m, t.v, t.numel, t.group});
  }
  return out;
}

void ParamStore::zeroGrad() { backend_.ops().memory.fill(data(ParamKind::Grad), 0.0f, numel_); }

Status optimizerStep(ParamStore& store, const OptimizerSpec& spec, OptimizerResult& out) {
  Result<std::vector<train::ParamSlot>> planned = store.slots(spec.frozen);
  if (!planned.isOk()) return planned.status();
  const std::vector<train::ParamSlot>& slots = planned.value();
  const OptimizerOps& ops = store.ops().optimizer;
  const int64_t n = static_cast<int64_t>(slots.size());
  out.gradNorm = spec.maxGradNorm > 0 ? ops.clip_grad_norm(slots.data(), n, spec.maxGradNorm) : ops.grad_global_norm(slots.data(), n);
  out.skipped = !std::isfinite(out.gradNorm);
  if (!out.skipped) {
    const int64_t groupCount = static_cast<int64_t>(spec.groups.size());
    STIC_RETURN_IF_ERROR(ops.adamw_step(slots.data(), n, spec.groups.data(), groupCount, spec.hyper, store.step + 1));
    store.step++;
  }
  store.zeroGrad();
  out.step = store.step;
  return store.ops().check();
}

}  // namespace stic::model
