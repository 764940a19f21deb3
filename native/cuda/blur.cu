// Gaussian blur on the GPU, bit-exact with native/cpu/blur.cpp: two 1-D passes with reflect
// padding (edge not repeated), each output a chain of fused multiply-adds over the taps in order
// from zero — what the CPU's AVX2 body (explicit FMA) and its scalar tail (contracted by the
// compiler, checked in its object code) both compute — then round half to even and clamp.
// The kernel weights come from the host (image::gaussianKernel1d), the same floats the CPU uses.
// Legend: corrupt.cuh; k taps, r = k / 2.
#include "cuda/common.cuh"
#include "cuda/corrupt.cuh"

namespace stic::cuda {
namespace {

// blur.cpp's reflectIndex: period 2n - 2, defined for any i, so kernels wider than the image work.
__device__ __forceinline__ int reflectIndex(int i, int n) {
  if (n == 1) return 0;
  const int period = 2 * n - 2;
  int m = i % period;
  if (m < 0) m += period;
  return m < n ? m : period - m;
}

// Grid (bytes / 256, N): tmp = horizontal pass (fp32), one byte position per thread.
__global__ void blurHorizontalKernel(float* tmp, const uint8_t* __restrict__ images, const BlurJob* __restrict__ jobs,
                                     const float* __restrict__ weights) {
  const BlurJob j = jobs[blockIdx.y];
  const int64_t rowBytes = static_cast<int64_t>(j.width) * 3;
  const int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (e >= rowBytes * j.height) return;
  const int64_t y = e / rowBytes;
  const int x = static_cast<int>((e % rowBytes) / 3), c = static_cast<int>(e % 3);
  const uint8_t* row = images + j.offset + y * rowBytes;
  const float* k = weights + j.weightOffset;
  const int r = j.kernelSize / 2;
  float acc = 0.0f;
  for (int t = 0; t < j.kernelSize; t++) acc = __fmaf_rn(k[t], static_cast<float>(row[reflectIndex(x + t - r, j.width) * 3 + c]), acc);
  tmp[j.tmpOffset + e] = acc;
}

// Grid (bytes / 256, N): the vertical pass over tmp, rounded back into the image.
__global__ void blurVerticalKernel(uint8_t* images, const float* __restrict__ tmp, const BlurJob* __restrict__ jobs,
                                   const float* __restrict__ weights) {
  const BlurJob j = jobs[blockIdx.y];
  const int64_t rowBytes = static_cast<int64_t>(j.width) * 3;
  const int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (e >= rowBytes * j.height) return;
  const int y = static_cast<int>(e / rowBytes);
  const int64_t b = e % rowBytes;
  const float* in = tmp + j.tmpOffset;
  const float* k = weights + j.weightOffset;
  const int r = j.kernelSize / 2;
  float acc = 0.0f;
  for (int t = 0; t < j.kernelSize; t++) acc = __fmaf_rn(k[t], in[reflectIndex(y + t - r, j.height) * rowBytes + b], acc);
  images[j.offset + e] = static_cast<uint8_t>(rintf(fminf(fmaxf(acc, 0.0f), 255.0f)));
}

}  // namespace

Status corrupt_blur(uint8_t* images, const BlurJob* jobs, const float* weights, float* tmp, int64_t N, int64_t maxBytes,
                    cudaStream_t stream) {
  if (N <= 0 || maxBytes <= 0) return Status::ok();
  STIC_CHECK_ARG(N <= 65535, "cuda corrupt_blur: expected at most 65535 images per batch but received ", N);
  const dim3 grid(static_cast<unsigned>((maxBytes + kThreads - 1) / kThreads), static_cast<unsigned>(N));
  blurHorizontalKernel<<<grid, kThreads, 0, stream>>>(tmp, images, jobs, weights);
  STIC_RETURN_IF_ERROR(launchStatus("corrupt_blur (horizontal)"));
  blurVerticalKernel<<<grid, kThreads, 0, stream>>>(images, tmp, jobs, weights);
  return launchStatus("corrupt_blur (vertical)");
}

}  // namespace stic::cuda
