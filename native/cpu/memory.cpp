// Buffer copies and fills on the CPU (the ops table's memory family): the model's moves of its own
// activations, a memcpy / fill here and a stream-ordered copy or kernel on a device (cuda/memory.cu).
#include <algorithm>
#include <cmath>
#include <cstring>

#include "cpu/ops.h"

namespace stic::cpu {

void copy_bytes(void* dst, const void* src, size_t bytes) {
  if (bytes > 0) std::memcpy(dst, src, bytes);
}

void fill(float* dst, float value, int64_t n) {
  if (n <= 0) return;
  if (value == 0.0f && !std::signbit(value)) {
    std::memset(dst, 0, static_cast<size_t>(n) * sizeof(float));  // +0.0f is all zero bits
    return;
  }
  std::fill_n(dst, n, value);
}

}  // namespace stic::cpu
