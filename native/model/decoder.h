// Llama/Mistral decoder on packed sequences, CPU fp32, with an optional KV cache.
// A pass runs T packed rows that belong to several independent sequences (segments): linear
// layers see all T rows at once, attention only ever looks inside one segment's own keys, so
// items of different lengths share a pass without padding and without cross-item attention.
// Legend: T packed rows, D hidden, F MLP, Hq/Hkv heads, hd head dim, Nqkv = (Hq + 2 Hkv) hd,
// V vocab, L layers, rows(slot) the KV-cache rows an item owns.
#pragma once
#include <memory>
#include <vector>

#include "core/arena.h"
#include "core/carver.h"
#include "core/ops.h"
#include "model/llava_config.h"
#include "model/llava_weights.h"

namespace stic::model {

// Packed rows [row, row + len) are tokens at positions [pos0, pos0 + len) of one sequence.
// slot: the sequence's KV-cache slot, or -1 for a pass without a cache (then pos0 must be 0).
struct Segment {
  int64_t row = 0;
  int64_t len = 0;
  int64_t pos0 = 0;
  int64_t slot = -1;
};

// K and V of every layer for a batch of sequences; slot i owns capacity[i] rows of each layer.
class KvCache {
 public:
  static Result<std::unique_ptr<KvCache>> create(const DecoderConfig& cfg, const std::vector<int64_t>& capacities);
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

// Activation buffers for passes of up to maxRows rows, allocated once per generation or scoring call.
struct DecoderBuffers {
  int64_t maxRows = 0;
  float* xn;        // (T, D) normed input of a sublayer
  float* qkv;       // (T, Nqkv)
  float* attn;      // (T, Hq*hd)
  float* out;       // (T, D) sublayer output before the residual add
  float* gateUp;    // (2, T, F) gate rows, then up rows
  float* act;       // (T, F)
  int64_t* pos;     // (T) rotary positions
};
// Plans or carves (core/carver.h) the buffers of passes of up to maxRows rows.
void carveDecoderBuffers(Carver& c, DecoderBuffers& b, const DecoderConfig& cfg, int64_t maxRows);

// x (T, D): in, the input embeddings; out, the last layer's output (before the final norm).
// With a cache, each segment's keys/values are written to its slot rows [pos0, pos0 + len) and its
// queries attend to rows [0, pos0 + len) of that slot (causally).
Status decoderForward(const Ops& ops, float* x, int64_t T, const std::vector<Segment>& segments, const DecoderWeights& w,
                      const DecoderConfig& cfg, KvCache* cache, const DecoderBuffers& buf);

// logits (n, V) = lm_head(norm(x[rows[i]])) for the n rows listed. scratch: (2n, D).
void decoderLogits(const Ops& ops, float* logits, float* scratch, const float* x, const int64_t* rows, int64_t n,
                   const DecoderWeights& w, const DecoderConfig& cfg);

}  // namespace stic::model
