// The KV cache (see kv_cache.h): one arena, two (sum rows, Hkv*hd) tensors per layer.
#include "model/kv_cache.h"

namespace stic::model {

Result<std::unique_ptr<KvCache>> KvCache::create(Backend& backend, const DecoderConfig& cfg, const std::vector<int64_t>& capacities) {
  auto c = std::unique_ptr<KvCache>(new KvCache());
  c->kvDim_ = cfg.kvDim();
  int64_t rows = 0;
  for (int64_t cap : capacities) {
    c->base_.push_back(rows);
    c->capacity_.push_back(cap);
    rows += cap;
  }
  ArenaPlan plan;
  for (int64_t l = 0; l < 2 * cfg.numLayers; l++) plan.add(DType::F32, {rows, c->kvDim_}, l % 2 ? "values" : "keys");
  auto arena = Arena::create(backend, Lifetime::KvCache, plan);
  if (!arena.isOk()) return arena.status().withContext("KV cache");
  c->arena_ = arena.take();
  for (int64_t l = 0; l < cfg.numLayers; l++) {
    auto k = c->arena_->allocate(DType::F32, {rows, c->kvDim_}, "keys");
    auto v = c->arena_->allocate(DType::F32, {rows, c->kvDim_}, "values");
    if (!k.isOk()) return k.status();
    if (!v.isOk()) return v.status();
    c->k_.push_back(k.take());
    c->v_.push_back(v.take());
  }
  return c;
}

}  // namespace stic::model
