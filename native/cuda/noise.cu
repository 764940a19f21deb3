// Additive Gaussian and diffusion noise on the GPU, bit-exact with native/cpu/noise.cpp: byte i
// of an image gets normal i of its seed's Pixels stream (philox.cuh), then
// y = round_half_even(clamp(fma(c, z, fma(a, x, b)), 0, 255)) — the two fused multiply-adds the CPU
// build compiles `a * x + b + c * z` into (checked in its object code; see philox.cuh for the
// normals' own roundings). One thread per Philox block, i.e. 4 bytes.
// Legend: corrupt.cuh.
#include <cmath>

#include "cuda/common.cuh"
#include "cuda/corrupt.cuh"
#include "cuda/philox.cuh"

namespace stic::cuda {
namespace {

constexpr uint32_t kPixelsStream = 1;  // image::Stream::Pixels

// The CPU draws the normals of an image 512 at a time with an AVX2 body of 16 and a scalar tail;
// 512 is a multiple of 16, so exactly the last (bytes mod 16) normals come from the scalar path.
__device__ __forceinline__ float normalAt(uint32_t word, int64_t i, int64_t bytes) {
  return i >= bytes - bytes % 16 ? normalFromWordPlain(word) : normalFromWordFma(word);
}

// Grid (bytes / 4 / 256, N).
__global__ void noiseKernel(uint8_t* images, const NoiseJob* __restrict__ jobs) {
  const NoiseJob j = jobs[blockIdx.y];
  const int64_t block = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t i0 = 4 * block;
  if (i0 >= j.bytes) return;
  const PhiloxOut words = corruptionBlock(j.seed, kPixelsStream, static_cast<uint64_t>(block));
  uint8_t* px = images + j.offset;
  for (int lane = 0; lane < 4 && i0 + lane < j.bytes; lane++) {
    const int64_t i = i0 + lane;
    const float z = normalAt(words.w[lane], i, j.bytes);
    const float v = __fmaf_rn(j.c, z, __fmaf_rn(j.a, static_cast<float>(px[i]), j.b));
    px[i] = static_cast<uint8_t>(rintf(fminf(fmaxf(v, 0.0f), 255.0f)));
  }
}

}  // namespace

NoiseJob gaussian_noise_job(int64_t offset, int64_t bytes, uint64_t seed, double sigma) {
  return {offset, bytes, seed, 1.0f, 0.0f, static_cast<float>(255.0 * sigma), 0};
}

NoiseJob diffusion_noise_job(int64_t offset, int64_t bytes, uint64_t seed, double alphaBar) {
  // (sqrt(abar) (x / 127.5 - 1) + sqrt(1 - abar) z + 1) * 127.5 as one affine map of (x, z), as noise.cpp.
  const double sa = std::sqrt(alphaBar), sn = std::sqrt(1.0 - alphaBar);
  return {offset, bytes, seed, static_cast<float>(sa), static_cast<float>(127.5 * (1.0 - sa)), static_cast<float>(127.5 * sn), 0};
}

Status corrupt_noise(uint8_t* images, const NoiseJob* jobs, int64_t N, int64_t maxBytes, cudaStream_t stream) {
  if (N <= 0 || maxBytes <= 0) return Status::ok();
  STIC_CHECK_ARG(N <= 65535, "cuda corrupt_noise: expected at most 65535 images per batch but received ", N);
  const int64_t blocks = (maxBytes + 3) / 4;
  const dim3 grid(static_cast<unsigned>((blocks + kThreads - 1) / kThreads), static_cast<unsigned>(N));
  noiseKernel<<<grid, kThreads, 0, stream>>>(images, jobs);
  return launchStatus("corrupt_noise");
}

}  // namespace stic::cuda
