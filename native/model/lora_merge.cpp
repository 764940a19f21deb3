// Adapters merged into the weights at load (see lora_merge.h).
#include "model/lora_merge.h"

#include <cstring>

#include "model/train_params.h"

namespace stic::model {

LinearRef decoderLinear(const DecoderWeights& w, const DecoderConfig& cfg, const std::string& name) {
  const std::string prefix = "language_model.model.layers.";
  if (name.rfind(prefix, 0) != 0) return {};
  size_t dot = name.find('.', prefix.size());
  if (dot == std::string::npos) return {};
  int64_t layer = -1;
  try {
    layer = std::stoll(name.substr(prefix.size(), dot - prefix.size()));
  } catch (...) {
    return {};
  }
  if (layer < 0 || layer >= cfg.numLayers) return {};
  for (int m = 0; m < kLoraModules; m++) {
    const std::string tail = std::string(loraModuleIsAttention(m) ? ".self_attn." : ".mlp.") + loraModuleName(m) + ".weight";
    if (name.substr(dot) != tail) continue;
    const DecoderLayerWeights& L = w.layers[layer];
    switch (m) {
      case kLoraQ: return {&L.qkvW, 0, m};
      case kLoraK: return {&L.qkvW, cfg.qDim(), m};
      case kLoraV: return {&L.qkvW, cfg.qDim() + cfg.kvDim(), m};
      case kLoraO: return {&L.oW, 0, m};
      case kLoraGate: return {&L.gateUpW, 0, m};
      case kLoraUp: return {&L.gateUpW, cfg.intermediateSize, m};
      default: return {&L.downW, 0, m};
    }
  }
  return {};
}

void widenRows(const Ops& ops, float* dst, const Tensor& w, int64_t row0, int64_t N) {
  const size_t n = static_cast<size_t>(N * w.dim(-1));
  if (w.dtype() == DType::F32) {
    std::memcpy(dst, matrixRows(w, row0), n * sizeof(float));
  } else {
    (void)ops.convert.convert(dst, DType::F32, matrixRows(w, row0), w.dtype(), n);  // F32 <- BF16/F16 cannot fail
  }
}

Status mergeLora(const Ops& ops, LlavaWeights& w, const LlavaConfig& cfg, const std::vector<LoraDelta>& deltas, double alpha) {
  const DecoderConfig& d = cfg.decoder;
  std::vector<float> merged;
  for (const LoraDelta& delta : deltas) {
    const LinearRef ref = decoderLinear(w.decoder, d, delta.weight);
    const Tensor* tensor = ref.tensor;
    const int64_t row0 = ref.row0;
    STIC_CHECK_ARG(tensor != nullptr, "adapter tensor for ", delta.weight, ": expected a decoder linear (q/k/v/o_proj, gate/up/down_proj)");
    auto [K, N] = loraModuleDims(d, ref.module);
    const int64_t r = delta.r;
    STIC_CHECK_ARG(r > 0 && static_cast<int64_t>(delta.A.size()) == r * K && static_cast<int64_t>(delta.B.size()) == N * r,
                   "adapter tensors for ", delta.weight, ": expected A (", r, ", ", K, ") and B (", N, ", ", r, ") but found ",
                   delta.A.size(), " and ", delta.B.size(), " values");
    STIC_CHECK_ARG(tensor->backend() != nullptr, "internal: ", delta.weight, " is mapped read-only and cannot take an adapter");
    merged.resize(static_cast<size_t>(N * K));
    widenRows(ops, merged.data(), *tensor, row0, N);
    // W (N, K) += (alpha / r) B (N, r) A (r, K): PEFT's merge, the same GEMM the trainer's export uses.
    const float scale = static_cast<float>(alpha / static_cast<double>(r));
    ops.linear.sgemm(false, false, N, K, r, scale, delta.B.data(), r, delta.A.data(), K, 1.0f, merged.data(), K);
    void* dst = const_cast<void*>(matrixRows(*tensor, row0));
    STIC_RETURN_IF_ERROR(ops.convert.convert(dst, tensor->dtype(), merged.data(), DType::F32, merged.size()));
  }
  return Status::ok();
}

}  // namespace stic::model
