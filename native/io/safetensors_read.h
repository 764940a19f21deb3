// Reading tensor bytes out of safetensors files in native code, so a checkpoint never passes
// through the JS heap. The header is parsed and validated in TypeScript (lib/model/safetensors.ts),
// which hands each tensor's absolute file offset to this layer.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
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

// A whole file mapped read-only (private); unmapped on destruction. Weights kept in their stored
// dtype can point straight into it, which costs no copy and lets the kernel page them in and out.
class MappedFile {
 public:
  // `forTensor` names the tensor that asked, in errors.
  static Result<std::unique_ptr<MappedFile>> open(const std::string& path, const std::string& forTensor);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::string& path() const { return path_; }
  uint64_t size() const { return size_; }
  const char* data() const { return data_; }
  // Asks the kernel to start reading [offset, offset + n) ahead of use.
  void prefetch(uint64_t offset, uint64_t n) const;
  // Drops this mapping's pages of [offset, offset + n) (they were copied out; the file is unchanged,
  // so a later read simply faults them in again) so they stop counting in the process's RSS.
  void release(uint64_t offset, uint64_t n) const;
  // Checks that src (a tensor of this file) lies inside it and that its byte count matches its shape.
  Status checkRange(const TensorSource& src) const;

 private:
  MappedFile(std::string path, uint64_t size) : path_(std::move(path)), size_(size) {}
  std::string path_;
  uint64_t size_ = 0;
  const char* data_ = nullptr;
};

// Copies src's bytes into dst (a CPU tensor with the same number of elements), converting between
// floating-point dtypes when they differ (e.g. BF16 on disk -> F32 in the CPU engine). Errors name
// the tensor and the file: missing file, range past the end of the file, element-count mismatch.
Status readTensor(const TensorSource& src, Tensor& dst);

// Reads many tensors, opening and mapping each file once.
Status readTensors(const std::vector<TensorSource>& srcs, std::vector<Tensor*>& dsts);
// The same through mappings the caller keeps open (file path -> mapping; missing ones are opened
// and added); each copied range is released from the mapping afterwards.
Status readTensorsMapped(const std::vector<TensorSource>& srcs, std::vector<Tensor*>& dsts,
                         std::unordered_map<std::string, std::shared_ptr<MappedFile>>& files);

}  // namespace stic::io
