// The LLaVA model on one backend (the CPU's today: see loadLlavaWeights): CLIP tower -> projector -> features spliced into the token
// embeddings at the image-token positions -> Llama/Mistral decoder. Weights are immutable after
// load, so one model serves any number of calls (they are serialised by the compute lock).
// Legend: N images of a call, S image side, Ti feature rows per image, D decoder hidden, V vocab,
// T tokens of a sequence, P patches, Dv vision hidden.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "io/safetensors_read.h"
#include "model/decoder.h"
#include "model/image_layout.h"
#include "model/llava_config.h"
#include "model/llava_weights.h"
#include "model/lora_merge.h"

namespace stic::model {

// A token sequence; `images` lists, in order of appearance, the index (into the call's image
// batch) of the image whose feature rows replace each run of its image tokens (Ti for a single
// tile, more for an anyres image: see image_layout.h).
struct Sequence {
  std::vector<int64_t> ids;     // (T)
  std::vector<int64_t> images;  // indices into the call's images (ImageBatch::layouts)
};

struct ScoredSequence {
  Sequence seq;
  int64_t responseStart = 0;  // ids[responseStart:] are scored, each given the ids before it
};

// Checks a sequence against the config and the call's images (tokenRows: imageTokenRows of the
// batch); `where` names it in messages.
Status validateSequence(const LlavaConfig& cfg, const Sequence& seq, const std::vector<std::vector<int64_t>>& tokenRows,
                        const std::string& where);
// The image-token count of a sequence of `images` (indices already checked against tokenRows):
// `found` must be the sum of their token rows ("expected 32 image tokens (id 9) for 2 image(s) x 16
// but found 16"; "(37 + 51)" when the counts differ).
Status validateImageTokenCount(const LlavaConfig& cfg, const std::vector<int64_t>& images,
                               const std::vector<std::vector<int64_t>>& tokenRows, int64_t found, const std::string& where);

class LlavaModel {
 public:
  // The model on `backend` (its weights, activations, KV caches and scratch; it must outlive the
  // model). adapter: LoRA deltas merged into the weights at load (lora_merge.h), alpha their LoRA alpha.
  static Result<std::shared_ptr<LlavaModel>> load(Backend& backend, const LlavaConfig& cfg,
                                                  const std::vector<io::TensorSource>& sources, bool forceF32 = false,
                                                  const std::vector<LoraDelta>& adapter = {}, double alpha = 0);

  const LlavaConfig& config() const { return cfg_; }
  // The backend the weights live on, where every call allocates its buffers, and its ops table.
  Backend& backend() const { return *backend_; }
  const Ops& ops() const { return backend_->ops(); }
  const LlavaWeights& weights() const { return *w_; }
  // The decoder's weights as its layers read them (decoder.h).
  const DecoderView& decoder() const { return decoder_; }
  // Bytes of every weight: the private copies (arena) and those mapped from the checkpoint files.
  size_t weightBytes() const { return w_->arena->capacity() + w_->mappedBytes; }
  size_t mappedWeightBytes() const { return w_->mappedBytes; }

  // validateSequence against this model's config.
  Status validate(const Sequence& seq, const std::vector<std::vector<int64_t>>& tokenRows, const std::string& where) const {
    return validateSequence(cfg_, seq, tokenRows, where);
  }

  // features (C*Ti + 1, D): every crop of the batch through the tower in chunks, the projector,
  // then the image_newline row (image_layout.h). hidden, when given, receives every CLIP hidden
  // state (numLayers + 1 of them, each (C, P+1, Dv)); otherwise only the layers needed run.
  Status encodeImages(float* features, std::vector<std::vector<float>>* hidden, const ImageBatch& images) const;

  // Full logits (T, V) of each sequence, each with its own images.
  Status logits(std::vector<std::vector<float>>& out, const ImageBatch& images, const std::vector<Sequence>& seqs) const;

  // Per-token log-probs (T - responseStart) of the scored part of each sequence.
  Status logprobs(std::vector<std::vector<float>>& out, const ImageBatch& images, const std::vector<ScoredSequence>& items) const;

 private:
  Backend* backend_ = nullptr;
  LlavaConfig cfg_;
  std::unique_ptr<LlavaWeights> w_;
  DecoderView decoder_;  // into *w_
};

// Consecutive items grouped so each group has at most `budget` tokens (an item longer than the
// budget is a group of its own): [begin, end) ranges over `lengths`.
std::vector<std::pair<size_t, size_t>> packGroups(const std::vector<int64_t>& lengths, int64_t budget);

// Token budget of one packed decoder pass: bounds activation memory, large enough that the GEMMs
// of a prefill run at full speed.
constexpr int64_t kPassTokenBudget = 2048;

}  // namespace stic::model
