// Batched generation with a KV cache. Each item owns its own cache rows (prompt + max new
// tokens), so items of different prompt lengths share every decode step without padding or
// cross-item attention, and each samples with its own (seed, step)-keyed RNG.
//
// Generation runs in chunks: step(k) produces up to k more tokens per unfinished item and returns
// them; the caller (lib/generate) decodes text between chunks, checks stop strings, and calls
// stop(i) for an item that hit one. So stop strings are matched exactly on decoded text (token
// boundaries never hide a match) at the cost of at most k - 1 wasted tokens per stopped item,
// and there is no JS call per token. Without stop strings the caller asks for everything at once.
// Legend: B items, N images, T prompt tokens, D hidden, V vocab.
#pragma once
#include <memory>
#include <vector>

#include "core/ops.h"
#include "model/call_buffers.h"
#include "model/llava.h"

namespace stic::model {

struct GenerationItem {
  Sequence prompt;
  int64_t maxNewTokens = 0;
  SamplingParams sampling;
};

enum class Finish : uint8_t { None, Eos, Length, Stopped };
const char* finishName(Finish f);  // "", "eos", "length", "stop"

class Generation {
 public:
  // Validates every item against the model (messages name "items[i]"); allocates nothing yet.
  // pixels (C, 3, S, S) are the crops of the images `layouts` describe (image_layout.h).
  static Result<std::unique_ptr<Generation>> create(std::shared_ptr<const LlavaModel> model, std::vector<float> pixels,
                                                    std::vector<ImageLayout> layouts, std::vector<GenerationItem> items,
                                                    std::vector<int64_t> eosIds);

  // Up to maxTokens more tokens for every unfinished item; fresh[i] receives item i's new tokens
  // (an EOS that finishes an item is not included). The first call encodes the images, allocates
  // the KV cache and activations, and runs the prefill.
  Status step(int64_t maxTokens, std::vector<std::vector<int32_t>>& fresh);
  // Marks item i finished with reason Stopped (a stop string was found); no-op when finished.
  void stop(size_t i);

  size_t size() const { return items_.size(); }
  Finish finish(size_t i) const { return state_[i].finish; }
  bool done() const;
  size_t kvCacheBytes() const { return cache_ ? cache_->bytes() : 0; }
  size_t activationBytes() const { return bufs_.bytes(); }

 private:
  struct ItemState {
    int64_t cached = 0;     // tokens whose keys/values are in the cache
    int64_t generated = 0;  // new tokens produced (EOS excluded)
    int64_t pending = -1;   // last produced token, not yet fed to the decoder
    Finish finish = Finish::None;
  };
  // bufs_.x = the decoder's output for the layout's rows, their keys and values into the cache.
  Status runPass(const PassLayout& layout);
  Status prefill(std::vector<std::vector<int32_t>>& fresh);
  Status decodeStep(std::vector<std::vector<int32_t>>& fresh);
  // Samples item i's next token from logits (V) and records it.
  void accept(size_t i, const float* logits, std::vector<std::vector<int32_t>>& fresh);

  std::shared_ptr<const LlavaModel> model_;
  std::vector<float> pixels_;  // (C, 3, S, S), released after the prefill
  ImageBatch images_;          // pixels_ and the layouts
  std::vector<std::vector<int64_t>> tokenRows_;  // imageTokenRows(images_)
  std::vector<GenerationItem> items_;
  std::vector<int64_t> eos_;
  std::vector<ItemState> state_;
  std::unique_ptr<KvCache> cache_;
  CallBuffers bufs_;
  SamplerScratch sampler_;
  bool prefilled_ = false;
};

}  // namespace stic::model
