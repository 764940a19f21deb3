// The low-resolution corruption on the GPU: Pillow's bilinear Image.resize, bit-exact with
// native/cpu/resample.cpp (which explains why Pillow and not libvips). Three kernels per batch:
//   weights     one thread per output column / row of each job: Pillow's precompute_coeffs in
//               fp64 with explicitly rounded operations (__dadd_rn, __dmul_rn...: nvcc would
//               otherwise fuse a multiply and an add and move a weight across a rounding boundary;
//               the CPU build never fuses these expressions, none of them has the a * b + c shape)
//   horizontal  tmp[inH, outW, C]: fixed-point sums of each input row (a copy when outW == inW)
//   vertical    dst[outH, outW, C]: fixed-point sums down the columns of tmp (a copy when outH == inH)
// Integer sums are exact in any order, so the two passes match Pillow bit for bit.
// Weight scratch of one job, int32: firstX[outW] countX[outW] wX[outW, tapsX] firstY[outH] countY[outH] wY[outH, tapsY].
// Legend: corrupt.cuh.
#include <algorithm>
#include <cmath>

#include "cuda/common.cuh"
#include "cuda/corrupt.cuh"

namespace stic::cuda {
namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;  // Pillow: 8 bits of result, 2 of headroom

// Pillow's taps bound for the bilinear filter (support 1, stretched when shrinking).
int tapsFor(int inSize, int outSize) {
  const double scale = static_cast<double>(inSize) / outSize;
  const double support = std::max(scale, 1.0);
  return static_cast<int>(std::ceil(support)) * 2 + 1;
}

__device__ __forceinline__ double bilinearWeight(double x) {
  x = fabs(x);
  return x < 1.0 ? __dsub_rn(1.0, x) : 0.0;
}

// Output index i of one axis: first input, count and taps fixed-point weights (resample.cpp's axisWeights).
__device__ void axisWeight(int i, int inSize, int outSize, int taps, int32_t* first, int32_t* count, int32_t* w) {
  const double scale = __ddiv_rn(static_cast<double>(inSize), static_cast<double>(outSize));
  const double filterScale = fmax(scale, 1.0);
  const double support = filterScale;  // bilinear support 1.0 x filterScale
  const double invScale = __ddiv_rn(1.0, filterScale);
  const double center = __dmul_rn(static_cast<double>(i) + 0.5, scale);
  const int lo = max(static_cast<int>(__dadd_rn(__dsub_rn(center, support), 0.5)), 0);
  const int hi = min(static_cast<int>(__dadd_rn(__dadd_rn(center, support), 0.5)), inSize);
  const int n = hi - lo;
  double sum = 0.0;
  for (int t = 0; t < n; t++) {
    sum = __dadd_rn(sum, bilinearWeight(__dmul_rn(__dadd_rn(__dsub_rn(static_cast<double>(t + lo), center), 0.5), invScale)));
  }
  for (int t = 0; t < taps; t++) {
    int32_t q = 0;
    if (t < n) {
      const double k = bilinearWeight(__dmul_rn(__dadd_rn(__dsub_rn(static_cast<double>(t + lo), center), 0.5), invScale));
      const double v = __dmul_rn(sum != 0.0 ? __ddiv_rn(k, sum) : k, static_cast<double>(1 << kPrecisionBits));
      q = static_cast<int32_t>(v < 0 ? __dsub_rn(v, 0.5) : __dadd_rn(v, 0.5));
    }
    w[t] = q;
  }
  *first = lo;
  *count = n;
}

// Grid (axis entries / 256, N): entry e < outW is column e, then rows.
__global__ void weightsKernel(int32_t* weights, const ResampleJob* __restrict__ jobs) {
  const ResampleJob j = jobs[blockIdx.y];
  const int e = blockIdx.x * blockDim.x + threadIdx.x;
  int32_t* base = weights + j.weightOffset;
  if (e < j.outW) {
    axisWeight(e, j.inW, j.outW, j.tapsX, base + e, base + j.outW + e, base + 2 * j.outW + static_cast<int64_t>(e) * j.tapsX);
    return;
  }
  const int y = e - j.outW;
  if (y >= j.outH) return;
  int32_t* wy = base + 2 * j.outW + static_cast<int64_t>(j.outW) * j.tapsX;
  axisWeight(y, j.inH, j.outH, j.tapsY, wy + y, wy + j.outH + y, wy + 2 * j.outH + static_cast<int64_t>(y) * j.tapsY);
}

__device__ __forceinline__ uint8_t clip8(int32_t acc) {
  const int32_t v = acc >> kPrecisionBits;  // arithmetic shift, as Pillow's lookup index
  return static_cast<uint8_t>(v < 0 ? 0 : v > 255 ? 255 : v);
}

// Grid (inH * outW / 256, N): one output pixel (3 channels) of the horizontal pass per thread.
__global__ void horizontalKernel(uint8_t* tmp, const uint8_t* __restrict__ src, const int32_t* __restrict__ weights,
                                 const ResampleJob* __restrict__ jobs) {
  const ResampleJob j = jobs[blockIdx.y];
  const int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (e >= static_cast<int64_t>(j.inH) * j.outW) return;
  const int64_t y = e / j.outW, x = e % j.outW;
  const uint8_t* row = src + j.srcOffset + y * j.inW * 3;
  uint8_t* out = tmp + j.tmpOffset + (y * j.outW + x) * 3;
  if (j.outW == j.inW) {  // Pillow skips the pass
    out[0] = row[x * 3], out[1] = row[x * 3 + 1], out[2] = row[x * 3 + 2];
    return;
  }
  const int32_t* base = weights + j.weightOffset;
  const int first = base[x], count = base[j.outW + x];
  const int32_t* k = base + 2 * j.outW + x * j.tapsX;
  int32_t a0 = 1 << (kPrecisionBits - 1), a1 = a0, a2 = a0;
  for (int t = 0; t < count; t++) {
    const uint8_t* p = row + (first + t) * 3;
    a0 += p[0] * k[t];
    a1 += p[1] * k[t];
    a2 += p[2] * k[t];
  }
  out[0] = clip8(a0), out[1] = clip8(a1), out[2] = clip8(a2);
}

// Grid (outH * outW * C / 256, N): one output byte of the vertical pass per thread.
__global__ void verticalKernel(uint8_t* dst, const uint8_t* __restrict__ tmp, const int32_t* __restrict__ weights,
                               const ResampleJob* __restrict__ jobs) {
  const ResampleJob j = jobs[blockIdx.y];
  const int64_t rowBytes = static_cast<int64_t>(j.outW) * 3;
  const int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (e >= j.outH * rowBytes) return;
  const int64_t y = e / rowBytes, b = e % rowBytes;
  const uint8_t* in = tmp + j.tmpOffset;
  if (j.outH == j.inH) {
    dst[j.dstOffset + e] = in[y * rowBytes + b];
    return;
  }
  const int32_t* wy = weights + j.weightOffset + 2 * j.outW + static_cast<int64_t>(j.outW) * j.tapsX;
  const int first = wy[y], count = wy[j.outH + y];
  const int32_t* k = wy + 2 * j.outH + y * j.tapsY;
  int32_t acc = 1 << (kPrecisionBits - 1);
  for (int t = 0; t < count; t++) acc += in[(first + t) * rowBytes + b] * k[t];
  dst[j.dstOffset + e] = clip8(acc);
}

}  // namespace

ResamplePlan resample_plan(const int64_t* srcOffsets, const int32_t* inW, const int32_t* inH, const int32_t* outW,
                           const int32_t* outH, int64_t N) {
  ResamplePlan p;
  for (int64_t i = 0; i < N; i++) {
    ResampleJob j;
    j.srcOffset = srcOffsets[i];
    j.inW = inW[i], j.inH = inH[i], j.outW = outW[i], j.outH = outH[i];
    j.tapsX = tapsFor(j.inW, j.outW);
    j.tapsY = tapsFor(j.inH, j.outH);
    j.dstOffset = p.dstBytes;
    j.tmpOffset = p.tmpBytes;
    j.weightOffset = p.weightInts;
    const int64_t dstBytes = static_cast<int64_t>(j.outW) * j.outH * 3, tmpBytes = static_cast<int64_t>(j.inH) * j.outW * 3;
    p.dstBytes += dstBytes;
    p.tmpBytes += tmpBytes;
    p.weightInts += static_cast<int64_t>(j.outW) * (2 + j.tapsX) + static_cast<int64_t>(j.outH) * (2 + j.tapsY);
    p.maxTmpWork = std::max<int64_t>(p.maxTmpWork, static_cast<int64_t>(j.inH) * j.outW);
    p.maxDstBytes = std::max(p.maxDstBytes, dstBytes);
    p.maxAxis = std::max<int64_t>(p.maxAxis, static_cast<int64_t>(j.outW) + j.outH);
    p.jobs.push_back(j);
  }
  return p;
}

Status corrupt_lowres(uint8_t* dst, const uint8_t* src, const ResampleJob* jobs, const ResamplePlan& plan, uint8_t* tmp,
                      int32_t* weights, cudaStream_t stream) {
  const int64_t N = static_cast<int64_t>(plan.jobs.size());
  if (N == 0) return Status::ok();
  STIC_CHECK_ARG(N <= 65535, "cuda corrupt_lowres: expected at most 65535 images per batch but received ", N);
  const auto grid = [&](int64_t work) { return dim3(static_cast<unsigned>((work + kThreads - 1) / kThreads), static_cast<unsigned>(N)); };
  weightsKernel<<<grid(plan.maxAxis), kThreads, 0, stream>>>(weights, jobs);
  STIC_RETURN_IF_ERROR(launchStatus("corrupt_lowres (weights)"));
  horizontalKernel<<<grid(plan.maxTmpWork), kThreads, 0, stream>>>(tmp, src, weights, jobs);
  STIC_RETURN_IF_ERROR(launchStatus("corrupt_lowres (horizontal)"));
  verticalKernel<<<grid(plan.maxDstBytes), kThreads, 0, stream>>>(dst, tmp, weights, jobs);
  return launchStatus("corrupt_lowres (vertical)");
}

}  // namespace stic::cuda
