// An adapter applied in memory at load: each LoRA-targeted decoder linear becomes
// W + (alpha / r) B A (PEFT's merge), computed in f32 from the widened stored weight and rounded
// back to the stored dtype once, exactly as the merged checkpoint of `stic export` holds it.
// Legend: r LoRA rank, K a linear's input features, N its output features.
#pragma once
#include <string>
#include <vector>

#include "core/ops.h"
#include "model/llava_config.h"
#include "model/llava_weights.h"

namespace stic::model {

struct LoraDelta {
  std::string weight;    // engine name of the linear, e.g. language_model.model.layers.3.mlp.up_proj.weight
  int64_t r = 0;
  std::vector<float> A;  // (r, K)
  std::vector<float> B;  // (N, r)
};

// A decoder linear by engine name: its (possibly fused) storage tensor, its first row there and
// its LoRA module index; tensor null when the name is not a decoder linear.
struct LinearRef {
  const Tensor* tensor = nullptr;
  int64_t row0 = 0;
  int module = -1;
};
LinearRef decoderLinear(const DecoderWeights& w, const DecoderConfig& cfg, const std::string& name);

// Rows [row0, row0 + N) of a matrix widened to f32: dst (N, K).
void widenRows(const Ops& ops, float* dst, const Tensor& w, int64_t row0, int64_t N);

// Merges every delta into `w` (whose targeted linears were loaded as private copies). Errors name
// the tensor: not a decoder linear, or A/B sizes that do not match its shape and r.
// alpha: the LoRA alpha (scale alpha / r, as LoraSpec::scale computes it).
Status mergeLora(const Ops& ops, LlavaWeights& w, const LlavaConfig& cfg, const std::vector<LoraDelta>& deltas, double alpha);

}  // namespace stic::model
