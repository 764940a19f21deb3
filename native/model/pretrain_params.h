// The trainable state of full-parameter pretraining (stic toy pretrain): every weight of the CLIP
// tower, the projector and the decoder, with its gradient and AdamW moments, fp32 on the CPU.
// LoRA training (train_params.h) freezes the base weights; pretraining trains all of them, so this
// state is the whole model four times over (parameter, gradient, exp_avg, exp_avg_sq).
// Storage: one arena per lifetime class (Weights, Gradients, OptimizerState x2), each one flat
// buffer; a tensor lives at the same offset in all four, so its gradient and moments are found by
// offset. Tensors the engine stores fused (q|k|v, gate|up; llava_weights.h) are placed adjacently,
// so each fused projection is one contiguous (rows, K) matrix and one GEMM.
// Names are the engine's (llavaTensorSpecs: the llava-hf checkpoint names), so exported weights
// load in lib/engine unchanged.
// Legend: Dv vision hidden, Iv vision MLP, p patch side, P patches, D decoder hidden, F decoder MLP,
// Nqkv = (Hq + 2 Hkv) hd, V vocab, n elements of a tensor.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/arena.h"
#include "core/ops_train.h"  // ParamSlot
#include "model/llava_config.h"

namespace stic::model {

// One named tensor of the model: its range [offset, offset + numel) of every flat buffer.
struct PretrainTensor {
  std::string name;
  Shape shape;
  int64_t offset = 0;
  int64_t numel = 0;
  int64_t group = 0;  // kDecayGroup or kNoDecayGroup
};

// Matrices (rank >= 2: linears, embeddings, patch and position embeddings) take weight decay;
// vectors (norm weights, biases, the class embedding) do not, as in GPT-2 / llm.c practice:
// decaying a norm gain towards 0 fights the normalisation it exists for.
constexpr int64_t kDecayGroup = 0;
constexpr int64_t kNoDecayGroup = 1;

enum class PretrainKind { Param, Grad, ExpAvg, ExpAvgSq };

// Raw pointers of one kind (parameters or gradients) shaped like LlavaWeights; null where the
// config has no such tensor. Fused tensors point at their first part (q, gate).
struct VisionLayerPtrs {
  float *ln1W, *ln1B;  // (Dv)
  float *qkvW;         // (3Dv, Dv)
  float *qkvB;         // (3Dv)
  float *outW, *outB;  // (Dv, Dv), (Dv)
  float *ln2W, *ln2B;  // (Dv)
  float *fc1W, *fc1B;  // (Iv, Dv), (Iv)
  float *fc2W, *fc2B;  // (Dv, Iv), (Dv)
};
struct VisionPtrs {
  float* patchW;          // (Dv, 3, p, p)
  float* classEmbed;      // (Dv)
  float* posEmbed;        // (P+1, Dv)
  float *preLnW, *preLnB;  // (Dv)
  std::vector<VisionLayerPtrs> layers;
};
struct ProjectorPtrs {
  float *w1, *b1;  // (D, Dv), (D) or null
  float *w2, *b2;  // (D, D), (D) or null; null for a 'linear' projector
};
struct DecoderLayerPtrs {
  float* attnNorm;         // (D)
  float *qkvW, *qkvB;      // (Nqkv, D), (Nqkv) or null
  float *oW, *oB;          // (D, Hq*hd), (D) or null
  float* mlpNorm;          // (D)
  float *gateUpW, *gateUpB;  // (2F, D), (2F) or null
  float *downW, *downB;    // (D, F), (D) or null
};
struct DecoderPtrs {
  float* embed;  // (V, D)
  std::vector<DecoderLayerPtrs> layers;
  float* norm;    // (D)
  float* lmHead;  // (V, D); == embed when the embeddings are tied
};
struct ModelPtrs {
  VisionPtrs vision;
  ProjectorPtrs projector;
  DecoderPtrs decoder;
};

class PretrainParams {
 public:
  // Allocates every buffer, all zero (the caller loads or sets the parameters).
  static Result<std::unique_ptr<PretrainParams>> create(const LlavaConfig& cfg);

  const LlavaConfig& config() const { return cfg_; }
  // In llavaTensorSpecs order (the engine's load order), whatever the storage order.
  const std::vector<PretrainTensor>& tensors() const { return tensors_; }
  const PretrainTensor* find(const std::string& name) const;

  float* data(PretrainKind kind) const;  // the flat buffer (numel())
  float* data(PretrainKind kind, const PretrainTensor& t) const { return data(kind) + t.offset; }
  // A tensor view of one named tensor (for io::readTensors).
  Result<Tensor> view(PretrainKind kind, const PretrainTensor& t) const;
  // Structured pointers into the parameters or the gradients.
  ModelPtrs ptrs(PretrainKind kind) const;
  // One AdamW slot per tensor (group by rank), over the four buffers.
  std::vector<train::ParamSlot> slots() const;

  void zeroGrad();
  int64_t numel() const { return numel_; }
  size_t parameterBytes() const { return flat_[0].bytes(); }
  size_t gradientBytes() const { return flat_[1].bytes(); }
  size_t optimizerBytes() const { return flat_[2].bytes() + flat_[3].bytes(); }

  int64_t step = 0;  // AdamW updates done

 private:
  LlavaConfig cfg_;
  std::vector<PretrainTensor> tensors_;
  std::map<std::string, size_t> index_;
  int64_t numel_ = 0;
  std::unique_ptr<Arena> arenas_[4];
  Tensor flat_[4];  // (numel) each: param, grad, exp_avg, exp_avg_sq
};

}  // namespace stic::model
