#include "core/tensor.h"

#include <sstream>

namespace stic {

std::string shapeString(const Shape& shape) {
  std::ostringstream os;
  os << '[';
  for (size_t i = 0; i < shape.size(); ++i) os << (i ? ", " : "") << shape[i];
  os << ']';
  return os.str();
}

int64_t shapeNumel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

Result<Tensor> Tensor::empty(Backend& backend, DType dtype, const Shape& shape, const char* what) {
  for (int64_t d : shape) {
    if (d < 0) return error(Code::InvalidArgument, "tensor ", what, ": negative dimension in shape ", shapeString(shape));
  }
  size_t bytes = static_cast<size_t>(shapeNumel(shape)) * dtypeSize(dtype);
  auto mem = backend.allocate(bytes, what);
  if (!mem.isOk()) return mem.status();
  auto buffer = std::make_shared<Buffer>(backend, mem.value(), bytes);
  return Tensor(dtype, shape, mem.value(), std::move(buffer));
}

Result<Tensor> Tensor::reshape(const Shape& shape) const {
  if (shapeNumel(shape) != numel()) {
    return error(Code::InvalidArgument, "cannot reshape ", shapeString(shape_), " (", numel(), " elements) to ",
                 shapeString(shape), " (", shapeNumel(shape), " elements)");
  }
  return Tensor(dtype_, shape, data_, storage_);
}

Result<Tensor> Tensor::slice0(int64_t begin, int64_t end) const {
  if (rank() == 0 || begin < 0 || end < begin || end > shape_[0]) {
    return error(Code::OutOfRange, "slice [", begin, ", ", end, ") out of range for leading dimension of ",
                 shapeString(shape_));
  }
  Shape s = shape_;
  s[0] = end - begin;
  int64_t rowElems = numel() / (shape_[0] == 0 ? 1 : shape_[0]);
  auto* p = static_cast<char*>(data_) + static_cast<size_t>(begin * rowElems) * dtypeSize(dtype_);
  return Tensor(dtype_, s, p, storage_);
}

Status Tensor::expectShape(const Shape& expected, const std::string& name) const {
  if (shape_ != expected) {
    return error(Code::InvalidArgument, name, ": expected shape ", shapeString(expected), " but got ", shapeString(shape_));
  }
  return Status::ok();
}

Status Tensor::expectDType(DType expected, const std::string& name) const {
  if (dtype_ != expected) {
    return error(Code::InvalidArgument, name, ": expected dtype ", dtypeName(expected), " but got ", dtypeName(dtype_));
  }
  return Status::ok();
}

}  // namespace stic
