#include "model/call_buffers.h"

#include <algorithm>

namespace stic::model {

namespace {

// Every buffer of a call, from this one list (planned, then carved from the arena the plan sized).
void carveCall(Carver& c, CallBuffers& b, const LlavaConfig& cfg, int64_t featureRows, int64_t R, int64_t C) {
  const int64_t D = cfg.decoder.hiddenSize, V = cfg.decoder.vocabSize;
  c.f32(&b.features, {featureRows, D}, "image features");
  c.f32(&b.x, {R, D}, "residual stream");
  c.f32(&b.logits, {C, V}, "logits");
  c.f32(&b.logitScratch, {2 * C, D}, "logit scratch");
  c.f32(&b.logp, {C}, "log-probs");
  const DecoderShape inference{R, 0, 1, false, false, false};  // one working set, nothing kept, nothing staged
  carveDecoderActs(c, c, b.dec, cfg.decoder, nullptr, inference);
}

}  // namespace

Result<CallBuffers> CallBuffers::create(Backend& backend, const LlavaConfig& cfg, int64_t imageRows, int64_t maxRows,
                                        int64_t logitRows) {
  const int64_t C = std::max<int64_t>(logitRows, 1), featureRows = std::max<int64_t>(imageRows, 1), R = std::max<int64_t>(maxRows, 1);
  CallBuffers b;
  ArenaPlan plan;
  Carver planning = Carver::planning(plan);
  carveCall(planning, b, cfg, featureRows, R, C);
  auto arena = Arena::create(backend, Lifetime::Activations, plan);
  if (!arena.isOk()) return arena.status().withContext("activations");
  b.arena = arena.take();
  Carver carving = Carver::carving(*b.arena);
  carveCall(carving, b, cfg, featureRows, R, C);
  STIC_RETURN_IF_ERROR(carving.status());
  return b;
}

}  // namespace stic::model
