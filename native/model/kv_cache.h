// The keys and values of every decoder layer for a batch of generated sequences: slot i owns
// capacity[i] rows of each layer, filled by the passes whose segments name it (pass_layout.h).
// Legend: L layers, Hkv heads, hd head dim, rows(slot) the rows a slot owns.
#pragma once
#include <memory>
#include <vector>

#include "core/arena.h"
#include "model/llava_config.h"

namespace stic::model {

class KvCache {
 public:
  // One arena on `backend` (the model's): slot i gets capacities[i] rows of every layer.
  static Result<std::unique_ptr<KvCache>> create(Backend& backend, const DecoderConfig& cfg, const std::vector<int64_t>& capacities);
  float* k(int64_t layer, int64_t slot) const { return k_[layer].data<float>() + base_[slot] * kvDim_; }  // (rows(slot), Hkv*hd)
  float* v(int64_t layer, int64_t slot) const { return v_[layer].data<float>() + base_[slot] * kvDim_; }  // (rows(slot), Hkv*hd)
  int64_t capacity(int64_t slot) const { return capacity_[slot]; }
  int64_t slots() const { return static_cast<int64_t>(capacity_.size()); }
  size_t bytes() const { return arena_->capacity(); }

 private:
  std::unique_ptr<Arena> arena_;
  std::vector<Tensor> k_, v_;  // L x (sum rows, Hkv*hd)
  std::vector<int64_t> base_, capacity_;
  int64_t kvDim_ = 0;
};

}  // namespace stic::model
