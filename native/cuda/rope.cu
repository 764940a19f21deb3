// Rotary position embedding (HF "default" rope, rotate_half pairing) forward and backward on the
// GPU, in place (see ops.cuh). Legend: T tokens, H heads, hd head dim, half = hd / 2 pairs
// (i, i + half) per head.
// One thread per (token, pair) walks the heads, so each angle's cos/sin is computed once and reused
// H times. The angle is rounded exactly like HF and the CPU twin: inv_freq in fp32 from a
// double-precision power, angle = fp32(position) * inv_freq in fp32; the backward rotates by the
// transposed matrix of the same angles (its inv_freq comes from a float power, as the CPU backward's).
#include "cuda/common.cuh"
#include "cuda/ops.cuh"

namespace stic::cuda {
namespace {

template <typename T, bool kBackward>
__global__ void ropeKernel(T* x, const int64_t* __restrict__ positions, int64_t T_, int64_t H, int64_t hd, int64_t ldx,
                           float theta) {
  const int64_t half = hd / 2;
  const int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= T_ * half) return;
  const int64_t t = idx / half, i = idx % half;
  const float e = static_cast<float>(2 * i) / static_cast<float>(hd);
  const float invFreq = kBackward ? 1.0f / powf(theta, e)
                                  : 1.0f / static_cast<float>(pow(static_cast<double>(theta), static_cast<double>(e)));
  const float ang = __fmul_rn(static_cast<float>(positions[t]), invFreq);
  float sn, cs;
  sincosf(ang, &sn, &cs);
  for (int64_t h = 0; h < H; h++) {
    T* a = x + t * ldx + h * hd + i;
    T* b = a + half;
    const float av = toF(*a), bv = toF(*b);
    if (kBackward) {  // transpose of [[c, -s], [s, c]]
      *a = fromF<T>(av * cs + bv * sn);
      *b = fromF<T>(bv * cs - av * sn);
    } else {  // a' = a c - b s, b' = b c + a s  (rotate_half(x) = [-b, a])
      *a = fromF<T>(av * cs - bv * sn);
      *b = fromF<T>(bv * cs + av * sn);
    }
  }
}

template <bool kBackward>
Status rope(void* x, const int64_t* positions, int64_t T, int64_t H, int64_t hd, int64_t ldx, float theta, DType dt,
            cudaStream_t stream, const char* op) {
  STIC_CHECK_ARG(hd % 2 == 0, "cuda ", op, ": expected an even head dim but received ", hd);
  const int64_t n = T * (hd / 2);
  if (n <= 0 || H <= 0) return Status::ok();
  return dispatchFloat(dt, op, [&](auto tag) {
    using S = decltype(tag);
    ropeKernel<S, kBackward><<<static_cast<unsigned>((n + kThreads - 1) / kThreads), kThreads, 0, stream>>>(
        static_cast<S*>(x), positions, T, H, hd, ldx, theta);
    return launchStatus(op);
  });
}

}  // namespace

Status rope_forward(void* x, const int64_t* positions, int64_t T, int64_t H, int64_t hd, int64_t ldx, float theta,
                    DType dt, cudaStream_t stream) {
  return rope<false>(x, positions, T, H, hd, ldx, theta, dt, stream, "rope_forward");
}
Status rope_backward(void* dx, const int64_t* positions, int64_t T, int64_t H, int64_t hd, int64_t ldx, float theta,
                     DType dt, cudaStream_t stream) {
  return rope<true>(dx, positions, T, H, hd, ldx, theta, dt, stream, "rope_backward");
}

}  // namespace stic::cuda
