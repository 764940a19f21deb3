// Elementwise activation backward on the CPU: dinp[i] = dout[i] * f'(inp[i]) over n values.
// Each element reads dout before writing, so dinp may alias dout.
#include <cmath>
#include <cstdint>

#include "cpu/ops_backward.h"

namespace stic::cpu {
namespace {

inline float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

}  // namespace

void gelu_backward(float* dinp, const float* dout, const float* inp, int64_t n) {
  // d/dx [x Phi(x)] = Phi(x) + x phi(x), with phi the standard normal density.
  const float invSqrt2 = 0.70710678118654752f, invSqrt2Pi = 0.39894228040143268f;
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; i++) {
    const float x = inp[i];
    const float cdf = 0.5f * (1.0f + std::erf(x * invSqrt2));
    dinp[i] = dout[i] * (cdf + x * invSqrt2Pi * std::exp(-0.5f * x * x));
  }
}

void gelu_tanh_backward(float* dinp, const float* dout, const float* inp, int64_t n) {
  // f = 0.5 x (1 + tanh u), u = k (x + 0.044715 x^3): f' = 0.5 (1 + tanh u) + 0.5 x (1 - tanh^2 u) du/dx.
  const float k = 0.79788456080286536f;  // sqrt(2/pi)
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; i++) {
    const float x = inp[i];
    const float th = std::tanh(k * (x + 0.044715f * x * x * x));
    const float du = k * (1.0f + 3.0f * 0.044715f * x * x);
    dinp[i] = dout[i] * (0.5f * (1.0f + th) + 0.5f * x * (1.0f - th * th) * du);
  }
}

void quick_gelu_backward(float* dinp, const float* dout, const float* inp, int64_t n) {
  // f = x s(1.702 x): f' = s + 1.702 x s (1 - s).
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; i++) {
    const float x = inp[i], s = sigmoid(1.702f * x);
    dinp[i] = dout[i] * (s + 1.702f * x * s * (1.0f - s));
  }
}

void silu_backward(float* dinp, const float* dout, const float* inp, int64_t n) {
  // f = x s(x): f' = s (1 + x (1 - s)).
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; i++) {
    const float x = inp[i], s = sigmoid(x);
    dinp[i] = dout[i] * (s * (1.0f + x * (1.0f - s)));
  }
}

void relu_backward(float* dinp, const float* dout, const float* inp, int64_t n) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; i++) dinp[i] = inp[i] > 0.0f ? dout[i] : 0.0f;
}

void swiglu_backward(float* dgate, float* dup, const float* dout, const float* gate, const float* up, int64_t n) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; i++) {
    const float g = dout[i], x = gate[i], u = up[i], s = sigmoid(x);
    dgate[i] = g * u * (s * (1.0f + x * (1.0f - s)));
    dup[i] = g * x * s;
  }
}

}  // namespace stic::cpu
