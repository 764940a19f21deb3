// Image features for training (see projector_train.h). Legend: M feature rows, Dv, D as there.
#include "model/projector_train.h"

#include <algorithm>
#include <cstring>

#include "cpu/ops.h"
#include "cpu/ops_backward.h"
#include "model/call_buffers.h"
#include "model/vision_tower.h"

namespace stic::model {
namespace {

// dinp[n] = dout[n] * act'(inp[n]) (dinp may alias dout).
void actBackward(Act act, float* dinp, const float* dout, const float* inp, int64_t n) {
  switch (act) {
    case Act::QuickGelu: cpu::quick_gelu_backward(dinp, dout, inp, n); return;
    case Act::Gelu: cpu::gelu_backward(dinp, dout, inp, n); return;
    case Act::GeluTanh: cpu::gelu_tanh_backward(dinp, dout, inp, n); return;
    case Act::Silu: cpu::silu_backward(dinp, dout, inp, n); return;
    case Act::Relu:
      for (int64_t i = 0; i < n; i++) dinp[i] = inp[i] > 0.0f ? dout[i] : 0.0f;
      return;
  }
}

const float* dataOr(const Tensor& t) { return t.defined() ? t.data<float>() : nullptr; }
const float* paramOr(const TrainTensor* t) { return t ? t->param : nullptr; }

}  // namespace

Status visionSelectedRows(float* sel, const LlavaModel& model, const float* pixels, int64_t N) {
  const LlavaConfig& cfg = model.config();
  const VisionConfig& v = cfg.vision;
  if (N == 0) return Status::ok();
  const int64_t chunk = std::min<int64_t>(N, kImageChunk), T = v.tokens(), Dv = v.hiddenSize, S = v.imageSize;
  const int64_t Ti = v.featureTokens(), skip = T - Ti;  // skip 1 drops the CLS row ('default'), 0 keeps it ('full')
  ArenaPlan plan;
  planVision(plan, v, chunk);
  plan.add(DType::F32, {chunk * T, Dv});
  auto arena = Arena::create(cpuBackend(), Lifetime::Scratch, plan.bytes());
  if (!arena.isOk()) return arena.status().withContext("vision tower");
  Arena& a = *arena.value();
  for (int64_t n0 = 0; n0 < N; n0 += chunk) {
    const int64_t n = std::min(chunk, N - n0);
    a.reset();
    auto state = a.allocate(DType::F32, {n * T, Dv}, "vision hidden state");
    if (!state.isOk()) return state.status();
    const float* st = state.value().data<float>();
    STIC_RETURN_IF_ERROR(visionForward(state.value().data<float>(), nullptr, pixels + n0 * 3 * S * S, model.weights().vision, v, n,
                                       v.featureIndex(), a));
    for (int64_t i = 0; i < n; i++) std::memcpy(sel + (n0 + i) * Ti * Dv, st + (i * T + skip) * Dv, Ti * Dv * sizeof(float));
  }
  return Status::ok();
}

ProjectorView projectorView(const ProjectorWeights& w) { return {dataOr(w.w1), dataOr(w.b1), dataOr(w.w2), dataOr(w.b2)}; }
ProjectorView projectorView(const ProjectorParams& p) { return {paramOr(p.w1), paramOr(p.b1), paramOr(p.w2), paramOr(p.b2)}; }

void projectorTrainForward(float* features, float* h1, float* a1, const float* sel, const ProjectorView& w,
                           const LlavaConfig& cfg, int64_t M) {
  const int64_t Dv = cfg.vision.hiddenSize, D = cfg.decoder.hiddenSize;
  if (!cfg.projector.mlp2x) {
    cpu::linear_forward(features, sel, w.w1, w.b1, M, Dv, D);
    return;
  }
  cpu::linear_forward(h1, sel, w.w1, w.b1, M, Dv, D);
  if (a1 != h1) std::memcpy(a1, h1, M * D * sizeof(float));
  applyAct(cfg.projector.act, a1, M * D);
  cpu::linear_forward(features, a1, w.w2, w.b2, M, D, D);
}

void projectorTrainBackward(const ProjectorParams& p, float* scratch, const float* dfeatures, const float* sel,
                            const float* h1, const float* a1, const LlavaConfig& cfg, int64_t M) {
  const int64_t Dv = cfg.vision.hiddenSize, D = cfg.decoder.hiddenSize;
  auto grad = [](const TrainTensor* t) { return t ? t->grad : nullptr; };
  if (!cfg.projector.mlp2x) {
    cpu::linear_backward(nullptr, grad(p.w1), grad(p.b1), dfeatures, sel, p.w1->param, M, Dv, D);
    return;
  }
  cpu::linear_backward(scratch, grad(p.w2), grad(p.b2), dfeatures, a1, p.w2->param, M, D, D);
  actBackward(cfg.projector.act, scratch, scratch, h1, M * D);
  cpu::linear_backward(nullptr, grad(p.w1), grad(p.b1), scratch, sel, p.w1->param, M, Dv, D);
}

}  // namespace stic::model
