#include "model/call_buffers.h"

#include <algorithm>

namespace stic::model {

Result<CallBuffers> CallBuffers::create(const LlavaConfig& cfg, int64_t imageRows, int64_t maxRows, int64_t logitRows) {
  const int64_t D = cfg.decoder.hiddenSize, V = cfg.decoder.vocabSize, C = std::max<int64_t>(logitRows, 1);
  const int64_t featureRows = std::max<int64_t>(imageRows, 1), R = std::max<int64_t>(maxRows, 1);
  ArenaPlan plan;
  plan.add(DType::F32, {featureRows, D});
  plan.add(DType::F32, {R, D});
  planDecoderBuffers(plan, cfg.decoder, R);
  plan.add(DType::F32, {C, V});
  plan.add(DType::F32, {2 * C, D});
  plan.add(DType::F32, {C});
  auto arena = Arena::create(cpuBackend(), Lifetime::Activations, plan.bytes());
  if (!arena.isOk()) return arena.status().withContext("activations");
  CallBuffers b;
  b.arena = arena.take();
  Arena& a = *b.arena;
  float** slots[] = {&b.features, &b.x, &b.logits, &b.logitScratch, &b.logp};
  const Shape shapes[] = {{featureRows, D}, {R, D}, {C, V}, {2 * C, D}, {C}};
  for (int i = 0; i < 5; i++) {
    auto t = a.allocate(DType::F32, shapes[i], "activations");
    if (!t.isOk()) return t.status();
    *slots[i] = t.value().data<float>();
  }
  auto dec = allocDecoderBuffers(a, cfg.decoder, R);
  if (!dec.isOk()) return dec.status();
  b.dec = dec.value();
  return b;
}

}  // namespace stic::model
