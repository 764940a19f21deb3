// Final norm + fused head for training passes (see train_head.h). Legend: E entries, D hidden, V vocab.
#include "model/train_head.h"

#include <algorithm>
#include <cstring>

#include "cpu/ops.h"
#include "cpu/ops_backward.h"

namespace stic::model {
namespace {

train::HeadDims headDims(const DecoderConfig& cfg, int64_t E) {
  train::HeadDims d;
  d.T = std::max<int64_t>(E, 1);
  d.D = cfg.hiddenSize;
  d.V = cfg.vocabSize;
  return d;
}

}  // namespace

void planHead(ArenaPlan& plan, const DecoderConfig& cfg, int64_t E) {
  const int64_t n = std::max<int64_t>(E, 1), D = cfg.hiddenSize;
  for (int i = 0; i < 3; i++) plan.add(DType::F32, {n, D});
  for (int i = 0; i < 3; i++) plan.add(DType::F32, {n});
  for (int i = 0; i < 2; i++) plan.add(DType::I64, {n});
  plan.addBytes(train::fused_head_workspace_bytes(headDims(cfg, E)));
}

Result<HeadBuffers> allocHead(Arena& arena, const DecoderConfig& cfg, int64_t E) {
  const int64_t n = std::max<int64_t>(E, 1), D = cfg.hiddenSize;
  HeadBuffers b{};
  b.maxEntries = n;
  float** rows[] = {&b.gathered, &b.normed, &b.jac};
  for (float** p : rows) {
    auto t = arena.allocate(DType::F32, {n, D}, "head rows");
    if (!t.isOk()) return t.status();
    *p = t.value().data<float>();
  }
  float** vecs[] = {&b.logp, &b.lse, &b.dlogp};
  for (float** p : vecs) {
    auto t = arena.allocate(DType::F32, {n}, "head log-probs");
    if (!t.isOk()) return t.status();
    *p = t.value().data<float>();
  }
  int64_t** ids[] = {&b.targets, &b.chosen};
  for (int64_t** p : ids) {
    auto t = arena.allocate(DType::I64, {n}, "head targets");
    if (!t.isOk()) return t.status();
    *p = t.value().data<int64_t>();
  }
  const size_t bytes = train::fused_head_workspace_bytes(headDims(cfg, E));
  auto work = arena.allocate(DType::U8, {static_cast<int64_t>(bytes)}, "fused head workspace");
  if (!work.isOk()) return work.status();
  b.work = work.value().raw();
  return b;
}

void headForward(HeadBuffers& b, const float* x, const std::vector<HeadEntry>& entries, const std::vector<HeadRun>& runs,
                 const DecoderWeights& w, const DecoderConfig& cfg, bool wantJac) {
  const int64_t E = static_cast<int64_t>(entries.size()), D = cfg.hiddenSize;
  for (int64_t e = 0; e < E; e++) {
    std::memcpy(b.gathered + e * D, x + entries[e].row * D, D * sizeof(float));
    b.targets[e] = entries[e].target;
  }
  cpu::rmsnorm_forward(b.normed, b.gathered, w.norm.data<float>(), E, D, cfg.rmsNormEps);
  for (const HeadRun& r : runs) {
    if (r.end <= r.begin) continue;
    train::HeadDims d = headDims(cfg, r.end - r.begin);
    d.wType = w.lmHead.dtype();
    train::fused_head_forward(b.logp + r.begin, b.chosen + r.begin, b.lse + r.begin, wantJac ? b.jac + r.begin * D : nullptr,
                              b.work, b.normed + r.begin * D, w.lmHead.raw(), b.targets + r.begin, d, r.mode);
  }
}

void headBackward(float* dx, int64_t T, HeadBuffers& b, const std::vector<HeadEntry>& entries, const DecoderWeights& w,
                  const DecoderConfig& cfg) {
  const int64_t E = static_cast<int64_t>(entries.size()), D = cfg.hiddenSize;
  float* dh = b.normed;  // the normed rows are not needed any more: reuse them for their gradient
  train::fused_head_backward_saved(dh, b.dlogp, b.jac, E, D);
  cpu::rmsnorm_backward(dh, nullptr, dh, b.gathered, w.norm.data<float>(), E, D, cfg.rmsNormEps);
  std::memset(dx, 0, T * D * sizeof(float));
  for (int64_t e = 0; e < E; e++) cpu::add_inplace(dx + entries[e].row * D, dh + e * D, D);
}

}  // namespace stic::model
