// The projector and the feature-row selection (see projector.h).
#include "model/projector.h"

#include <algorithm>

#include "core/carver.h"
#include "model/model_ptrs.h"
#include "model/train_params.h"

namespace stic::model {

namespace {
const float* dataOr(const Tensor& t) { return t.defined() ? t.data<float>() : nullptr; }
const float* paramOr(const TrainTensor* t) { return t ? t->param : nullptr; }
float* gradOr(const TrainTensor* t) { return t ? t->grad : nullptr; }
}  // namespace

ProjectorView projectorView(const ProjectorWeights& w) { return {dataOr(w.w1), dataOr(w.b1), dataOr(w.w2), dataOr(w.b2)}; }
ProjectorView projectorView(const ProjectorParams& p) { return {paramOr(p.w1), paramOr(p.b1), paramOr(p.w2), paramOr(p.b2)}; }
ProjectorView projectorView(const ProjectorPtrs& p) { return {p.w1, p.b1, p.w2, p.b2}; }
ProjectorGrads projectorGrads(const ProjectorParams& p) { return {gradOr(p.w1), gradOr(p.b1), gradOr(p.w2), gradOr(p.b2)}; }
ProjectorGrads projectorGrads(const ProjectorPtrs& p) { return {p.w1, p.b1, p.w2, p.b2}; }

namespace {

// Every buffer of `pass`, each at least one float (M may be 0: a call without images).
void carveProjector(Carver& c, ProjectorActs& a, const LlavaConfig& cfg, int64_t M, ProjectorPass pass) {
  const int64_t Dv = cfg.vision.hiddenSize, D = cfg.decoder.hiddenSize;
  auto f = [&c](float** slot, int64_t n, const char* what) { c.f32(slot, {std::max<int64_t>(n, 1)}, what); };
  f(&a.sel, M * Dv, "selected vision rows");
  f(&a.h1, M * D, "projector hidden");
  if (pass == ProjectorPass::Infer) {
    a.a1 = a.h1;
    return;
  }
  f(&a.a1, M * D, "projector hidden");
  f(&a.features, M * D, "image features");
  if (pass == ProjectorPass::Save) return;
  f(&a.dsel, M * Dv, "projector gradients");
  f(&a.dh1, M * D, "projector gradients");
}

}  // namespace

void planProjectorActs(ArenaPlan& plan, const LlavaConfig& cfg, int64_t M, ProjectorPass pass) {
  ProjectorActs a{};
  Carver c = Carver::planning(plan);
  carveProjector(c, a, cfg, M, pass);
}

Result<ProjectorActs> carveProjectorActs(Arena& arena, const LlavaConfig& cfg, int64_t M, ProjectorPass pass) {
  ProjectorActs a{};
  Carver c = Carver::carving(arena);
  carveProjector(c, a, cfg, M, pass);
  STIC_RETURN_IF_ERROR(c.status());
  return a;
}

void selectFeatureRows(const Ops& ops, float* sel, const float* state, const VisionConfig& v, int64_t N) {
  const int64_t T = v.tokens(), Ti = v.featureTokens(), Dv = v.hiddenSize, skip = T - Ti;  // skip 1: no CLS row
  for (int64_t n = 0; n < N; n++) ops.memory.copy(sel + n * Ti * Dv, state + (n * T + skip) * Dv, Ti * Dv * sizeof(float));
}

void scatterFeatureRows(const Ops& ops, float* dstate, const float* dsel, const VisionConfig& v, int64_t N) {
  const int64_t T = v.tokens(), Ti = v.featureTokens(), Dv = v.hiddenSize, skip = T - Ti;
  ops.memory.fill(dstate, 0.0f, N * T * Dv);  // unselected rows (CLS) get no gradient
  for (int64_t n = 0; n < N; n++) ops.memory.copy(dstate + (n * T + skip) * Dv, dsel + n * Ti * Dv, Ti * Dv * sizeof(float));
}

void projectorForward(const Ops& ops, float* features, const ProjectorActs& a, const ProjectorView& w, const LlavaConfig& cfg,
                      int64_t M) {
  const int64_t Dv = cfg.vision.hiddenSize, D = cfg.decoder.hiddenSize;
  if (!cfg.projector.mlp2x) {
    ops.linear.linear_forward(features, a.sel, w.w1, DType::F32, w.b1, M, Dv, D);
    return;
  }
  ops.linear.linear_forward(a.h1, a.sel, w.w1, DType::F32, w.b1, M, Dv, D);
  applyAct(ops, cfg.projector.act, a.a1, a.h1, M * D);
  ops.linear.linear_forward(features, a.a1, w.w2, DType::F32, w.b2, M, D, D);
}

void projectorBackward(const Ops& ops, const ProjectorActs& a, const ProjectorGrads& g, const float* dfeatures,
                       const ProjectorView& w, const LlavaConfig& cfg, int64_t M) {
  const int64_t Dv = cfg.vision.hiddenSize, D = cfg.decoder.hiddenSize;
  if (!cfg.projector.mlp2x) {
    ops.linear.linear_backward(a.dsel, g.w1, g.b1, dfeatures, a.sel, w.w1, M, Dv, D);
    return;
  }
  ops.linear.linear_backward(a.dh1, g.w2, g.b2, dfeatures, a.a1, w.w2, M, D, D);
  actBackward(ops, cfg.projector.act, a.dh1, a.dh1, a.h1, M * D);
  ops.linear.linear_backward(a.dsel, g.w1, g.b1, a.dh1, a.sel, w.w1, M, Dv, D);
}

void projectImageFeatures(const Ops& ops, float* out, const float* state, const ProjectorActs& a, const ProjectorWeights& w,
                          const LlavaConfig& cfg, int64_t N) {
  selectFeatureRows(ops, a.sel, state, cfg.vision, N);
  projectorForward(ops, out, a, projectorView(w), cfg, N * cfg.vision.featureTokens());
}

}  // namespace stic::model
