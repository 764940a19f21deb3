// Image features for training (see projector_train.h). Legend: M feature rows, Dv, D as there.
#include "model/projector_train.h"

#include <algorithm>
#include <cstring>

#include "model/call_buffers.h"
#include "model/vision_tower.h"

namespace stic::model {
namespace {

const float* paramOr(const TrainTensor* t) { return t ? t->param : nullptr; }

}  // namespace

Status visionSelectedRows(float* sel, const LlavaModel& model, const float* pixels, int64_t N) {
  const LlavaConfig& cfg = model.config();
  const VisionConfig& v = cfg.vision;
  if (N == 0) return Status::ok();
  const int64_t chunk = std::min<int64_t>(N, kImageChunk), T = v.tokens(), Dv = v.hiddenSize, S = v.imageSize;
  const int64_t Ti = v.featureTokens();
  ArenaPlan plan;
  planVision(plan, v, chunk);
  plan.add(DType::F32, {chunk * T, Dv}, "vision hidden state");
  auto arena = Arena::create(cpuBackend(), Lifetime::Scratch, plan);
  if (!arena.isOk()) return arena.status().withContext("vision tower");
  Arena& a = *arena.value();
  for (int64_t n0 = 0; n0 < N; n0 += chunk) {
    const int64_t n = std::min(chunk, N - n0);
    a.reset();
    auto state = a.allocate(DType::F32, {n * T, Dv}, "vision hidden state");
    if (!state.isOk()) return state.status();
    const float* st = state.value().data<float>();
    STIC_RETURN_IF_ERROR(visionForward(model.ops(), state.value().data<float>(), nullptr, pixels + n0 * 3 * S * S,
                                       model.weights().vision, v, n, v.featureIndex(), a));
    selectFeatureRows(sel + n0 * Ti * Dv, st, v, n);
  }
  return Status::ok();
}

ProjectorView projectorView(const ProjectorParams& p) { return {paramOr(p.w1), paramOr(p.b1), paramOr(p.w2), paramOr(p.b2)}; }

void projectorTrainBackward(const Ops& ops, const ProjectorParams& p, float* scratch, const float* dfeatures, const float* sel,
                            const float* h1, const float* a1, const LlavaConfig& cfg, int64_t M) {
  auto grad = [](const TrainTensor* t) { return t ? t->grad : nullptr; };
  const ProjectorGrads g{grad(p.w1), grad(p.b1), grad(p.w2), grad(p.b2)};
  projectorBackward(ops, nullptr, g, scratch, dfeatures, sel, h1, a1, projectorView(p), cfg, M);
}

}  // namespace stic::model
