// Elementwise activations and residual add on the CPU (n values, out may alias inp).
#include <cmath>
#include <cstdint>

#include "cpu/ops.h"

namespace stic::cpu {

void quick_gelu_forward(float* out, const float* inp, int64_t n) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; i++) out[i] = inp[i] / (1.0f + std::exp(-1.702f * inp[i]));
}

void gelu_forward(float* out, const float* inp, int64_t n) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; i++) out[i] = 0.5f * inp[i] * (1.0f + std::erf(inp[i] * 0.70710678118654752f));
}

void gelu_tanh_forward(float* out, const float* inp, int64_t n) {
  const float k = 0.79788456080286536f;  // sqrt(2/pi)
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; i++) {
    float x = inp[i];
    out[i] = 0.5f * x * (1.0f + std::tanh(k * (x + 0.044715f * x * x * x)));
  }
}

void silu_forward(float* out, const float* inp, int64_t n) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; i++) out[i] = inp[i] / (1.0f + std::exp(-inp[i]));
}

void swiglu_forward(float* out, const float* gate, const float* up, int64_t n) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; i++) out[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

void add_inplace(float* a, const float* b, int64_t n) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; i++) a[i] += b[i];
}

}  // namespace stic::cpu
