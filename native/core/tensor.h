// Tensor: dtype + shape + a pointer into a reference-counted Buffer on one backend. Contiguous
// row-major; views share the buffer. Shapes are int64 like PyTorch's so checkpoint shapes fit as-is.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/backend.h"
#include "core/dtype.h"

namespace stic {

using Shape = std::vector<int64_t>;

std::string shapeString(const Shape& shape);  // "[2, 3, 56, 56]"
int64_t shapeNumel(const Shape& shape);

// One allocation on a backend; freed when the last tensor viewing it goes away.
class Buffer {
 public:
  Buffer(Backend& backend, void* data, size_t bytes) : backend_(backend), data_(data), bytes_(bytes) {}
  ~Buffer() { backend_.release(data_); }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }
  Backend& backend() const { return backend_; }

 private:
  Backend& backend_;
  void* data_;
  size_t bytes_;
};

class Tensor {
 public:
  Tensor() = default;
  Tensor(DType dtype, Shape shape, void* data, std::shared_ptr<Buffer> storage)
      : dtype_(dtype), shape_(std::move(shape)), data_(data), storage_(std::move(storage)) {}

  // A fresh, uninitialised tensor with its own buffer. `what` names it in out-of-memory errors.
  static Result<Tensor> empty(Backend& backend, DType dtype, const Shape& shape, const char* what);

  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int64_t dim(int i) const { return shape_[i < 0 ? shape_.size() + i : i]; }
  int rank() const { return static_cast<int>(shape_.size()); }
  int64_t numel() const { return shapeNumel(shape_); }
  size_t bytes() const { return static_cast<size_t>(numel()) * dtypeSize(dtype_); }
  bool defined() const { return data_ != nullptr || (storage_ && numel() == 0); }
  Device device() const { return storage_ ? storage_->backend().device() : Device::Cpu; }
  Backend* backend() const { return storage_ ? &storage_->backend() : nullptr; }

  void* raw() const { return data_; }
  template <typename T>
  T* data() const { return static_cast<T*>(data_); }

  // Same bytes, new shape (numel must match).
  Result<Tensor> reshape(const Shape& shape) const;
  // Rows [begin, end) of the leading dimension, sharing the buffer.
  Result<Tensor> slice0(int64_t begin, int64_t end) const;

  // Precondition helpers that produce messages naming the tensor and both shapes.
  Status expectShape(const Shape& expected, const std::string& name) const;
  Status expectDType(DType expected, const std::string& name) const;

 private:
  DType dtype_ = DType::F32;
  Shape shape_;
  void* data_ = nullptr;
  std::shared_ptr<Buffer> storage_;
};

}  // namespace stic
