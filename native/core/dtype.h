// Element types shared by every backend, with the safetensors spelling of each.
#pragma once
#include <cstdint>
#include <cstring>
#include <string>

#include "core/status.h"

namespace stic {

enum class DType : uint8_t { F32, BF16, F16, F64, I32, I64, U8 };

inline size_t dtypeSize(DType t) {
  switch (t) {
    case DType::F32: return 4;
    case DType::BF16: return 2;
    case DType::F16: return 2;
    case DType::F64: return 8;
    case DType::I32: return 4;
    case DType::I64: return 8;
    case DType::U8: return 1;
  }
  return 0;
}

// Safetensors names: "F32", "BF16", "F16", "F64", "I32", "I64", "U8".
const char* dtypeName(DType t);
Result<DType> parseDType(const std::string& name);

// bf16 <-> f32: bf16 is the top half of an IEEE f32; round-to-nearest-even on the way down, NaN kept.
inline float bf16ToF32(uint16_t h) {
  uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}
inline uint16_t f32ToBf16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((bits >> 16) | 0x40);  // quiet NaN
  uint32_t rounding = 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>((bits + rounding) >> 16);
}
float f16ToF32(uint16_t h);
uint16_t f32ToF16(float f);

}  // namespace stic
