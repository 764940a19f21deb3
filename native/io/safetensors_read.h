// Reading tensor bytes out of safetensors files in native code, so a checkpoint never passes
// through the JS heap. The header is parsed and validated in TypeScript (lib/model/safetensors.ts),
// which hands each tensor's absolute file offset to this layer.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace stic::io {

// One tensor inside one file: `offset` is absolute (8 + header length + data_offsets[0]).
struct TensorSource {
  std::string name;
  std::string file;
  uint64_t offset = 0;
  uint64_t nbytes = 0;
  DType dtype = DType::F32;
  Shape shape;
};

// Copies src's bytes into dst (a CPU tensor with the same number of elements), converting between
// floating-point dtypes when they differ (e.g. BF16 on disk -> F32 in the CPU engine). Errors name
// the tensor and the file: missing file, range past the end of the file, element-count mismatch.
Status readTensor(const TensorSource& src, Tensor& dst);

// Reads many tensors, opening and mapping each file once.
Status readTensors(const std::vector<TensorSource>& srcs, std::vector<Tensor*>& dsts);

}  // namespace stic::io
