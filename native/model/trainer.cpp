// LlavaTrainer: the DPO and SFT micro-steps and pair scoring (see trainer.h). Optimizer, tensor
// access and merged weights are in trainer_update.cpp. Legend: see trainer.h.
#include "model/trainer.h"

#include <algorithm>

#include "model/call_buffers.h"
#include "model/decoder.h"
#include "model/projector.h"
#include "model/train_head.h"
#include "model/vision_tower.h"

namespace stic::model {
namespace {

// Pairs [begin, end) of a call in one pass: the layout, the scored entries (every chosen token of
// the group's pairs, then every rejected token) and the sequence of each entry (b: chosen of the
// group's pair b, Bg + b: its rejected).
struct PassGroup {
  size_t begin = 0, end = 0;
  PassLayout layout;
  std::vector<HeadEntry> entries;
  std::vector<int64_t> seq;  // (E)
  int64_t firstRejected = 0;   // entries [firstRejected, E) are rejected tokens (DPO)
  size_t size() const { return end - begin; }
};

std::vector<PassGroup> groupPairs(const std::vector<PairInput>& pairs, const LlavaConfig& cfg, const TokenRows& tokenRows, bool shared) {
  std::vector<int64_t> rows;
  for (const PairInput& p : pairs) rows.push_back(pairRows(p, shared));
  std::vector<PassGroup> groups;
  for (auto [b, e] : packGroups(rows, kPassTokenBudget)) {
    PassGroup g;
    g.begin = b;
    g.end = e;
    std::vector<PairRows> heads;
    for (size_t i = b; i < e; i++) heads.push_back(appendPair(g.layout, pairs[i], cfg.imageTokenId, tokenRows, shared));
    const int64_t Bg = static_cast<int64_t>(e - b);
    for (int64_t i = 0; i < Bg; i++) {
      for (const HeadEntry& h : heads[i].chosen) g.entries.push_back(h), g.seq.push_back(i);
    }
    g.firstRejected = static_cast<int64_t>(g.entries.size());
    for (int64_t i = 0; i < Bg; i++) {
      for (const HeadEntry& h : heads[i].rejected) g.entries.push_back(h), g.seq.push_back(Bg + i);
    }
    groups.push_back(std::move(g));
  }
  return groups;
}

// Everything one call needs, carved from the trainer's Activations arena (sized from the call's
// StepShape; kept between calls and only re-created when a call needs more).
struct TrainCall {
  Arena* arena = nullptr;
  size_t bytes = 0;             // what this call planned (the arena may be larger)
  ProjectorActs proj;           // sel (M, Dv), h1 and a1 (M, D) saved, dh1 (M, D) when the projector trains; no dsel
  float* featPolicy = nullptr;  // (M + 1, D): the crops' features, then image_newline
  float* featRef = nullptr;     // (M + 1, D), or featPolicy when they coincide
  float* dfeat = nullptr;       // (M + 1, D) d loss / d policy features (the newline row's is unused: it is frozen)
  float* x = nullptr;           // (T, D) residual stream
  float* dx = nullptr;          // (T, D) its gradient
  DecoderActs act;
  HeadBuffers head;
};

template <typename Group>
void sizeGroups(StepShape& s, const std::vector<Group>& groups) {
  for (const Group& g : groups) {
    s.rows = std::max(s.rows, g.layout.rows());
    s.keys = std::max(s.keys, g.layout.maxKeys());
    s.entries = std::max<int64_t>(s.entries, static_cast<int64_t>(g.entries.size()));
  }
}

DecoderShape decoderShape(const LlavaConfig& cfg, const StepShape& s) {
  return {std::max<int64_t>(s.rows, 1), std::max<int64_t>(s.keys, 1), s.backward ? cfg.decoder.numLayers : 1, true, s.backward,
          s.backward && s.checkpointed};
}

// The call's own buffers (TrainCall's float* fields but the decoder's and the head's), with their shapes.
std::vector<std::pair<float**, Shape>> callSlots(TrainCall& c, const LlavaConfig& cfg, const TrainableParams& params,
                                                 const StepShape& s) {
  const int64_t M = std::max<int64_t>(s.featureRows, 1), T = std::max<int64_t>(s.rows, 1), D = cfg.decoder.hiddenSize,
                Dv = cfg.vision.hiddenSize;
  const bool trainProj = params.trainProjector() && s.backward;
  std::vector<std::pair<float**, Shape>> slots;
  slots.push_back({&c.proj.sel, {M, Dv}});
  slots.push_back({&c.featPolicy, {M + 1, D}});
  if (s.refFeatures) slots.push_back({&c.featRef, {M + 1, D}});
  slots.push_back({&c.proj.h1, {M, D}});
  slots.push_back({&c.proj.a1, {M, D}});
  if (trainProj) slots.push_back({&c.dfeat, {M + 1, D}}), slots.push_back({&c.proj.dh1, {M, D}});
  slots.push_back({&c.x, {T, D}});
  if (s.backward) slots.push_back({&c.dx, {T, D}});
  return slots;
}

// What a call's arena holds: `saved` what the forward keeps for the backward, `scratch` the rest.
void planCallArenas(const Ops& ops, ArenaPlan& saved, ArenaPlan& scratch, const LlavaConfig& cfg, const TrainableParams& params,
                    const StepShape& s) {
  TrainCall unused;
  for (auto& slot : callSlots(unused, cfg, params, s)) scratch.add(DType::F32, slot.second, "call buffers");
  DecoderActs unusedActs;
  Carver savedPlan = Carver::planning(saved), scratchPlan = Carver::planning(scratch);
  carveDecoderActs(savedPlan, scratchPlan, unusedActs, cfg.decoder, &params.spec(), decoderShape(cfg, s));
  planHead(ops, scratch, cfg.decoder, s.entries);
}

StepMemory planCall(const Ops& ops, const LlavaConfig& cfg, const TrainableParams& params, const StepShape& s) {
  ArenaPlan saved, scratch;
  planCallArenas(ops, saved, scratch, cfg, params, s);
  return {saved.bytes(), scratch.bytes()};
}

Result<TrainCall> createCall(const Ops& ops, std::unique_ptr<Arena>& arena, const LlavaConfig& cfg, const TrainableParams& params,
                             const StepShape& s) {
  const int64_t M = std::max<int64_t>(s.featureRows, 1), D = cfg.decoder.hiddenSize;
  ArenaPlan plan, scratch;
  planCallArenas(ops, plan, scratch, cfg, params, s);
  plan.append(scratch);
  if (!arena || arena->capacity() < plan.bytes()) {
    arena.reset();  // free the old one first: peak memory is the larger arena, not both
    auto created = Arena::create(cpuBackend(), Lifetime::Activations, plan);
    if (!created.isOk()) return created.status().withContext("training step activations");
    arena = created.take();
  }
  arena->reset();
  TrainCall c;
  c.arena = arena.get();
  c.bytes = plan.bytes();
  for (auto& [p, shape] : callSlots(c, cfg, params, s)) {
    auto t = c.arena->allocate(DType::F32, shape, "training step buffers");
    if (!t.isOk()) return t.status();
    *p = t.value().data<float>();
  }
  if (!c.featRef) c.featRef = c.featPolicy;
  auto act = allocDecoderActs(*c.arena, cfg.decoder, &params.spec(), decoderShape(cfg, s));
  if (!act.isOk()) return act.status();
  c.act = act.take();
  auto head = allocHead(ops, *c.arena, cfg.decoder, s.entries);
  if (!head.isOk()) return head.status();
  c.head = head.take();
  if (c.dfeat) ops.memory.fill(c.dfeat, 0.0f, (M + 1) * D);
  return c;
}

// Writes image_newline after the M crop rows of a feature buffer (image_layout.h).
void addNewlineRow(float* features, const LlavaModel& m, int64_t M) {
  const LlavaConfig& cfg = m.config();
  const Tensor& nl = m.weights().imageNewline;
  ImageBatch rows;
  rows.crops = M / std::max<int64_t>(cfg.imageTokenCount, 1);
  fillNewlineRow(m.ops(), features, rows, cfg, nl.defined() ? nl.data<float>() : nullptr);
}

// The call's projector buffers with the activation applied in place in h1 (a pass no backward reads).
ProjectorActs unsaved(const ProjectorActs& a) {
  ProjectorActs u = a;
  u.a1 = u.h1;
  return u;
}

// c.proj.sel: the selected tower rows of the call's crops (the frozen tower, no gradient).
Status selectedRows(TrainCall& c, const LlavaModel& m, const ImageBatch& images) {
  return visionSelectedRows(m.ops(), c.proj.sel, m.weights().vision, m.config().vision, images.pixels, images.crops);
}

// From c.dfeat into the trained projector's gradients (no input gradient: the tower is frozen).
void projectorTrainBackward(TrainCall& c, const LlavaModel& m, const TrainableParams& p, int64_t M) {
  projectorBackward(m.ops(), c.proj, projectorGrads(p.projector()), c.dfeat, projectorView(p.projector()), m.config(), M);
}

// Projects the call's images: the policy's features (saving the projector's activations when it
// trains) and, when the reference needs a different projector, the reference's.
void projectFeatures(TrainCall& c, const LlavaModel& m, const TrainableParams& p, int64_t M, bool refSeparate) {
  const LlavaConfig& cfg = m.config();
  const Ops& ops = m.ops();
  const ProjectorView frozen = projectorView(m.weights().projector);
  const ProjectorView policy = p.trainProjector() ? projectorView(p.projector()) : frozen;
  // The reference first: it borrows h1 as scratch (its activation in place), which the policy's pass then keeps.
  if (refSeparate && c.featRef != c.featPolicy) {
    projectorForward(ops, c.featRef, unsaved(c.proj), frozen, cfg, M);
    addNewlineRow(c.featRef, m, M);
  }
  projectorForward(ops, c.featPolicy, c.proj, policy, cfg, M);
  addNewlineRow(c.featPolicy, m, M);
}

// c.x (T, D) = the decoder's output for the layout's embeddings (image rows from features).
Status passForward(TrainCall& c, const LlavaModel& m, const PassLayout& layout, const float* features, const LoraUse& lora) {
  const DecoderConfig& cfg = m.config().decoder;
  embedPass(m.ops(), c.x, layout, features, m.decoder().embed, cfg.hiddenSize);
  return decoderForward(m.ops(), c.x, layout, m.decoder(), cfg, lora, nullptr, c.act);
}

// Forward of a group: logps of every entry into c.head.logp and per-sequence sums (2 Bg).
Status groupForward(TrainCall& c, const LlavaModel& m, const PassGroup& g, const float* features, const LoraUse& lora,
                    train::GatherMode rejectedMode, bool wantJac, std::vector<float>& sums) {
  const LlavaConfig& cfg = m.config();
  const Ops& ops = m.ops();
  STIC_RETURN_IF_ERROR(passForward(c, m, g.layout, features, lora));
  const int64_t E = static_cast<int64_t>(g.entries.size());
  headForward(ops, c.head, c.x, g.entries, {{0, g.firstRejected, train::GatherMode::Label}, {g.firstRejected, E, rejectedMode}},
              m.decoder(), cfg.decoder, wantJac);
  sums.assign(2 * g.size(), 0.0f);
  ops.loss.sum_by_sequence(sums.data(), c.head.logp, g.seq.data(), E, static_cast<int64_t>(sums.size()));
  return Status::ok();
}

// Backward of a group from c.head.dlogp: into the LoRA gradients and, when the projector trains,
// into c.dfeat at the image rows.
void groupBackward(TrainCall& c, const LlavaModel& m, const PassLayout& layout, const std::vector<HeadEntry>& entries,
                   const LoraUse& lora) {
  const LlavaConfig& cfg = m.config();
  const Ops& ops = m.ops();
  const int64_t T = layout.rows(), D = cfg.decoder.hiddenSize;
  headBackward(ops, c.dx, T, c.head, entries, m.decoder(), cfg.decoder);
  decoderBackward(ops, c.dx, layout, m.decoder(), cfg.decoder, lora, nullptr, c.act);
  if (!c.dfeat) return;
  for (int64_t t = 0; t < T; t++) {  // in row order: a fixed summation order
    if (layout.featureRow[t] >= 0) ops.elementwise.add_inplace(c.dfeat + layout.featureRow[t] * D, c.dx + t * D, D);
  }
}

}  // namespace

Result<std::unique_ptr<LlavaTrainer>> LlavaTrainer::create(std::shared_ptr<const LlavaModel> model, const LoraSpec& spec,
                                                           bool trainProjector) {
  auto params = TrainableParams::create(*model, spec, trainProjector);
  if (!params.isOk()) return params.status();
  auto t = std::unique_ptr<LlavaTrainer>(new LlavaTrainer());
  t->model_ = std::move(model);
  t->params_ = params.take();
  return t;
}

StepMemory LlavaTrainer::planStep(const StepShape& shape) const { return planCall(model_->ops(), model_->config(), *params_,
                                                                                  shape); }

Status LlavaTrainer::validatePair(const PairInput& pair, const TokenRows& tokenRows, const std::string& where) const {
  const LlavaConfig& cfg = model_->config();
  STIC_RETURN_IF_ERROR(model_->validate(Sequence{pair.prompt, pair.images}, tokenRows, where + ".promptIds"));
  const std::pair<const char*, const std::vector<int64_t>*> responses[] = {{"chosenIds", &pair.chosen},
                                                                           {"rejectedIds", &pair.rejected}};
  for (auto& [name, ids] : responses) {
    STIC_CHECK_ARG(!ids->empty(), where, ".", name, ": expected at least one response token but found none");
    for (size_t t = 0; t < ids->size(); t++) {
      const int64_t id = (*ids)[t];
      STIC_CHECK_ARG(id != cfg.imageTokenId, where, ".", name, "[", t, "]: expected a text token but found the image token ", id,
                     " (images belong in the prompt)");
      STIC_CHECK_ARG(id >= 0 && id < cfg.decoder.vocabSize, where, ".", name, "[", t, "]: token id ", id,
                     " is outside the vocabulary [0, ", cfg.decoder.vocabSize, ")");
    }
  }
  return Status::ok();
}

Status LlavaTrainer::pairLogprobs(std::vector<RefLogps>& out, const ImageBatch& images, const std::vector<PairInput>& pairs,
                                  bool policy, train::GatherMode rejectedMode, bool trainedProjector) {
  const LlavaConfig& cfg = model_->config();
  STIC_RETURN_IF_ERROR(validateImageBatch(images, cfg));
  const TokenRows tokenRows = imageTokenRows(images, cfg);
  for (size_t i = 0; i < pairs.size(); i++) STIC_RETURN_IF_ERROR(validatePair(pairs[i], tokenRows, "pairs[" + std::to_string(i) + "]"));
  std::vector<PassGroup> groups = groupPairs(pairs, cfg, tokenRows, true);
  StepShape sizes;
  sizes.featureRows = images.crops * cfg.imageTokenCount;
  sizeGroups(sizes, groups);
  auto call = createCall(model_->ops(), callArena_, cfg, *params_, sizes);
  if (!call.isOk()) return call.status();
  TrainCall& c = call.value();
  STIC_RETURN_IF_ERROR(selectedRows(c, *model_, images));
  // One projector output: the trained one for the policy (or the reference when asked), else the original.
  const bool trained = params_->trainProjector() && (policy || trainedProjector);
  const ProjectorView view = trained ? projectorView(params_->projector()) : projectorView(model_->weights().projector);
  projectorForward(model_->ops(), c.featPolicy, unsaved(c.proj), view, cfg, sizes.featureRows);
  addNewlineRow(c.featPolicy, *model_, sizes.featureRows);
  LoraUse lora;
  if (policy) lora.params = params_.get();
  out.assign(pairs.size(), {});
  std::vector<float> sums;
  for (const PassGroup& g : groups) {
    STIC_RETURN_IF_ERROR(groupForward(c, *model_, g, c.featPolicy, lora, rejectedMode, false, sums));
    for (size_t i = 0; i < g.size(); i++) out[g.begin + i] = {sums[i], sums[g.size() + i]};
  }
  lastActivationBytes_ = c.bytes;
  return model_->ops().check();
}

Status LlavaTrainer::dpoStep(DpoStepResult& out, const ImageBatch& images, const std::vector<PairInput>& pairs,
                             const std::vector<std::optional<RefLogps>>& refs, const DpoStepOptions& opt) {
  const LlavaConfig& cfg = model_->config();
  const int64_t B = static_cast<int64_t>(pairs.size());
  STIC_CHECK_ARG(B > 0, "pairs: expected at least one preference pair but found none");
  STIC_CHECK_ARG(refs.size() == pairs.size(), "internal: ", refs.size(), " reference entries for ", B, " pairs");
  STIC_RETURN_IF_ERROR(validateImageBatch(images, cfg));
  const TokenRows tokenRows = imageTokenRows(images, cfg);
  for (int64_t i = 0; i < B; i++) STIC_RETURN_IF_ERROR(validatePair(pairs[i], tokenRows, "pairs[" + std::to_string(i) + "]"));
  bool needRef = false;
  for (const auto& r : refs) needRef = needRef || !r.has_value();

  std::vector<PassGroup> groups = groupPairs(pairs, cfg, tokenRows, opt.sharedPrefix);
  StepShape sizes;
  sizes.featureRows = images.crops * cfg.imageTokenCount;
  sizes.backward = true;
  sizes.checkpointed = opt.gradCheckpointing;
  // The reference reads the frozen projector; it differs from the policy's only when that one trains.
  sizes.refFeatures = needRef && params_->trainProjector() && !opt.refTrainedProjector;
  sizeGroups(sizes, groups);
  auto call = createCall(model_->ops(), callArena_, cfg, *params_, sizes);
  if (!call.isOk()) return call.status();
  TrainCall& c = call.value();
  STIC_RETURN_IF_ERROR(selectedRows(c, *model_, images));
  projectFeatures(c, *model_, *params_, sizes.featureRows, sizes.refFeatures);

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
      STIC_RETURN_IF_ERROR(groupForward(c, *model_, g, c.featRef, LoraUse{}, opt.rejectedMode, false, sums));
    }
    for (size_t i = 0; i < Bg; i++) {
      const size_t k = g.begin + i;
      out.refChosen[k] = refs[k] ? refs[k]->chosen : sums[i];
      out.refRejected[k] = refs[k] ? refs[k]->rejected : sums[Bg + i];
      out.chosenTokens[k] = static_cast<int64_t>(pairs[k].chosen.size());
      out.rejectedTokens[k] = static_cast<int64_t>(pairs[k].rejected.size());
    }
    STIC_RETURN_IF_ERROR(groupForward(c, *model_, g, c.featPolicy, policy, opt.rejectedMode, true, sums));
    for (size_t i = 0; i < Bg; i++) {
      out.policyChosen[g.begin + i] = sums[i];
      out.policyRejected[g.begin + i] = sums[Bg + i];
    }
    // The loss of this group's pairs as a share of the mean over all B pairs.
    train::DpoBatch batch{static_cast<int64_t>(Bg), &out.policyChosen[g.begin], &out.policyRejected[g.begin], &out.refChosen[g.begin],
                          &out.refRejected[g.begin], &out.chosenTokens[g.begin], static_cast<double>(B)};
    dseq.assign(2 * Bg, 0.0f);
    model_->ops().loss.dpo_loss(dseq.data(), dseq.data() + Bg, batch, opt.loss);
    for (float& d : dseq) d = static_cast<float>(d * opt.gradScale);
    const int64_t E = static_cast<int64_t>(g.entries.size());
    model_->ops().loss.sequence_grad_to_tokens(c.head.dlogp, dseq.data(), g.seq.data(), E);
    groupBackward(c, *model_, g.layout, g.entries, policy);
  }
  if (c.dfeat) projectorTrainBackward(c, *model_, *params_, sizes.featureRows);
  // Metrics over the whole call (the per-group calls above only produced gradients).
  std::vector<float> unused(2 * B);
  train::DpoBatch all{B, out.policyChosen.data(), out.policyRejected.data(), out.refChosen.data(), out.refRejected.data(),
                      out.chosenTokens.data(), 0};
  out.metrics = model_->ops().loss.dpo_loss(unused.data(), unused.data() + B, all, opt.loss);
  lastActivationBytes_ = c.bytes;
  return model_->ops().check();
}

Status LlavaTrainer::sftStep(double& loss, int64_t& tokens, const ImageBatch& images, const std::vector<SftItem>& items,
                             const SftStepOptions& opt) {
  const LlavaConfig& cfg = model_->config();
  STIC_CHECK_ARG(!items.empty(), "items: expected at least one SFT item but found none");
  STIC_RETURN_IF_ERROR(validateImageBatch(images, cfg));
  const TokenRows tokenRows = imageTokenRows(images, cfg);
  // Rows: each item's ids up to its last target (later tokens influence no target).
  std::vector<int64_t> lengths, lastTarget;
  tokens = 0;
  for (size_t i = 0; i < items.size(); i++) {
    const std::string where = "items[" + std::to_string(i) + "]";
    const SftItem& it = items[i];
    STIC_RETURN_IF_ERROR(model_->validate(it.seq, tokenRows, where));
    STIC_CHECK_ARG(it.mask.size() == it.seq.ids.size(), where, ".mask: expected ", it.seq.ids.size(),
                   " values (one per token) but found ", it.mask.size());
    STIC_CHECK_ARG(it.mask[0] == 0, where, ".mask[0]: the first token has no context to be predicted from, so it cannot be a target");
    int64_t last = -1;
    for (size_t t = 0; t < it.mask.size(); t++) {
      if (!it.mask[t]) continue;
      STIC_CHECK_ARG(it.seq.ids[t] != cfg.imageTokenId, where, ".mask[", t, "]: an image token cannot be a target");
      last = static_cast<int64_t>(t);
      tokens++;
    }
    STIC_CHECK_ARG(last > 0, where, ".mask: expected at least one target token but found none");
    lastTarget.push_back(last);
    lengths.push_back(last);
  }
  struct SftGroup {
    PassLayout layout;
    std::vector<HeadEntry> entries;
  };
  std::vector<SftGroup> groups;
  for (auto [b, e] : packGroups(lengths, kPassTokenBudget)) {
    SftGroup g;
    for (size_t i = b; i < e; i++) {
      const SftItem& it = items[i];
      std::vector<int64_t> ids(it.seq.ids.begin(), it.seq.ids.begin() + lastTarget[i]);
      const int64_t first = appendSequence(g.layout, ids, it.seq.images, cfg.imageTokenId, tokenRows);
      for (int64_t t = 1; t <= lastTarget[i]; t++) {
        if (it.mask[t]) g.entries.push_back({first + t - 1, it.seq.ids[t]});
      }
    }
    groups.push_back(std::move(g));
  }
  StepShape sizes;
  sizes.featureRows = images.crops * cfg.imageTokenCount;
  sizes.backward = true;
  sizes.checkpointed = opt.gradCheckpointing;
  sizeGroups(sizes, groups);
  auto call = createCall(model_->ops(), callArena_, cfg, *params_, sizes);
  if (!call.isOk()) return call.status();
  TrainCall& c = call.value();
  STIC_RETURN_IF_ERROR(selectedRows(c, *model_, images));
  projectFeatures(c, *model_, *params_, sizes.featureRows, false);
  const LoraUse policy{params_.get(), true, {params_->spec().seed, opt.step, opt.micro, 0, 0}};
  const double over = opt.meanOver > 0 ? opt.meanOver : static_cast<double>(tokens);
  loss = 0;
  for (const SftGroup& g : groups) {
    STIC_RETURN_IF_ERROR(passForward(c, *model_, g.layout, c.featPolicy, policy));
    const int64_t E = static_cast<int64_t>(g.entries.size());
    headForward(model_->ops(), c.head, c.x, g.entries, {{0, E, train::GatherMode::Label}}, model_->decoder(), cfg.decoder,
                true);
    loss += model_->ops().loss.sft_loss(c.head.dlogp, c.head.logp, c.head.targets, E, over);
    for (int64_t e = 0; e < E; e++) c.head.dlogp[e] = static_cast<float>(c.head.dlogp[e] * opt.gradScale);
    groupBackward(c, *model_, g.layout, g.entries, policy);
  }
  if (c.dfeat) projectorTrainBackward(c, *model_, *params_, sizes.featureRows);
  lastActivationBytes_ = c.bytes;
  return model_->ops().check();
}

}  // namespace stic::model
