// LLaVA weights on the CPU backend, fp32, allocated once in a Lifetime::Weights arena.
// Projections that read the same input are stored fused (q|k|v, gate|up) so each is one GEMM:
// the checkpoint's separate tensors are read straight into row ranges of the fused tensor.
// Legend: Dv vision hidden, Iv vision MLP, p patch side, P patches, D decoder hidden, F decoder MLP,
// Nqkv = Hq*hd + 2*Hkv*hd, V vocab. "opt" marks a tensor that is undefined when the config has none.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "core/arena.h"
#include "core/tensor.h"
#include "io/safetensors_read.h"
#include "model/llava_config.h"

namespace stic::model {

struct VisionLayerWeights {
  Tensor ln1W, ln1B;    // (Dv)
  Tensor qkvW;          // (3*Dv, Dv)  q rows, then k, then v
  Tensor qkvB;          // (3*Dv)
  Tensor outW;          // (Dv, Dv)
  Tensor outB;          // (Dv)
  Tensor ln2W, ln2B;    // (Dv)
  Tensor fc1W, fc1B;    // (Iv, Dv), (Iv)
  Tensor fc2W, fc2B;    // (Dv, Iv), (Dv)
};

struct VisionWeights {
  Tensor patchW;       // (Dv, 3, p, p)
  Tensor classEmbed;   // (Dv)
  Tensor posEmbed;     // (P+1, Dv)
  Tensor preLnW, preLnB;  // (Dv)
  std::vector<VisionLayerWeights> layers;
};

struct ProjectorWeights {
  Tensor w1, b1;  // (D, Dv), (D) opt
  Tensor w2, b2;  // (D, D), (D) opt; undefined for a 'linear' projector
};

struct DecoderLayerWeights {
  Tensor attnNorm;   // (D)
  Tensor qkvW;       // (Nqkv, D)
  Tensor qkvB;       // (Nqkv) opt
  Tensor oW;         // (D, Hq*hd)
  Tensor oB;         // (D) opt
  Tensor mlpNorm;    // (D)
  Tensor gateUpW;    // (2F, D)  gate rows, then up rows
  Tensor gateUpB;    // (2F) opt
  Tensor downW;      // (D, F)
  Tensor downB;      // (D) opt
};

struct DecoderWeights {
  Tensor embed;    // (V, D)
  std::vector<DecoderLayerWeights> layers;
  Tensor norm;     // (D)
  Tensor lmHead;   // (V, D); shares embed's memory when the embeddings are tied
};

struct LlavaWeights {
  VisionWeights vision;
  ProjectorWeights projector;
  DecoderWeights decoder;
  Tensor imageNewline;  // (D) opt: LLaVA-NeXT's row separator of an anyres image's feature grid
  std::unique_ptr<Arena> arena;  // owns every byte above
};

// Allocates the weights for `cfg` and reads them from `sources` (engine names, see
// llavaTensorSpecs). Errors: a missing source names the tensor; a shape mismatch names the
// tensor, its file and both shapes; read failures name the tensor and the file.
Result<std::unique_ptr<LlavaWeights>> loadLlavaWeights(const LlavaConfig& cfg, const std::vector<io::TensorSource>& sources);

}  // namespace stic::model
