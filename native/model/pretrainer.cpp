// Full-parameter pretraining steps (see pretrainer.h). Legend: see pretrainer.h.
#include "model/pretrainer.h"

#include <cmath>
#include <cstring>
#include <map>

#include "model/pretrain_decoder.h"
#include "model/pretrain_vision.h"

namespace stic::model {
namespace {

// One causal sequence per item (train_pass.h), its image tokens reading the rows of its images
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
      b.targets.push_back(it.ids[t]);
    }
  }
  return b;
}

}  // namespace

Result<std::unique_ptr<Pretrainer>> Pretrainer::create(const LlavaConfig& cfg) {
  auto params = PretrainParams::create(cfg);
  if (!params.isOk()) return params.status();
  auto p = std::unique_ptr<Pretrainer>(new Pretrainer());
  p->ops_ = &cpuBackend().ops();  // the backend PretrainParams allocates on
  STIC_RETURN_IF_ERROR(requireOps(*p->ops_, "the pretrainer"));
  p->params_ = params.take();
  return p;
}

Status Pretrainer::readTensors(PretrainKind kind, const std::vector<io::TensorSource>& sources) {
  std::vector<Tensor> views;
  views.reserve(sources.size());
  for (const io::TensorSource& s : sources) {
    const PretrainTensor* t = params_->find(s.name);
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
  planVisionActs(plan, cfg, N, backward);
  planDecoderActs(ops, plan, cfg.decoder, T, E, backward);
  plan.add(DType::F32, {std::max<int64_t>(M * D, 1)}, "feature gradients");
  STIC_RETURN_IF_ERROR(ensureArena(plan));
  lastActivationBytes_ = plan.bytes();
  auto vision = allocVisionActs(*arena_, cfg, N, backward);
  if (!vision.isOk()) return vision.status();
  auto decoder = allocDecoderActs(ops, *arena_, cfg.decoder, T, E, backward);
  if (!decoder.isOk()) return decoder.status();
  auto dfeat = arena_->allocate(DType::F32, {std::max<int64_t>(M * D, 1)}, "feature gradients");
  if (!dfeat.isOk()) return dfeat.status();
  VisionActs& va = vision.value();
  DecoderActs& da = decoder.value();
  const ModelPtrs w = params_->ptrs(PretrainKind::Param);
  visionTrainForward(ops, va, pixels, w, cfg);
  out.loss = decoderTrainForward(ops, da, b, va.features, w, cfg.decoder, opt.meanOver, opt.gradScale);
  out.tokens = E;
  if (!backward) return ops_->check();
  const ModelPtrs g = params_->ptrs(PretrainKind::Grad);
  float* dfeatures = dfeat.value().data<float>();
  std::memset(dfeatures, 0, M * D * sizeof(float));
  decoderTrainBackward(ops, da, dfeatures, b, w, g, cfg.decoder);
  visionTrainBackward(ops, va, dfeatures, pixels, w, g, cfg);
  return ops_->check();
}

Status Pretrainer::optimizerStep(PretrainOptimizerResult& out, const PretrainOptimizer& opt) {
  const std::vector<train::ParamSlot> slots = params_->slots();
  const int64_t n = static_cast<int64_t>(slots.size());
  out.gradNorm = opt.maxGradNorm > 0 ? ops_->optimizer.clip_grad_norm(slots.data(), n,
                                                                      opt.maxGradNorm) : ops_->optimizer.grad_global_norm(slots.data(), n);
  out.skipped = !std::isfinite(out.gradNorm);
  if (!out.skipped) {
    const train::ParamGroup groups[2] = {{opt.lr, opt.weightDecay}, {opt.lr, 0.0}};  // kDecayGroup, kNoDecayGroup
    STIC_RETURN_IF_ERROR(ops_->optimizer.adamw_step(slots.data(), n, groups, 2, opt.hyper, params_->step + 1));
    params_->step++;
  }
  params_->zeroGrad();
  out.step = params_->step;
  return ops_->check();
}

}  // namespace stic::model
