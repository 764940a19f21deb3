// Final norm + fused head for training passes (see train_head.h). Legend: E entries, D hidden, V vocab.
#include "model/train_head.h"

#include <algorithm>

#include "core/carver.h"

namespace stic::model {
namespace {

train::HeadDims headDims(const DecoderConfig& cfg, int64_t E) {
  train::HeadDims d;
  d.T = std::max<int64_t>(E, 1);
  d.D = cfg.hiddenSize;
  d.V = cfg.vocabSize;
  return d;
}

void carveHead(const Ops& ops, Carver& c, HeadBuffers& b, const DecoderConfig& cfg, int64_t E, bool trainsWeights) {
  const int64_t n = std::max<int64_t>(E, 1), D = cfg.hiddenSize;
  b.maxEntries = n;
  for (float** p : {&b.gathered, &b.normed, trainsWeights ? &b.dh : &b.jac}) c.f32(p, {n, D}, "head rows");
  for (float** p : {&b.logp, &b.lse, &b.dlogp}) c.f32(p, {n}, "head log-probs");
  for (int64_t** p : {&b.targets, &b.chosen}) c.i64(p, {n}, "head targets");
  c.bytes(&b.work, ops.head.fused_head_workspace_bytes(headDims(cfg, E)), "fused head workspace");
}

}  // namespace

void planHead(const Ops& ops, ArenaPlan& plan, const DecoderConfig& cfg, int64_t E, bool trainsWeights) {
  HeadBuffers b{};
  Carver c = Carver::planning(plan);
  carveHead(ops, c, b, cfg, E, trainsWeights);
}

Result<HeadBuffers> allocHead(const Ops& ops, Arena& arena, const DecoderConfig& cfg, int64_t E, bool trainsWeights) {
  HeadBuffers b{};
  Carver c = Carver::carving(arena);
  carveHead(ops, c, b, cfg, E, trainsWeights);
  STIC_RETURN_IF_ERROR(c.status());
  return b;
}

void headForward(const Ops& ops, HeadBuffers& b, const float* x, const std::vector<HeadEntry>& entries,
                 const std::vector<HeadRun>& runs, const DecoderView& w, const DecoderConfig& cfg, bool wantJac) {
  const int64_t E = static_cast<int64_t>(entries.size()), D = cfg.hiddenSize;
  std::vector<int64_t> targets(E);
  for (int64_t e = 0; e < E; e++) {
    ops.memory.copy(b.gathered + e * D, x + entries[e].row * D, D * sizeof(float));
    targets[e] = entries[e].target;
  }
  ops.memory.copy(b.targets, targets.data(), E * sizeof(int64_t));  // the host's list into the head's buffer
  ops.norm.rmsnorm_forward(b.normed, b.gathered, w.norm, E, D, cfg.rmsNormEps);
  for (const HeadRun& r : runs) {
    if (r.end <= r.begin) continue;
    train::HeadDims d = headDims(cfg, r.end - r.begin);
    d.wType = w.lmHead.dtype;
    ops.head.fused_head_forward(b.logp + r.begin, b.chosen + r.begin, b.lse + r.begin, wantJac ? b.jac + r.begin * D : nullptr,
                              b.work, b.normed + r.begin * D, w.lmHead.data, b.targets + r.begin, d, r.mode);
  }
}

void headBackward(const Ops& ops, float* dx, int64_t T, HeadBuffers& b, const std::vector<HeadEntry>& entries,
                  const DecoderView& w, const DecoderConfig& cfg, const HeadGrads* grads) {
  const int64_t E = static_cast<int64_t>(entries.size()), D = cfg.hiddenSize;
  float* dh = grads ? b.dh : b.normed;  // frozen: the normed rows are not needed any more, so they take their gradient
  if (!grads) {
    ops.head.fused_head_backward_saved(dh, b.dlogp, b.jac, E, D);
  } else if (E > 0) {
    train::HeadDims d = headDims(cfg, E);
    d.wType = w.lmHead.dtype;
    ops.head.fused_head_backward(dh, grads->lmHead, b.work, b.dlogp, b.normed, w.lmHead.data, b.chosen, b.lse, d);
  }
  ops.norm.rmsnorm_backward(dh, grads ? grads->norm : nullptr, dh, b.gathered, w.norm, E, D, cfg.rmsNormEps);
  ops.memory.fill(dx, 0.0f, T * D);
  for (int64_t e = 0; e < E; e++) ops.elementwise.add_inplace(dx + entries[e].row * D, dh + e * D, D);
}

}  // namespace stic::model
