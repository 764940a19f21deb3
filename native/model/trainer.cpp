// Trainer: the one step path of every spec, the DPO and SFT steps and pair scoring (see trainer.h).
// The optimizer step and merged weights are in trainer_update.cpp. Legend: see trainer.h; N crops.
#include "model/trainer.h"

#include <algorithm>

#include "model/decoder.h"
#include "model/projector.h"
#include "model/train_head.h"
#include "model/vision_tower.h"

namespace stic::model {

// What a step reads and where its gradients go, resolved once when the trainer is made (the
// model's weights and the store's buffers never move).
struct TrainView {
  const Ops* ops = nullptr;
  DecoderView decoder;                  // the weights every pass reads
  VisionWeights vision;                 // the tower's
  ProjectorView projector;              // the policy's projector
  ProjectorView refProjector;           // the frozen original (the reference's); adapters only
  const float* imageNewline = nullptr;  // (D) or null: a zero row
  const LoraSpec* lora = nullptr;       // the adapter whose activations a pass keeps, or null
  ProjectorGrads projectorGrads;        // all null: the projector is frozen
  bool projectorTrains = false;
  // full: every weight's gradient (the decoder's layers, embeddings, norm and lm_head; the tower's).
  const DecoderPtrs* decoderGrads = nullptr;
  const VisionPtrs* visionGrads = nullptr;
  HeadGrads headGrads;
  bool full() const { return decoderGrads != nullptr; }
};

namespace {

TrainView adapterView(const LlavaModel& m, const TrainableParams& p) {
  TrainView v;
  v.ops = &m.ops();
  v.decoder = m.decoder();
  v.vision = m.weights().vision;
  v.refProjector = projectorView(m.weights().projector);
  v.projectorTrains = p.trainProjector();
  v.projector = v.projectorTrains ? projectorView(p.projector()) : v.refProjector;
  if (v.projectorTrains) v.projectorGrads = projectorGrads(p.projector());
  const Tensor& nl = m.weights().imageNewline;
  v.imageNewline = nl.defined() ? nl.data<float>() : nullptr;
  v.lora = &p.spec();
  return v;
}

TrainView fullView(const LlavaConfig& cfg, const TrainableParams& p) {
  TrainView v;
  v.ops = &p.store().ops();
  const ModelPtrs& w = p.weights();
  const ModelPtrs& g = p.grads();
  v.decoder = decoderView(w.decoder);
  v.vision = visionWeightsOf(w.vision, cfg.vision);
  v.projector = v.refProjector = projectorView(w.projector);
  v.projectorTrains = true;
  v.projectorGrads = projectorGrads(g.projector);
  v.imageNewline = w.imageNewline;  // read, not trained: the images of a full step are single tiles
  v.decoderGrads = &g.decoder;
  v.visionGrads = &g.vision;
  v.headGrads = {g.decoder.lmHead, g.decoder.norm};
  return v;
}

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

// SFT items in passes under the row budget: each item's ids up to its last target (later tokens
// influence no target); an item without a target takes no rows.
struct SftGroup {
  PassLayout layout;
  std::vector<HeadEntry> entries;
};

std::vector<SftGroup> groupItems(const std::vector<SftItem>& items, const LlavaConfig& cfg, const TokenRows& tokenRows) {
  std::vector<size_t> which;
  std::vector<int64_t> lengths;
  for (size_t i = 0; i < items.size(); i++) {
    int64_t last = 0;
    for (size_t t = 0; t < items[i].mask.size(); t++) {
      if (items[i].mask[t]) last = static_cast<int64_t>(t);
    }
    if (last == 0) continue;
    which.push_back(i);
    lengths.push_back(last);
  }
  std::vector<SftGroup> groups;
  for (auto [b, e] : packGroups(lengths, kPassTokenBudget)) {
    SftGroup g;
    for (size_t k = b; k < e; k++) {
      const SftItem& it = items[which[k]];
      std::vector<int64_t> ids(it.seq.ids.begin(), it.seq.ids.begin() + lengths[k]);
      const int64_t first = appendSequence(g.layout, ids, it.seq.images, cfg.imageTokenId, tokenRows);
      for (int64_t t = 1; t <= lengths[k]; t++) {
        if (it.mask[t]) g.entries.push_back({first + t - 1, it.seq.ids[t]});
      }
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
  bool towerKept = false;       // the tower trains: its activations are kept (full, with a backward)
  VisionActs tower;
  ProjectorActs proj;           // sel (M, Dv), h1 and a1 (M, D) saved; dh1 (M, D) when the projector trains, dsel (M, Dv) when the tower does
  float* featPolicy = nullptr;  // (M + 1, D): the crops' features, then image_newline
  float* featRef = nullptr;     // (M + 1, D), or featPolicy when they coincide
  float* dfeat = nullptr;       // (M + 1, D) d loss / d policy features (the newline row's is unused: it is frozen)
  float* x = nullptr;           // (T, D) residual stream
  float* dx = nullptr;          // (T, D) its gradient
  int64_t* embedIds = nullptr;  // (T) the rows' token ids for the embeddings' backward (full)
  DecoderActs act;
  HeadBuffers head;
};

template <typename Group>
void sizeGroups(StepShape& s, const std::vector<Group>& groups, bool stagedOnly) {
  for (const Group& g : groups) {
    s.rows = std::max(s.rows, g.layout.rows());
    s.entries = std::max<int64_t>(s.entries, static_cast<int64_t>(g.entries.size()));
    for (const AttnSegment& seg : g.layout.segments) {
      if (!stagedOnly || !seg.contiguous()) s.keys = std::max(s.keys, seg.keyLen());
    }
  }
}

// Adapters plan at least one staged key (their planner's shapes, lib/train/memory_plan.ts); a
// full-parameter call plans exactly the keys its segments stage.
DecoderShape decoderShape(const LlavaConfig& cfg, const TrainView& v, const StepShape& s) {
  return {std::max<int64_t>(s.rows, 1), v.full() ? s.keys : std::max<int64_t>(s.keys, 1), s.backward ? cfg.decoder.numLayers : 1,
          true, s.backward, s.backward && s.checkpointed};
}

bool towerTrains(const TrainView& v, const StepShape& s) { return v.full() && s.backward; }

// The call's own buffers (TrainCall's fields but the tower's, the decoder's and the head's).
void carveCallBuffers(Carver& c, TrainCall& t, const LlavaConfig& cfg, const TrainView& v, const StepShape& s) {
  const int64_t M = std::max<int64_t>(s.featureRows, 1), T = std::max<int64_t>(s.rows, 1), D = cfg.decoder.hiddenSize,
                Dv = cfg.vision.hiddenSize;
  const bool trainProj = v.projectorTrains && s.backward;
  c.f32(&t.proj.sel, {M, Dv}, "training step buffers");
  c.f32(&t.featPolicy, {M + 1, D}, "training step buffers");
  if (s.refFeatures) c.f32(&t.featRef, {M + 1, D}, "training step buffers");
  c.f32(&t.proj.h1, {M, D}, "training step buffers");
  c.f32(&t.proj.a1, {M, D}, "training step buffers");
  if (trainProj) c.f32(&t.dfeat, {M + 1, D}, "training step buffers"), c.f32(&t.proj.dh1, {M, D}, "training step buffers");
  if (towerTrains(v, s)) c.f32(&t.proj.dsel, {M, Dv}, "training step buffers");
  c.f32(&t.x, {T, D}, "training step buffers");
  if (s.backward) c.f32(&t.dx, {T, D}, "training step buffers");
  if (v.full() && s.backward) c.i64(&t.embedIds, {T}, "embedding ids");
}

// The crops of a call (the tower's batch) from its feature rows.
int64_t cropsOf(const LlavaConfig& cfg, const StepShape& s) { return s.featureRows / std::max<int64_t>(cfg.imageTokenCount, 1); }

// What a call's arena holds: `saved` what the forward keeps for the backward, `scratch` the rest.
void planCallArenas(ArenaPlan& saved, ArenaPlan& scratch, const LlavaConfig& cfg, const TrainView& v, const StepShape& s) {
  TrainCall unused;
  Carver scratchPlan = Carver::planning(scratch), savedPlan = Carver::planning(saved);
  carveCallBuffers(scratchPlan, unused, cfg, v, s);
  if (towerTrains(v, s)) planVisionActs(scratch, cfg.vision, cropsOf(cfg, s), cfg.vision.featureIndex(), VisionPass::Backward);
  carveDecoderActs(savedPlan, scratchPlan, unused.act, cfg.decoder, v.lora, decoderShape(cfg, v, s));
  planHead(*v.ops, scratch, cfg.decoder, s.entries, v.full() && s.backward);
}

StepMemory planCall(const LlavaConfig& cfg, const TrainView& v, const StepShape& s) {
  ArenaPlan saved, scratch;
  planCallArenas(saved, scratch, cfg, v, s);
  return {saved.bytes(), scratch.bytes()};
}

Result<TrainCall> createCall(std::unique_ptr<Arena>& arena, const LlavaConfig& cfg, const TrainView& v, const StepShape& s) {
  const int64_t M = std::max<int64_t>(s.featureRows, 1), D = cfg.decoder.hiddenSize;
  ArenaPlan plan, scratch;
  planCallArenas(plan, scratch, cfg, v, s);
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
  Carver carver = Carver::carving(*c.arena);
  carveCallBuffers(carver, c, cfg, v, s);
  STIC_RETURN_IF_ERROR(carver.status());
  if (!c.featRef) c.featRef = c.featPolicy;
  if (towerTrains(v, s)) {
    auto tower = carveVisionActs(*c.arena, cfg.vision, cropsOf(cfg, s), cfg.vision.featureIndex(), VisionPass::Backward);
    if (!tower.isOk()) return tower.status();
    c.tower = tower.take();
    c.towerKept = true;
  }
  auto act = allocDecoderActs(*c.arena, cfg.decoder, v.lora, decoderShape(cfg, v, s));
  if (!act.isOk()) return act.status();
  c.act = act.take();
  auto head = allocHead(*v.ops, *c.arena, cfg.decoder, s.entries, v.full() && s.backward);
  if (!head.isOk()) return head.status();
  c.head = head.take();
  if (c.dfeat) v.ops->memory.fill(c.dfeat, 0.0f, (M + 1) * D);
  return c;
}

// Writes image_newline after the M crop rows of a feature buffer (image_layout.h).
void addNewlineRow(float* features, const TrainView& v, const LlavaConfig& cfg, int64_t M) {
  ImageBatch rows;
  rows.crops = M / std::max<int64_t>(cfg.imageTokenCount, 1);
  fillNewlineRow(*v.ops, features, rows, cfg, v.imageNewline);
}

// The call's projector buffers with the activation applied in place in h1 (a pass no backward reads).
ProjectorActs unsaved(const ProjectorActs& a) {
  ProjectorActs u = a;
  u.a1 = u.h1;
  return u;
}

// c.proj.sel: the selected tower rows of the call's crops: through a training tower keeping its
// activations, else through the frozen tower a chunk at a time (no gradient).
Status selectedRows(TrainCall& c, const TrainView& v, const LlavaConfig& cfg, const ImageBatch& images) {
  if (c.towerKept) {
    if (images.crops == 0) return Status::ok();
    visionForward(*v.ops, c.tower, images.pixels, v.vision, cfg.vision);
    selectFeatureRows(*v.ops, c.proj.sel, c.tower.state(), cfg.vision, images.crops);
    return Status::ok();
  }
  return visionSelectedRows(*v.ops, c.proj.sel, v.vision, cfg.vision, images.pixels, images.crops);
}

// After the last group: from c.dfeat into the projector's gradients and, when the tower trains,
// through the row selection into the tower's.
Status imagesBackward(TrainCall& c, const TrainView& v, const LlavaConfig& cfg, const ImageBatch& images) {
  const int64_t M = images.crops * cfg.imageTokenCount;
  if (!c.dfeat || M == 0) return Status::ok();
  projectorBackward(*v.ops, c.proj, v.projectorGrads, c.dfeat, v.projector, cfg, M);
  if (!c.proj.dsel) return Status::ok();
  scatterFeatureRows(*v.ops, c.tower.dx, c.proj.dsel, cfg.vision, images.crops);
  return visionBackward(*v.ops, c.tower, images.pixels, v.vision, *v.visionGrads, cfg.vision);
}

// Projects the call's images: the policy's features (saving the projector's activations when it
// trains) and, when the reference needs a different projector, the reference's.
void projectFeatures(TrainCall& c, const TrainView& v, const LlavaConfig& cfg, int64_t M, bool refSeparate) {
  // The reference first: it borrows h1 as scratch (its activation in place), which the policy's pass then keeps.
  if (refSeparate && c.featRef != c.featPolicy) {
    projectorForward(*v.ops, c.featRef, unsaved(c.proj), v.refProjector, cfg, M);
    addNewlineRow(c.featRef, v, cfg, M);
  }
  projectorForward(*v.ops, c.featPolicy, c.proj, v.projector, cfg, M);
  addNewlineRow(c.featPolicy, v, cfg, M);
}

// c.x (T, D) = the decoder's output for the layout's embeddings (image rows from features).
Status passForward(TrainCall& c, const TrainView& v, const LlavaConfig& cfg, const PassLayout& layout, const float* features,
                   const LoraUse& lora) {
  embedPass(*v.ops, c.x, layout, features, v.decoder.embed, cfg.decoder.hiddenSize);
  return decoderForward(*v.ops, c.x, layout, v.decoder, cfg.decoder, lora, nullptr, c.act);
}

// Forward of a group: logps of every entry into c.head.logp and per-sequence sums (2 Bg).
Status groupForward(TrainCall& c, const TrainView& v, const LlavaConfig& cfg, const PassGroup& g, const float* features,
                    const LoraUse& lora, train::GatherMode rejectedMode, bool wantJac, std::vector<float>& sums) {
  STIC_RETURN_IF_ERROR(passForward(c, v, cfg, g.layout, features, lora));
  const int64_t E = static_cast<int64_t>(g.entries.size());
  headForward(*v.ops, c.head, c.x, g.entries, {{0, g.firstRejected, train::GatherMode::Label}, {g.firstRejected, E, rejectedMode}},
              v.decoder, cfg.decoder, wantJac);
  sums.assign(2 * g.size(), 0.0f);
  v.ops->loss.sum_by_sequence(sums.data(), c.head.logp, g.seq.data(), E, static_cast<int64_t>(sums.size()));
  return Status::ok();
}

// The embeddings' backward (full): dx's image rows were taken by the features, so they are zeroed
// and their ids mapped to 0 before the text rows are scattered into the table's gradient.
void embeddingBackward(TrainCall& c, const TrainView& v, const PassLayout& layout, int64_t D) {
  const int64_t T = layout.rows();
  std::vector<int64_t> ids(T);
  for (int64_t t = 0; t < T; t++) {
    ids[t] = layout.featureRow[t] >= 0 ? 0 : layout.ids[t];
    if (layout.featureRow[t] >= 0) v.ops->memory.fill(c.dx + t * D, 0.0f, D);
  }
  v.ops->memory.copy(c.embedIds, ids.data(), T * sizeof(int64_t));  // the host's list into the call's buffer
  v.ops->embedding.embedding_backward(v.decoderGrads->embed, c.dx, c.embedIds, T, D);
}

// Backward of a group from c.head.dlogp: into whatever trains (LoRA; with `full` the head's and
// every decoder weight and the embeddings) and, when the projector trains, into c.dfeat at the image rows.
void groupBackward(TrainCall& c, const TrainView& v, const LlavaConfig& cfg, const PassLayout& layout,
                   const std::vector<HeadEntry>& entries, const LoraUse& lora) {
  const int64_t T = layout.rows(), D = cfg.decoder.hiddenSize;
  headBackward(*v.ops, c.dx, T, c.head, entries, v.decoder, cfg.decoder, v.full() ? &v.headGrads : nullptr);
  decoderBackward(*v.ops, c.dx, layout, v.decoder, cfg.decoder, lora, v.decoderGrads, c.act);
  if (c.dfeat) {
    for (int64_t t = 0; t < T; t++) {  // in row order: a fixed summation order
      if (layout.featureRow[t] >= 0) v.ops->elementwise.add_inplace(c.dfeat + layout.featureRow[t] * D, c.dx + t * D, D);
    }
  }
  if (v.full()) embeddingBackward(c, v, layout, D);
}

}  // namespace

Trainer::Trainer() = default;
Trainer::~Trainer() = default;

Result<std::unique_ptr<Trainer>> Trainer::create(std::shared_ptr<const LlavaModel> model, const TrainSpec& spec) {
  STIC_CHECK_ARG(!spec.full, "internal: a full-parameter trainer is made by createFull, not over a model");
  auto params = TrainableParams::create(*model, spec.lora, spec.projector);
  if (!params.isOk()) return params.status();
  auto t = std::unique_ptr<Trainer>(new Trainer());
  t->cfg_ = model->config();
  t->spec_ = spec;
  t->params_ = params.take();
  t->view_ = std::make_unique<TrainView>(adapterView(*model, *t->params_));
  t->model_ = std::move(model);
  return t;
}

Result<std::unique_ptr<Trainer>> Trainer::createFull(const LlavaConfig& cfg) {
  auto params = TrainableParams::createFull(cfg);
  if (!params.isOk()) return params.status().withContext("full-parameter training");
  STIC_RETURN_IF_ERROR(requireOps(params.value()->store().ops(), "the trainer"));
  auto t = std::unique_ptr<Trainer>(new Trainer());
  t->cfg_ = cfg;
  t->spec_.full = true;
  t->params_ = params.take();
  t->view_ = std::make_unique<TrainView>(fullView(cfg, *t->params_));
  return t;
}

Status Trainer::requireAdapters(const char* method) const {
  STIC_CHECK_ARG(!spec_.full, method, ": a full-parameter trainer has no frozen model to score a reference or merge into (adapters only)");
  return Status::ok();
}

StepMemory Trainer::planStep(const StepShape& shape) const { return planCall(cfg_, *view_, shape); }

Status Trainer::validatePair(const PairInput& pair, const TokenRows& tokenRows, const std::string& where) const {
  const LlavaConfig& cfg = cfg_;
  STIC_RETURN_IF_ERROR(validateSequence(cfg, Sequence{pair.prompt, pair.images}, tokenRows, where + ".promptIds"));
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

Status Trainer::pairLogprobs(std::vector<RefLogps>& out, const ImageBatch& images, const std::vector<PairInput>& pairs, bool policy,
                             train::GatherMode rejectedMode, bool trainedProjector) {
  STIC_RETURN_IF_ERROR(requireAdapters("pairLogprobs"));
  const LlavaConfig& cfg = cfg_;
  const TrainView& v = *view_;
  STIC_RETURN_IF_ERROR(validateImageBatch(images, cfg));
  const TokenRows tokenRows = imageTokenRows(images, cfg);
  for (size_t i = 0; i < pairs.size(); i++) STIC_RETURN_IF_ERROR(validatePair(pairs[i], tokenRows, "pairs[" + std::to_string(i) + "]"));
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
  projectorForward(*v.ops, c.featPolicy, unsaved(c.proj), trained ? v.projector : v.refProjector, cfg, sizes.featureRows);
  addNewlineRow(c.featPolicy, v, cfg, sizes.featureRows);
  LoraUse lora;
  if (policy) lora.params = params_.get();
  out.assign(pairs.size(), {});
  std::vector<float> sums;
  for (const PassGroup& g : groups) {
    STIC_RETURN_IF_ERROR(groupForward(c, v, cfg, g, c.featPolicy, lora, rejectedMode, false, sums));
    for (size_t i = 0; i < g.size(); i++) out[g.begin + i] = {sums[i], sums[g.size() + i]};
  }
  lastActivationBytes_ = c.bytes;
  return v.ops->check();
}

Status Trainer::dpoStep(DpoStepResult& out, const ImageBatch& images, const std::vector<PairInput>& pairs,
                        const std::vector<std::optional<RefLogps>>& refs, const DpoStepOptions& opt) {
  STIC_RETURN_IF_ERROR(requireAdapters("dpoStep"));
  const LlavaConfig& cfg = cfg_;
  const TrainView& v = *view_;
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
    v.ops->loss.dpo_loss(dseq.data(), dseq.data() + Bg, batch, opt.loss);
    for (float& d : dseq) d = static_cast<float>(d * opt.gradScale);
    const int64_t E = static_cast<int64_t>(g.entries.size());
    v.ops->loss.sequence_grad_to_tokens(c.head.dlogp, dseq.data(), g.seq.data(), E);
    groupBackward(c, v, cfg, g.layout, g.entries, policy);
  }
  STIC_RETURN_IF_ERROR(imagesBackward(c, v, cfg, images));
  // Metrics over the whole call (the per-group calls above only produced gradients).
  std::vector<float> unused(2 * B);
  train::DpoBatch all{B, out.policyChosen.data(), out.policyRejected.data(), out.refChosen.data(), out.refRejected.data(),
                      out.chosenTokens.data(), 0};
  out.metrics = v.ops->loss.dpo_loss(unused.data(), unused.data() + B, all, opt.loss);
  lastActivationBytes_ = c.bytes;
  return v.ops->check();
}

Status Trainer::sftStep(SftStepResult& out, const ImageBatch& images, const std::vector<SftItem>& items, const SftStepOptions& opt) {
  const LlavaConfig& cfg = cfg_;
  const TrainView& v = *view_;
  STIC_RETURN_IF_ERROR(validateImageBatch(images, cfg));
  const TokenRows tokenRows = imageTokenRows(images, cfg);
  out.tokens = 0;
  if (opt.rules == ItemRules::Pretrainer) {
    STIC_CHECK_ARG(!items.empty(), "items: expected at least one item but received none");
    for (size_t i = 0; i < items.size(); i++) {
      STIC_RETURN_IF_ERROR(validatePretrainItem(items[i], cfg, images.crops, "items[" + std::to_string(i) + "]"));
    }
  } else {
    STIC_CHECK_ARG(!items.empty(), "items: expected at least one SFT item but found none");
    for (size_t i = 0; i < items.size(); i++) {
      const std::string where = "items[" + std::to_string(i) + "]";
      const SftItem& it = items[i];
      STIC_RETURN_IF_ERROR(validateSequence(cfg, it.seq, tokenRows, where));
      STIC_CHECK_ARG(it.mask.size() == it.seq.ids.size(), where, ".mask: expected ", it.seq.ids.size(),
                     " values (one per token) but found ", it.mask.size());
      STIC_CHECK_ARG(it.mask[0] == 0, where, ".mask[0]: the first token has no context to be predicted from, so it cannot be a target");
      int64_t targets = 0;
      for (size_t t = 0; t < it.mask.size(); t++) {
        if (!it.mask[t]) continue;
        STIC_CHECK_ARG(it.seq.ids[t] != cfg.imageTokenId, where, ".mask[", t, "]: an image token cannot be a target");
        targets++;
      }
      STIC_CHECK_ARG(targets > 0, where, ".mask: expected at least one target token but found none");
    }
  }
  for (const SftItem& it : items) {
    for (uint8_t m : it.mask) out.tokens += m ? 1 : 0;
  }
  const std::vector<SftGroup> groups = groupItems(items, cfg, tokenRows);
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
    projectorForward(*v.ops, c.featPolicy, unsaved(c.proj), v.projector, cfg, sizes.featureRows);
    addNewlineRow(c.featPolicy, v, cfg, sizes.featureRows);
  }
  const LoraUse lora = v.full() ? LoraUse{} : LoraUse{params_.get(), opt.backward, {params_->spec().seed, opt.step, opt.micro, 0, 0}};
  const double over = opt.meanOver > 0 ? opt.meanOver : static_cast<double>(out.tokens);
  out.loss = 0;
  for (const SftGroup& g : groups) {
    STIC_RETURN_IF_ERROR(passForward(c, v, cfg, g.layout, c.featPolicy, lora));
    const int64_t E = static_cast<int64_t>(g.entries.size());
    headForward(*v.ops, c.head, c.x, g.entries, {{0, E, train::GatherMode::Label}}, v.decoder, cfg.decoder, opt.backward && !v.full());
    out.loss += v.ops->loss.sft_loss(c.head.dlogp, c.head.logp, c.head.targets, E, over);
    if (!opt.backward) continue;
    for (int64_t e = 0; e < E; e++) c.head.dlogp[e] = static_cast<float>(c.head.dlogp[e] * opt.gradScale);
    groupBackward(c, v, cfg, g.layout, g.entries, lora);
  }
  if (opt.backward) STIC_RETURN_IF_ERROR(imagesBackward(c, v, cfg, images));
  lastActivationBytes_ = c.bytes;
  return v.ops->check();
}

Status validatePretrainItem(const SftItem& item, const LlavaConfig& cfg, int64_t N, const std::string& where) {
  const std::vector<int64_t>& ids = item.seq.ids;
  const int64_t V = cfg.decoder.vocabSize, Ti = cfg.imageTokenCount, T = static_cast<int64_t>(ids.size());
  STIC_CHECK_ARG(T >= 2, where, ".ids: expected at least 2 token ids (a context and a target) but found ", T);
  STIC_CHECK_ARG(static_cast<int64_t>(item.mask.size()) == T, where, ".mask: expected one flag per token id (", T, ") but found ",
                 item.mask.size());
  STIC_CHECK_ARG(item.mask[0] == 0, where, ".mask[0]: the first token has no context to be predicted from, so it cannot be a target");
  int64_t imageTokens = 0;
  for (int64_t t = 0; t < T; t++) {
    if (ids[t] == cfg.imageTokenId) {
      imageTokens++;
      STIC_CHECK_ARG(!item.mask[t], where, ".mask[", t, "]: token ", t, " is an image token, which cannot be a target");
      continue;
    }
    STIC_CHECK_ARG(ids[t] >= 0 && ids[t] < V, where, ".ids[", t, "]: token id ", ids[t], " is outside the vocabulary [0, ", V, ")");
  }
  const std::vector<int64_t>& images = item.seq.images;
  const int64_t nImages = static_cast<int64_t>(images.size());
  STIC_CHECK_ARG(imageTokens == nImages * Ti, where, ": expected ", nImages * Ti, " image tokens (id ", cfg.imageTokenId, ") for ",
                 nImages, " image(s) x ", Ti, " but found ", imageTokens);
  for (size_t k = 0; k < images.size(); k++) {
    STIC_CHECK_ARG(images[k] >= 0 && images[k] < N, where, ".images[", k, "]: image index ", images[k],
                   " is out of range for a batch of ", N, " image(s)");
  }
  return Status::ok();
}

}  // namespace stic::model
