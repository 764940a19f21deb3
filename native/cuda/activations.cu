// Elementwise activations, their backward and the residual add on the GPU (see ops.cuh). One
// grid-stride kernel per arity, instantiated per function object and storage type. The formulas
// are the CPU twin's (native/cpu/activations*.cpp): sigmoid-type functions as x / (1 + exp(-k x))
// (finite in both tails), the erf GELU through erfc for |x| / sqrt 2 > 1 (no cancellation).
// Memory-bound: fp32 math costs nothing next to the loads; a later version may vectorise the
// loads (8 bf16 per 16-byte access) once profiled on the device.
// Legend: n elements.
#include "cuda/common.cuh"
#include "cuda/ops.cuh"

namespace stic::cuda {
namespace {

constexpr float kSqrtHalf = 0.70710678118654752f;
constexpr float kSqrt2OverPi = 0.79788456080286536f;
constexpr float kInvSqrt2Pi = 0.39894228040143268f;

__device__ __forceinline__ float sigmoidf(float x) { return 1.0f / (1.0f + expf(-x)); }

struct QuickGelu {
  __device__ float operator()(float x) const { return x / (1.0f + expf(-1.702f * x)); }
};
struct Gelu {
  __device__ float operator()(float x) const {
    const float z = fabsf(x) * kSqrtHalf;
    if (z <= 1.0f) return 0.5f * x * (1.0f + erff(x * kSqrtHalf));
    const float c = erfcf(z);
    return x >= 0.0f ? x * (1.0f - 0.5f * c) : 0.5f * x * c;
  }
};
struct GeluTanh {
  __device__ float operator()(float x) const {
    // 0.5 x (1 + tanh u) = x / (1 + exp(-2u)), u = sqrt(2/pi) (x + 0.044715 x^3)
    const float u = kSqrt2OverPi * (x + 0.044715f * x * x * x);
    return x / (1.0f + expf(-2.0f * u));
  }
};
struct Silu {
  __device__ float operator()(float x) const { return x / (1.0f + expf(-x)); }
};
struct Relu {
  __device__ float operator()(float x) const { return x < 0.0f ? 0.0f : x; }  // as std::max(x, 0): NaN passes
};
struct Swiglu {
  __device__ float operator()(float gate, float up) const { return gate / (1.0f + expf(-gate)) * up; }
};
struct Add {
  __device__ float operator()(float a, float b) const { return a + b; }
};

// Derivatives f'(x), multiplied by dout by the kernel.
struct GeluGrad {
  __device__ float operator()(float x) const {
    const float cdf = 0.5f * (1.0f + erff(x * kSqrtHalf));
    return cdf + x * kInvSqrt2Pi * expf(-0.5f * x * x);
  }
};
struct GeluTanhGrad {
  __device__ float operator()(float x) const {
    const float th = tanhf(kSqrt2OverPi * (x + 0.044715f * x * x * x));
    const float du = kSqrt2OverPi * (1.0f + 3.0f * 0.044715f * x * x);
    return 0.5f * (1.0f + th) + 0.5f * x * (1.0f - th * th) * du;
  }
};
struct QuickGeluGrad {
  __device__ float operator()(float x) const {
    const float s = sigmoidf(1.702f * x);
    return s + 1.702f * x * s * (1.0f - s);
  }
};
struct ReluGrad {
  __device__ float operator()(float x) const { return x > 0.0f ? 1.0f : 0.0f; }
};
struct SiluGrad {
  __device__ float operator()(float x) const {
    const float s = sigmoidf(x);
    return s * (1.0f + x * (1.0f - s));
  }
};

template <typename T, typename F>
__global__ void unaryKernel(T* out, const T* inp, size_t n, F f) {
  for (size_t i = globalIndex(); i < n; i += gridStride()) out[i] = fromF<T>(f(toF(inp[i])));
}

template <typename T, typename F>
__global__ void binaryKernel(T* out, const T* a, const T* b, size_t n, F f) {
  for (size_t i = globalIndex(); i < n; i += gridStride()) out[i] = fromF<T>(f(toF(a[i]), toF(b[i])));
}

// dinp[i] = dout[i] * f'(inp[i]); reads dout[i] before writing dinp[i] (aliasing allowed).
template <typename T, typename F>
__global__ void gradKernel(T* dinp, const T* dout, const T* inp, size_t n, F fprime) {
  for (size_t i = globalIndex(); i < n; i += gridStride()) dinp[i] = fromF<T>(toF(dout[i]) * fprime(toF(inp[i])));
}

template <typename T>
__global__ void swigluGradKernel(T* dgate, T* dup, const T* dout, const T* gate, const T* up, size_t n) {
  for (size_t i = globalIndex(); i < n; i += gridStride()) {
    const float g = toF(dout[i]), x = toF(gate[i]), u = toF(up[i]), s = sigmoidf(x);
    dgate[i] = fromF<T>(g * u * (s * (1.0f + x * (1.0f - s))));
    dup[i] = fromF<T>(g * x * s);
  }
}

template <typename F>
Status unary(void* out, const void* inp, int64_t n, DType dt, cudaStream_t stream, F f, const char* op) {
  if (n <= 0) return Status::ok();
  return dispatchFloat(dt, op, [&](auto tag) {
    using T = decltype(tag);
    unaryKernel<<<blocksFor(n), kThreads, 0, stream>>>(static_cast<T*>(out), static_cast<const T*>(inp), static_cast<size_t>(n), f);
    return launchStatus(op);
  });
}

template <typename F>
Status binary(void* out, const void* a, const void* b, int64_t n, DType dt, cudaStream_t stream, F f, const char* op) {
  if (n <= 0) return Status::ok();
  return dispatchFloat(dt, op, [&](auto tag) {
    using T = decltype(tag);
    binaryKernel<<<blocksFor(n), kThreads, 0, stream>>>(static_cast<T*>(out), static_cast<const T*>(a),
                                                        static_cast<const T*>(b), static_cast<size_t>(n), f);
    return launchStatus(op);
  });
}

template <typename F>
Status grad(void* dinp, const void* dout, const void* inp, int64_t n, DType dt, cudaStream_t stream, F f, const char* op) {
  if (n <= 0) return Status::ok();
  return dispatchFloat(dt, op, [&](auto tag) {
    using T = decltype(tag);
    gradKernel<<<blocksFor(n), kThreads, 0, stream>>>(static_cast<T*>(dinp), static_cast<const T*>(dout),
                                                      static_cast<const T*>(inp), static_cast<size_t>(n), f);
    return launchStatus(op);
  });
}

}  // namespace

Status quick_gelu_forward(void* out, const void* inp, int64_t n, DType dt, cudaStream_t s) {
  return unary(out, inp, n, dt, s, QuickGelu{}, "quick_gelu_forward");
}
Status gelu_forward(void* out, const void* inp, int64_t n, DType dt, cudaStream_t s) {
  return unary(out, inp, n, dt, s, Gelu{}, "gelu_forward");
}
Status gelu_tanh_forward(void* out, const void* inp, int64_t n, DType dt, cudaStream_t s) {
  return unary(out, inp, n, dt, s, GeluTanh{}, "gelu_tanh_forward");
}
Status silu_forward(void* out, const void* inp, int64_t n, DType dt, cudaStream_t s) {
  return unary(out, inp, n, dt, s, Silu{}, "silu_forward");
}
Status relu_forward(void* out, const void* inp, int64_t n, DType dt, cudaStream_t s) {
  return unary(out, inp, n, dt, s, Relu{}, "relu_forward");
}
Status swiglu_forward(void* out, const void* gate, const void* up, int64_t n, DType dt, cudaStream_t s) {
  return binary(out, gate, up, n, dt, s, Swiglu{}, "swiglu_forward");
}
Status add_inplace(void* a, const void* b, int64_t n, DType dt, cudaStream_t s) {
  return binary(a, a, b, n, dt, s, Add{}, "add_inplace");
}

Status gelu_backward(void* dinp, const void* dout, const void* inp, int64_t n, DType dt, cudaStream_t s) {
  return grad(dinp, dout, inp, n, dt, s, GeluGrad{}, "gelu_backward");
}
Status gelu_tanh_backward(void* dinp, const void* dout, const void* inp, int64_t n, DType dt, cudaStream_t s) {
  return grad(dinp, dout, inp, n, dt, s, GeluTanhGrad{}, "gelu_tanh_backward");
}
Status quick_gelu_backward(void* dinp, const void* dout, const void* inp, int64_t n, DType dt, cudaStream_t s) {
  return grad(dinp, dout, inp, n, dt, s, QuickGeluGrad{}, "quick_gelu_backward");
}
Status silu_backward(void* dinp, const void* dout, const void* inp, int64_t n, DType dt, cudaStream_t s) {
  return grad(dinp, dout, inp, n, dt, s, SiluGrad{}, "silu_backward");
}
Status relu_backward(void* dinp, const void* dout, const void* inp, int64_t n, DType dt, cudaStream_t s) {
  return grad(dinp, dout, inp, n, dt, s, ReluGrad{}, "relu_backward");
}
Status swiglu_backward(void* dgate, void* dup, const void* dout, const void* gate, const void* up, int64_t n, DType dt,
                       cudaStream_t s) {
  if (n <= 0) return Status::ok();
  return dispatchFloat(dt, "swiglu_backward", [&](auto tag) {
    using T = decltype(tag);
    swigluGradKernel<<<blocksFor(n), kThreads, 0, s>>>(static_cast<T*>(dgate), static_cast<T*>(dup),
                                                       static_cast<const T*>(dout), static_cast<const T*>(gate),
                                                       static_cast<const T*>(up), static_cast<size_t>(n));
    return launchStatus("swiglu_backward");
  });
}

}  // namespace stic::cuda
