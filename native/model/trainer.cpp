// Trainer: the DPO and SFT steps and pair scoring of every spec over one step path (see trainer.h;
// the call's pieces in train_call.h, the inputs in train_items.h). The optimizer step and merged
// weights are in trainer_update.cpp. Legend: see trainer.h.
#include "model/trainer.h"

namespace stic::model {
namespace {

// Forward of a group: logps of every entry into c.head.logp and per-sequence sums (2 Bg).
Status groupForward(TrainCall& c, const TrainView& v, const LlavaConfig& cfg, const PassGroup& g, const float* features,
                    const LoraUse& lora, train::GatherMode rejectedMode, bool wantJac, std::vector<float>& sums) {
  STIC_RETURN_IF_ERROR(passForward(c, v, cfg, g.layout, features, lora));
  const int64_t E = static_cast<int64_t>(g.entries.size());
  headForward(v.ops(), c.head, c.x, g.entries, {{0, g.firstRejected, train::GatherMode::Label}, {g.firstRejected, E, rejectedMode}},
              v.decoder, cfg.decoder, wantJac);
  sums.assign(2 * g.size(), 0.0f);
  v.ops().loss.sum_by_sequence(sums.data(), c.head.logp, g.seq.data(), E, static_cast<int64_t>(sums.size()));
  return Status::ok();
}

}  // namespace

Result<std::unique_ptr<Trainer>> Trainer::create(std::shared_ptr<const LlavaModel> model, const TrainSpec& spec) {
  STIC_CHECK_ARG(!spec.full, "internal: a full-parameter trainer is made by createFull, not over a model");
  auto params = TrainableParams::create(*model, spec.lora, spec.projector);
  if (!params.isOk()) return params.status();
  auto t = std::unique_ptr<Trainer>(new Trainer());
  t->cfg_ = model->config();
  t->spec_ = spec;
  t->params_ = params.take();
  t->view_ = adapterView(*model, *t->params_);
  t->model_ = std::move(model);
  return t;
}

Result<std::unique_ptr<Trainer>> Trainer::createFull(Backend& backend, const LlavaConfig& cfg) {
  auto params = TrainableParams::createFull(backend, cfg);
  if (!params.isOk()) return params.status().withContext("full-parameter training");
  STIC_RETURN_IF_ERROR(requireOps(params.value()->store().ops(), "the trainer"));
  auto t = std::unique_ptr<Trainer>(new Trainer());
  t->cfg_ = cfg;
  t->spec_.full = true;
  t->params_ = params.take();
  t->view_ = fullView(cfg, *t->params_);
  return t;
}

Status Trainer::requireAdapters(const char* method) const {
  STIC_CHECK_ARG(!spec_.full, method, ": a full-parameter trainer has no frozen model to score a reference or merge into (adapters only)");
  return Status::ok();
}

StepMemory Trainer::planStep(const StepShape& shape) const { return planCall(cfg_, view_, shape); }

Status Trainer::pairLogprobs(std::vector<RefLogps>& out, const ImageBatch& images, const std::vector<PairInput>& pairs, bool policy,
                             train::GatherMode rejectedMode, bool trainedProjector) {
  STIC_RETURN_IF_ERROR(requireAdapters("pairLogprobs"));
  const LlavaConfig& cfg = cfg_;
  const TrainView& v = view_;
  STIC_RETURN_IF_ERROR(validateImageBatch(images, cfg));
  const TokenRows tokenRows = imageTokenRows(images, cfg);
  for (size_t i = 0; i < pairs.size(); i++) STIC_RETURN_IF_ERROR(validatePair(cfg, pairs[i], tokenRows, "pairs[" + std::to_string(i) + "]"));
  std::vector<PassGroup> groups = groupPairs(pairs, cfg, tokenRows, true);
  StepShape sizes;
  sizes.featureRows = images.crops * cfg.imageTokenCount;
  sizeGroups(sizes, groups, false);
  auto call = createCall(callArena_, cfg, v, sizes);
  if (!call.isOk()) return call.status();
  TrainCall& c = call.value();
  STIC_RETURN_IF_ERROR(selectedRows(c, v, cfg, images));
  // One projector output: the trained one for the policy (or the reference when asked), else the original.
  const bool trained = v.projectorTrains && (policy || trainedProjector);
  projectOnly(c, v, cfg, sizes.featureRows, trained ? v.projector : v.refProjector);
  LoraUse lora;
  if (policy) lora.params = params_.get();
  out.assign(pairs.size(), {});
  std::vector<float> sums;
  for (const PassGroup& g : groups) {
    STIC_RETURN_IF_ERROR(groupForward(c, v, cfg, g, c.featPolicy, lora, rejectedMode, false, sums));
    for (size_t i = 0; i < g.size(); i++) out[g.begin + i] = {sums[i], sums[g.size() + i]};
  }
  lastActivationBytes_ = c.bytes;
  return v.ops().check();
}

Status Trainer::dpoStep(DpoStepResult& out, const ImageBatch& images, const std::vector<PairInput>& pairs,
                        const std::vector<std::optional<RefLogps>>& refs, const DpoStepOptions& opt) {
  STIC_RETURN_IF_ERROR(requireAdapters("dpoStep"));
  const LlavaConfig& cfg = cfg_;
  const TrainView& v = view_;
  const int64_t B = static_cast<int64_t>(pairs.size());
  STIC_CHECK_ARG(B > 0, "pairs: expected at least one preference pair but found none");
  STIC_CHECK_ARG(refs.size() == pairs.size(), "internal: ", refs.size(), " reference entries for ", B, " pairs");
  STIC_RETURN_IF_ERROR(validateImageBatch(images, cfg));
  const TokenRows tokenRows = imageTokenRows(images, cfg);
  for (int64_t i = 0; i < B; i++) STIC_RETURN_IF_ERROR(validatePair(cfg, pairs[i], tokenRows, "pairs[" + std::to_string(i) + "]"));
  bool needRef = false;
  for (const auto& r : refs) needRef = needRef || !r.has_value();

  std::vector<PassGroup> groups = groupPairs(pairs, cfg, tokenRows, opt.sharedPrefix);
  StepShape sizes;
  sizes.featureRows = images.crops * cfg.imageTokenCount;
  sizes.backward = true;
  sizes.checkpointed = opt.gradCheckpointing;
  // The reference reads the frozen projector; it differs from the policy's only when that one trains.
  sizes.refFeatures = needRef && v.projectorTrains && !opt.refTrainedProjector;
  sizeGroups(sizes, groups, false);
  auto call = createCall(callArena_, cfg, v, sizes);
  if (!call.isOk()) return call.status();
  TrainCall& c = call.value();
  STIC_RETURN_IF_ERROR(selectedRows(c, v, cfg, images));
  projectFeatures(c, v, cfg, sizes.featureRows, sizes.refFeatures);

  LoraUse policy{params_.get(), true, {params_->spec().seed, opt.step, opt.micro, 0, 0}};
  out.policyChosen.assign(B, 0);
  out.policyRejected.assign(B, 0);
  out.refChosen.assign(B, 0);
  out.refRejected.assign(B, 0);
  out.chosenTokens.assign(B, 0);
  out.rejectedTokens.assign(B, 0);
  std::vector<float> sums, dseq;
  for (const PassGroup& g : groups) {
    const size_t Bg = g.size();
    bool groupNeedsRef = false;
    for (size_t i = g.begin; i < g.end; i++) groupNeedsRef = groupNeedsRef || !refs[i].has_value();
    if (groupNeedsRef) {  // reference pass: LoRA off, the same images
      STIC_RETURN_IF_ERROR(groupForward(c, v, cfg, g, c.featRef, LoraUse{}, opt.rejectedMode, false, sums));
    }
    for (size_t i = 0; i < Bg; i++) {
      const size_t k = g.begin + i;
      out.refChosen[k] = refs[k] ? refs[k]->chosen : sums[i];
      out.refRejected[k] = refs[k] ? refs[k]->rejected : sums[Bg + i];
      out.chosenTokens[k] = static_cast<int64_t>(pairs[k].chosen.size());
      out.rejectedTokens[k] = static_cast<int64_t>(pairs[k].rejected.size());
    }
    STIC_RETURN_IF_ERROR(groupForward(c, v, cfg, g, c.featPolicy, policy, opt.rejectedMode, true, sums));
    for (size_t i = 0; i < Bg; i++) {
      out.policyChosen[g.begin + i] = sums[i];
      out.policyRejected[g.begin + i] = sums[Bg + i];
    }
    // The loss of this group's pairs as a share of the mean over all B pairs.
    train::DpoBatch batch{static_cast<int64_t>(Bg), &out.policyChosen[g.begin], &out.policyRejected[g.begin], &out.refChosen[g.begin],
                          &out.refRejected[g.begin], &out.chosenTokens[g.begin], static_cast<double>(B)};
    dseq.assign(2 * Bg, 0.0f);
    v.ops().loss.dpo_loss(dseq.data(), dseq.data() + Bg, batch, opt.loss);
    for (float& d : dseq) d = static_cast<float>(d * opt.gradScale);
    const int64_t E = static_cast<int64_t>(g.entries.size());
    v.ops().loss.sequence_grad_to_tokens(c.head.dlogp, dseq.data(), g.seq.data(), E);
    passBackward(c, v, cfg, g.layout, g.entries, policy);
  }
  STIC_RETURN_IF_ERROR(imagesBackward(c, v, cfg, images));
  // Metrics over the whole call (the per-group calls above only produced gradients).
  std::vector<float> unused(2 * B);
  train::DpoBatch all{B, out.policyChosen.data(), out.policyRejected.data(), out.refChosen.data(), out.refRejected.data(),
                      out.chosenTokens.data(), 0};
  out.metrics = v.ops().loss.dpo_loss(unused.data(), unused.data() + B, all, opt.loss);
  lastActivationBytes_ = c.bytes;
  return v.ops().check();
}

Status Trainer::sftStep(SftStepResult& out, const ImageBatch& images, const std::vector<SftItem>& items, const SftStepOptions& opt) {
  const LlavaConfig& cfg = cfg_;
  const TrainView& v = view_;
  STIC_RETURN_IF_ERROR(validateImageBatch(images, cfg));
  const TokenRows tokenRows = imageTokenRows(images, cfg);
  for (size_t k = 0; k < images.layouts.size() && v.newlineRows == 0; k++) {
    STIC_CHECK_ARG(!images.layouts[k].anyres(), "images[", k, "]: a full-parameter trainer takes single-tile images but found an anyres layout");
  }
  STIC_RETURN_IF_ERROR(validateSftItems(cfg, items, tokenRows, opt.targetRequired));
  out.tokens = 0;
  for (const SftItem& it : items) {
    for (uint8_t m : it.mask) out.tokens += m ? 1 : 0;
  }
  const std::vector<SftGroup> groups = groupItems(items, cfg, tokenRows, v.passRows, v.full());
  StepShape sizes;
  sizes.featureRows = images.crops * cfg.imageTokenCount;
  sizes.backward = opt.backward;
  sizes.checkpointed = opt.gradCheckpointing;
  // Adapters plan key staging for the longest segment, as lib/train/memory_plan.ts's shapes count
  // it; a full-parameter call plans only what its segments stage (none: each item is contiguous).
  sizeGroups(sizes, groups, v.full());
  auto call = createCall(callArena_, cfg, v, sizes);
  if (!call.isOk()) return call.status();
  TrainCall& c = call.value();
  STIC_RETURN_IF_ERROR(selectedRows(c, v, cfg, images));
  if (opt.backward) {
    projectFeatures(c, v, cfg, sizes.featureRows, false);
  } else {
    projectOnly(c, v, cfg, sizes.featureRows, v.projector);
  }
  const LoraUse lora = v.full() ? LoraUse{} : LoraUse{params_.get(), opt.backward, {params_->spec().seed, opt.step, opt.micro, 0, 0}};
  const double over = opt.meanOver > 0 ? opt.meanOver : static_cast<double>(out.tokens);
  out.loss = 0;
  for (const SftGroup& g : groups) {
    STIC_RETURN_IF_ERROR(passForward(c, v, cfg, g.layout, c.featPolicy, lora));
    const int64_t E = static_cast<int64_t>(g.entries.size());
    headForward(v.ops(), c.head, c.x, g.entries, {{0, E, train::GatherMode::Label}}, v.decoder, cfg.decoder, opt.backward && !v.full());
    out.loss += v.ops().loss.sft_loss(c.head.dlogp, c.head.logp, c.head.targets, E, over);
    if (!opt.backward) continue;
    for (int64_t e = 0; e < E; e++) c.head.dlogp[e] = static_cast<float>(c.head.dlogp[e] * opt.gradScale);
    passBackward(c, v, cfg, g.layout, g.entries, lora);
  }
  if (opt.backward) STIC_RETURN_IF_ERROR(imagesBackward(c, v, cfg, images));
  lastActivationBytes_ = c.bytes;
  return v.ops().check();
}

}  // namespace stic::model
