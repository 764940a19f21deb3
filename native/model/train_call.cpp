// One call of the trainer: views, activations, images, passes (see train_call.h).
// Legend: see train_call.h.
#include "model/train_call.h"

#include <limits>

#include "core/carver.h"

namespace stic::model {
namespace {

// Adapters plan at least one staged key (their planner's shapes, lib/train/memory_plan.ts); a
// full-parameter call plans exactly the keys its segments stage.
DecoderShape decoderShape(const LlavaConfig& cfg, const TrainView& v, const StepShape& s) {
  return {std::max<int64_t>(s.rows, 1), v.full() ? s.keys : std::max<int64_t>(s.keys, 1), s.backward ? cfg.decoder.numLayers : 1,
          true, s.backward, s.backward && s.checkpointed};
}

// A full call keeps the tower's activations (with a backward, its scratch too); an adapters' call
// runs the frozen tower in chunks of its own.
bool towerKept(const TrainView& v) { return v.full(); }
VisionPass towerPass(const StepShape& s) { return s.backward ? VisionPass::Backward : VisionPass::Save; }

// The call's own buffers (TrainCall's fields but the tower's, the decoder's and the head's).
void carveCallBuffers(Carver& c, TrainCall& t, const LlavaConfig& cfg, const TrainView& v, const StepShape& s) {
  const int64_t M = std::max<int64_t>(s.featureRows, 1), T = std::max<int64_t>(s.rows, 1), D = cfg.decoder.hiddenSize,
                Dv = cfg.vision.hiddenSize;
  const bool trainProj = v.projectorTrains && s.backward;
  c.f32(&t.proj.sel, {M, Dv}, "training step buffers");
  const int64_t F = M + v.newlineRows;
  c.f32(&t.featPolicy, {F, D}, "training step buffers");
  if (s.refFeatures) c.f32(&t.featRef, {F, D}, "training step buffers");
  c.f32(&t.proj.h1, {M, D}, "training step buffers");
  c.f32(&t.proj.a1, {M, D}, "training step buffers");
  if (trainProj) c.f32(&t.dfeat, {F, D}, "training step buffers"), c.f32(&t.proj.dh1, {M, D}, "training step buffers");
  if (towerKept(v) && s.backward) c.f32(&t.proj.dsel, {M, Dv}, "training step buffers");
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
  if (towerKept(v)) planVisionActs(scratch, cfg.vision, cropsOf(cfg, s), cfg.vision.featureIndex(), towerPass(s));
  carveDecoderActs(savedPlan, scratchPlan, unused.act, cfg.decoder, v.lora, decoderShape(cfg, v, s));
  planHead(v.ops(), scratch, cfg.decoder, s.entries, v.full() && s.backward);
}

// Writes image_newline after the M crop rows of a feature buffer (image_layout.h), where it has one.
void addNewlineRow(float* features, const TrainView& v, const LlavaConfig& cfg, int64_t M) {
  if (v.newlineRows == 0) return;
  ImageBatch rows;
  rows.crops = M / std::max<int64_t>(cfg.imageTokenCount, 1);
  fillNewlineRow(v.ops(), features, rows, cfg, v.imageNewline);
}

// The call's projector buffers with the activation applied in place in h1 (a pass no backward reads).
ProjectorActs unsaved(const ProjectorActs& a) {
  ProjectorActs u = a;
  u.a1 = u.h1;
  return u;
}

// The embeddings' backward (full): dx's image rows were taken by the features, so they are zeroed
// and their ids mapped to 0 before the text rows are scattered into the table's gradient.
void embeddingBackward(TrainCall& c, const TrainView& v, const PassLayout& layout, int64_t D) {
  const int64_t T = layout.rows();
  std::vector<int64_t> ids(T);
  for (int64_t t = 0; t < T; t++) {
    ids[t] = layout.featureRow[t] >= 0 ? 0 : layout.ids[t];
    if (layout.featureRow[t] >= 0) v.ops().memory.fill(c.dx + t * D, 0.0f, D);
  }
  v.ops().memory.copy(c.embedIds, ids.data(), T * sizeof(int64_t));  // the host's list into the call's buffer
  v.ops().embedding.embedding_backward(v.decoderGrads->embed, c.dx, c.embedIds, T, D);
}

}  // namespace

TrainView adapterView(const LlavaModel& m, const TrainableParams& p) {
  TrainView v;
  v.backend = &m.backend();
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
  v.backend = &p.store().backend();
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
  v.passRows = std::numeric_limits<int64_t>::max();
  v.newlineRows = 0;
  return v;
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
    auto created = Arena::create(*v.backend, Lifetime::Activations, plan);
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
  if (towerKept(v)) {
    auto tower = carveVisionActs(*c.arena, cfg.vision, cropsOf(cfg, s), cfg.vision.featureIndex(), towerPass(s));
    if (!tower.isOk()) return tower.status();
    c.tower = tower.take();
    c.towerKept = true;
  }
  auto act = allocDecoderActs(*c.arena, cfg.decoder, v.lora, decoderShape(cfg, v, s));
  if (!act.isOk()) return act.status();
  c.act = act.take();
  auto head = allocHead(v.ops(), *c.arena, cfg.decoder, s.entries, v.full() && s.backward);
  if (!head.isOk()) return head.status();
  c.head = head.take();
  if (c.dfeat) v.ops().memory.fill(c.dfeat, 0.0f, (M + v.newlineRows) * D);
  return c;
}

Status selectedRows(TrainCall& c, const TrainView& v, const LlavaConfig& cfg, const ImageBatch& images) {
  if (c.towerKept) {
    if (images.crops == 0) return Status::ok();
    visionForward(v.ops(), c.tower, images.pixels, v.vision, cfg.vision);
    selectFeatureRows(v.ops(), c.proj.sel, c.tower.state(), cfg.vision, images.crops);
    return Status::ok();
  }
  return visionSelectedRows(*v.backend, c.proj.sel, v.vision, cfg.vision, images.pixels, images.crops);
}

Status imagesBackward(TrainCall& c, const TrainView& v, const LlavaConfig& cfg, const ImageBatch& images) {
  const int64_t M = images.crops * cfg.imageTokenCount;
  if (!c.dfeat || M == 0) return Status::ok();
  projectorBackward(v.ops(), c.proj, v.projectorGrads, c.dfeat, v.projector, cfg, M);
  if (!c.proj.dsel) return Status::ok();
  scatterFeatureRows(v.ops(), c.tower.dx, c.proj.dsel, cfg.vision, images.crops);
  return visionBackward(v.ops(), c.tower, images.pixels, v.vision, *v.visionGrads, cfg.vision);
}

void projectFeatures(TrainCall& c, const TrainView& v, const LlavaConfig& cfg, int64_t M, bool refSeparate) {
  // The reference first: it borrows h1 as scratch (its activation in place), which the policy's pass then keeps.
  if (refSeparate && c.featRef != c.featPolicy) {
    projectorForward(v.ops(), c.featRef, unsaved(c.proj), v.refProjector, cfg, M);
    addNewlineRow(c.featRef, v, cfg, M);
  }
  projectorForward(v.ops(), c.featPolicy, c.proj, v.projector, cfg, M);
  addNewlineRow(c.featPolicy, v, cfg, M);
}

Status passForward(TrainCall& c, const TrainView& v, const LlavaConfig& cfg, const PassLayout& layout, const float* features,
                   const LoraUse& lora) {
  embedPass(v.ops(), c.x, layout, features, v.decoder.embed, cfg.decoder.hiddenSize);
  return decoderForward(v.ops(), c.x, layout, v.decoder, cfg.decoder, lora, nullptr, c.act);
}

void projectOnly(TrainCall& c, const TrainView& v, const LlavaConfig& cfg, int64_t M, const ProjectorView& w) {
  projectorForward(v.ops(), c.featPolicy, unsaved(c.proj), w, cfg, M);
  addNewlineRow(c.featPolicy, v, cfg, M);
}

void passBackward(TrainCall& c, const TrainView& v, const LlavaConfig& cfg, const PassLayout& layout,
                  const std::vector<HeadEntry>& entries, const LoraUse& lora) {
  const int64_t T = layout.rows(), D = cfg.decoder.hiddenSize;
  headBackward(v.ops(), c.dx, T, c.head, entries, v.decoder, cfg.decoder, v.full() ? &v.headGrads : nullptr);
  decoderBackward(v.ops(), c.dx, layout, v.decoder, cfg.decoder, lora, v.decoderGrads, c.act);
  if (c.dfeat) {
    for (int64_t t = 0; t < T; t++) {  // in row order: a fixed summation order
      if (layout.featureRow[t] >= 0) v.ops().elementwise.add_inplace(c.dfeat + layout.featureRow[t] * D, c.dx + t * D, D);
    }
  }
  if (v.full()) embeddingBackward(c, v, layout, D);
}

}  // namespace stic::model
