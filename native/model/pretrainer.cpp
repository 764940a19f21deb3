// Full-parameter pretraining steps (see pretrainer.h). Legend: see pretrainer.h.
#include "model/pretrainer.h"

#include <cmath>
#include <map>

#include "model/pretrain_decoder.h"
#include "model/projector.h"
#include "model/vision_tower.h"

namespace stic::model {
namespace {

// One causal sequence per item (pass_layout.h), its image tokens reading the rows of its images
// (image k's features are rows k*Ti .. k*Ti + Ti - 1 of the call's (N*Ti, D) features); the row
// before each target predicts it.
PackedBatch pack(const std::vector<PretrainItem>& items, const LlavaConfig& cfg, int64_t N) {
  PackedBatch b;
  const int64_t Ti = cfg.imageTokenCount;
  TokenRows tokenRows(N);
  for (int64_t k = 0; k < N; k++) {
    for (int64_t i = 0; i < Ti; i++) tokenRows[k].push_back(k * Ti + i);
  }
  for (const PretrainItem& it : items) {
    const int64_t row = appendSequence(b.layout, it.ids, it.images, cfg.imageTokenId, tokenRows);
    for (size_t t = 1; t < it.ids.size(); t++) {
      if (!it.mask[t]) continue;
      b.heads.push_back({row + static_cast<int64_t>(t) - 1, it.ids[t]});
    }
  }
  return b;
}

// The image side of a call: the tower's and the projector's activations, kept for the backward.
struct ImageActs {
  VisionActs tower;
  ProjectorActs proj;  // proj.features (M, D): the decoder's image rows
};

VisionPass visionPass(bool backward) { return backward ? VisionPass::Backward : VisionPass::Save; }
ProjectorPass projectorPass(bool backward) { return backward ? ProjectorPass::Backward : ProjectorPass::Save; }

void planImages(ArenaPlan& plan, const LlavaConfig& cfg, int64_t N, bool backward) {
  planVisionActs(plan, cfg.vision, N, cfg.vision.featureIndex(), visionPass(backward));
  planProjectorActs(plan, cfg, N * cfg.vision.featureTokens(), projectorPass(backward));
}

Result<ImageActs> carveImages(Arena& arena, const LlavaConfig& cfg, int64_t N, bool backward) {
  ImageActs a;
  auto tower = carveVisionActs(arena, cfg.vision, N, cfg.vision.featureIndex(), visionPass(backward));
  if (!tower.isOk()) return tower.status();
  auto proj = carveProjectorActs(arena, cfg, N * cfg.vision.featureTokens(), projectorPass(backward));
  if (!proj.isOk()) return proj.status();
  a.tower = tower.take();
  a.proj = proj.value();
  return a;
}

// a.proj.features (M, D) from pixels (N, 3, S, S): the tower, the row selection, the projector.
void imagesForward(const Ops& ops, ImageActs& a, const float* pixels, const VisionWeights& vw, const ModelPtrs& w,
                   const LlavaConfig& cfg) {
  const int64_t N = a.tower.N;
  if (N == 0) return;
  visionForward(ops, a.tower, pixels, vw, cfg.vision);
  selectFeatureRows(ops, a.proj.sel, a.tower.state(), cfg.vision, N);
  projectorForward(ops, a.proj.features, a.proj, projectorView(w.projector), cfg, N * cfg.vision.featureTokens());
}

// From dfeatures (M, D) into every projector and tower gradient in g.
Status imagesBackward(const Ops& ops, ImageActs& a, const float* dfeatures, const float* pixels, const VisionWeights& vw,
                      const ModelPtrs& w, const ModelPtrs& g, const LlavaConfig& cfg) {
  const int64_t N = a.tower.N;
  if (N == 0) return Status::ok();
  projectorBackward(ops, a.proj, projectorGrads(g.projector), dfeatures, projectorView(w.projector), cfg,
                    N * cfg.vision.featureTokens());
  scatterFeatureRows(ops, a.tower.dx, a.proj.dsel, cfg.vision, N);
  return visionBackward(ops, a.tower, pixels, vw, g.vision, cfg.vision);
}

}  // namespace

Result<std::unique_ptr<Pretrainer>> Pretrainer::create(const LlavaConfig& cfg) {
  auto params = createPretrainStore(cfg);
  if (!params.isOk()) return params.status();
  auto p = std::unique_ptr<Pretrainer>(new Pretrainer());
  p->cfg_ = cfg;
  p->ops_ = &cpuBackend().ops();  // the backend createPretrainStore allocates on
  STIC_RETURN_IF_ERROR(requireOps(*p->ops_, "the pretrainer"));
  p->params_ = params.take();
  return p;
}

Status Pretrainer::readTensors(ParamKind kind, const std::vector<io::TensorSource>& sources) {
  std::vector<Tensor> views;
  views.reserve(sources.size());
  for (const io::TensorSource& s : sources) {
    const ParamTensor* t = params_->find(s.name);
    if (!t) {
      return error(Code::NotFound, "tensor ", s.name, " in ", s.file, ": the model has no tensor of that name (expected an engine name such as ",
                   params_->tensors().front().name, ")");
    }
    if (s.shape != t->shape) {
      return error(Code::InvalidArgument, "tensor ", s.name, " in ", s.file, ": expected shape ", shapeString(t->shape),
                   " but the file has ", shapeString(s.shape));
    }
    auto v = params_->view(kind, *t);
    if (!v.isOk()) return v.status();
    views.push_back(v.take());
  }
  std::vector<Tensor*> dsts;
  for (Tensor& v : views) dsts.push_back(&v);
  return io::readTensors(sources, dsts);
}

Status Pretrainer::validateItem(const PretrainItem& item, int64_t N, const std::string& where) const {
  const LlavaConfig& cfg = config();
  const int64_t V = cfg.decoder.vocabSize, Ti = cfg.imageTokenCount, T = static_cast<int64_t>(item.ids.size());
  STIC_CHECK_ARG(T >= 2, where, ".ids: expected at least 2 token ids (a context and a target) but found ", T);
  STIC_CHECK_ARG(static_cast<int64_t>(item.mask.size()) == T, where, ".mask: expected one flag per token id (", T, ") but found ",
                 item.mask.size());
  STIC_CHECK_ARG(item.mask[0] == 0, where, ".mask[0]: the first token has no context to be predicted from, so it cannot be a target");
  int64_t imageTokens = 0;
  for (int64_t t = 0; t < T; t++) {
    const int64_t id = item.ids[t];
    if (id == cfg.imageTokenId) {
      imageTokens++;
      STIC_CHECK_ARG(!item.mask[t], where, ".mask[", t, "]: token ", t, " is an image token, which cannot be a target");
      continue;
    }
    STIC_CHECK_ARG(id >= 0 && id < V, where, ".ids[", t, "]: token id ", id, " is outside the vocabulary [0, ", V, ")");
  }
  const int64_t nImages = static_cast<int64_t>(item.images.size());
  STIC_CHECK_ARG(imageTokens == nImages * Ti, where, ": expected ", nImages * Ti, " image tokens (id ", cfg.imageTokenId, ") for ",
                 nImages, " image(s) x ", Ti, " but found ", imageTokens);
  for (size_t k = 0; k < item.images.size(); k++) {
    STIC_CHECK_ARG(item.images[k] >= 0 && item.images[k] < N, where, ".images[", k, "]: image index ", item.images[k],
                   " is out of range for a batch of ", N, " image(s)");
  }
  return Status::ok();
}

Status Pretrainer::ensureArena(const ArenaPlan& plan) {
  if (arena_ && arena_->capacity() >= plan.bytes()) {
    arena_->reset();
    return Status::ok();
  }
  arena_.reset();  // free the old one first: peak memory is the new size, not both
  auto a = Arena::create(cpuBackend(), Lifetime::Activations, plan);
  if (!a.isOk()) return a.status().withContext("pretraining activations");
  arena_ = a.take();
  return Status::ok();
}

Status Pretrainer::step(PretrainStepResult& out, const float* pixels, int64_t N, const std::vector<PretrainItem>& items,
                        const PretrainStepOptions& opt, bool backward) {
  const LlavaConfig& cfg = config();
  const Ops& ops = *ops_;
  STIC_CHECK_ARG(!items.empty(), "items: expected at least one item but received none");
  for (size_t i = 0; i < items.size(); i++) STIC_RETURN_IF_ERROR(validateItem(items[i], N, "items[" + std::to_string(i) + "]"));
  const PackedBatch b = pack(items, cfg, N);
  const int64_t T = b.rows(), E = b.targetCount(), M = N * cfg.imageTokenCount, D = cfg.decoder.hiddenSize;
  ArenaPlan plan;
  planImages(plan, cfg, N, backward);
  planPretrainActs(ops, plan, cfg.decoder, T, E, backward);
  plan.add(DType::F32, {std::max<int64_t>(M * D, 1)}, "feature gradients");
  STIC_RETURN_IF_ERROR(ensureArena(plan));
  lastActivationBytes_ = plan.bytes();
  auto images = carveImages(*arena_, cfg, N, backward);
  if (!images.isOk()) return images.status();
  auto decoder = allocPretrainActs(ops, *arena_, cfg.decoder, T, E, backward);
  if (!decoder.isOk()) return decoder.status();
  auto dfeat = arena_->allocate(DType::F32, {std::max<int64_t>(M * D, 1)}, "feature gradients");
  if (!dfeat.isOk()) return dfeat.status();
  ImageActs& ia = images.value();
  PretrainActs& da = decoder.value();
  const ModelPtrs w = modelPtrs(*params_, cfg, ParamKind::Param);
  const VisionWeights vw = visionWeightsOf(w.vision, cfg.vision);
  imagesForward(ops, ia, pixels, vw, w, cfg);
  STIC_RETURN_IF_ERROR(pretrainForward(ops, da, out.loss, b, ia.proj.features, w, cfg.decoder, opt.meanOver, opt.gradScale));
  out.tokens = E;
  if (!backward) return ops_->check();
  const ModelPtrs g = modelPtrs(*params_, cfg, ParamKind::Grad);
  float* dfeatures = dfeat.value().data<float>();
  ops.memory.fill(dfeatures, 0.0f, M * D);
  pretrainBackward(ops, da, dfeatures, b, w, g, cfg.decoder);
  STIC_RETURN_IF_ERROR(imagesBackward(ops, ia, dfeatures, pixels, vw, w, g, cfg));
  return ops_->check();
}

Status Pretrainer::optimizerStep(OptimizerResult& out, const PretrainOptimizer& opt) {
  // kDecayGroup, kNoDecayGroup (pretrain_params.h)
  return model::optimizerStep(*params_, {{{opt.lr, opt.weightDecay}, {opt.lr, 0.0}}, opt.hyper, opt.maxGradNorm, opt.frozen}, out);
}

}  // namespace stic::model
