// The projector and the feature-row selection (see projector.h).
#include "model/projector.h"

#include <cstring>


namespace stic::model {

namespace {
const float* dataOr(const Tensor& t) { return t.defined() ? t.data<float>() : nullptr; }
}  // namespace

ProjectorView projectorView(const ProjectorWeights& w) { return {dataOr(w.w1), dataOr(w.b1), dataOr(w.w2), dataOr(w.b2)}; }

void selectFeatureRows(float* sel, const float* state, const VisionConfig& v, int64_t N) {
  const int64_t T = v.tokens(), Ti = v.featureTokens(), Dv = v.hiddenSize, skip = T - Ti;  // skip 1: no CLS row
  for (int64_t n = 0; n < N; n++) std::memcpy(sel + n * Ti * Dv, state + (n * T + skip) * Dv, Ti * Dv * sizeof(float));
}

void scatterFeatureRows(float* dstate, const float* dsel, const VisionConfig& v, int64_t N) {
  const int64_t T = v.tokens(), Ti = v.featureTokens(), Dv = v.hiddenSize, skip = T - Ti;
  std::memset(dstate, 0, N * T * Dv * sizeof(float));  // unselected rows (CLS) get no gradient
  for (int64_t n = 0; n < N; n++) std::memcpy(dstate + (n * T + skip) * Dv, dsel + n * Ti * Dv, Ti * Dv * sizeof(float));
}

void projectorForward(const Ops& ops, float* features, float* h1, float* a1, const float* sel, const ProjectorView& w,
                      const LlavaConfig& cfg, int64_t M) {
  const int64_t Dv = cfg.vision.hiddenSize, D = cfg.decoder.hiddenSize;
  if (!cfg.projector.mlp2x) {
    ops.linear.linear_forward(features, sel, w.w1, DType::F32, w.b1, M, Dv, D);
    return;
  }
  ops.linear.linear_forward(h1, sel, w.w1, DType::F32, w.b1, M, Dv, D);
  if (a1 != h1) std::memcpy(a1, h1, M * D * sizeof(float));
  applyAct(ops, cfg.projector.act, a1, M * D);
  ops.linear.linear_forward(features, a1, w.w2, DType::F32, w.b2, M, D, D);
}

void projectorBackward(const Ops& ops, float* dsel, const ProjectorGrads& g, float* scratch, const float* dfeatures,
                       const float* sel, const float* h1,
                       const float* a1, const ProjectorView& w, const LlavaConfig& cfg, int64_t M) {
  const int64_t Dv = cfg.vision.hiddenSize, D = cfg.decoder.hiddenSize;
  if (!cfg.projector.mlp2x) {
    ops.linear.linear_backward(dsel, g.w1, g.b1, dfeatures, sel, w.w1, M, Dv, D);
    return;
  }
  ops.linear.linear_backward(scratch, g.w2, g.b2, dfeatures, a1, w.w2, M, D, D);
  actBackward(ops, cfg.projector.act, scratch, scratch, h1, M * D);
  ops.linear.linear_backward(dsel, g.w1, g.b1, scratch, sel, w.w1, M, Dv, D);
}

}  // namespace stic::model
