#include "cpu/convert.h"

#include <cstdint>
#include <cstring>

namespace stic::cpu {
namespace {

bool isFloat(DType t) { return t == DType::F32 || t == DType::BF16 || t == DType::F16 || t == DType::F64; }

double loadFloat(const void* src, DType t, size_t i) {
  switch (t) {
    case DType::F32: return static_cast<const float*>(src)[i];
    case DType::BF16: return bf16ToF32(static_cast<const uint16_t*>(src)[i]);
    case DType::F16: return f16ToF32(static_cast<const uint16_t*>(src)[i]);
    case DType::F64: return static_cast<const double*>(src)[i];
    default: return 0;
  }
}

void storeFloat(void* dst, DType t, size_t i, double v) {
  switch (t) {
    case DType::F32: static_cast<float*>(dst)[i] = static_cast<float>(v); break;
    case DType::BF16: static_cast<uint16_t*>(dst)[i] = f32ToBf16(static_cast<float>(v)); break;
    case DType::F16: static_cast<uint16_t*>(dst)[i] = f32ToF16(static_cast<float>(v)); break;
    case DType::F64: static_cast<double*>(dst)[i] = v; break;
    default: break;
  }
}

}  // namespace

Status convert(void* dst, DType dstType, const void* src, DType srcType, size_t n) {
  if (dstType == srcType) {
    std::memcpy(dst, src, n * dtypeSize(srcType));
    return Status::ok();
  }
  if (!isFloat(dstType) || !isFloat(srcType)) {
    return error(Code::Unsupported, "cannot convert ", dtypeName(srcType), " to ", dtypeName(dstType),
                 " (only conversions between floating-point types are supported)");
  }
  // Fast paths for the conversions every checkpoint load does.
  if (srcType == DType::BF16 && dstType == DType::F32) {
    auto* s = static_cast<const uint16_t*>(src);
    auto* d = static_cast<float*>(dst);
#pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; ++i) d[i] = bf16ToF32(s[i]);
    return Status::ok();
  }
  if (srcType == DType::F32 && dstType == DType::BF16) {
    auto* s = static_cast<const float*>(src);
    auto* d = static_cast<uint16_t*>(dst);
#pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; ++i) d[i] = f32ToBf16(s[i]);
    return Status::ok();
  }
#pragma omp parallel for schedule(static) if (n > 65536)
  for (size_t i = 0; i < n; ++i) storeFloat(dst, dstType, i, loadFloat(src, srcType, i));
  return Status::ok();
}

}  // namespace stic::cpu
