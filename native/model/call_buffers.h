// The activation memory of one model call (scoring, logits or a generation), planned from the
// call's sizes and allocated as one Lifetime::Activations arena before any compute starts.
// Legend: N images, Ti feature rows per image, D decoder hidden, R rows of the largest packed
// pass, C logit rows per chunk, V vocab.
#pragma once
#include <memory>

#include "core/arena.h"
#include "model/decoder.h"
#include "model/llava_config.h"

namespace stic::model {

// Logit rows materialised at once: (C, V) instead of (R, V) for a whole pass.
constexpr int64_t kLogitChunk = 256;

struct CallBuffers {
  std::unique_ptr<Arena> arena;
  float* features = nullptr;      // (featureRows, D) image features of the call (image_layout.h)
  float* x = nullptr;             // (R, D) residual stream of a pass
  DecoderActs dec{};              // an inference pass of up to R rows
  float* logits = nullptr;        // (C, V)
  float* logitScratch = nullptr;  // (2C, D)
  float* logp = nullptr;          // (C)

  // One arena on `backend` (the model's) holding every buffer.
  static Result<CallBuffers> create(Backend& backend, const LlavaConfig& cfg, int64_t featureRows, int64_t maxRows,
                                    int64_t logitRows);
  size_t bytes() const { return arena ? arena->capacity() : 0; }
};

}  // namespace stic::model
