// Colour jitter on the GPU with torchvision's uint8 tensor semantics, bit-exact with
// native/cpu/color.cpp (read its header for the torchvision formulas). The CPU file compiles
// with floating-point contraction off so that every torch op rounds once; here the same is made
// explicit with __fmul_rn / __fadd_rn / __fdiv_rn (nvcc fuses a * b + c by default).
// Each image applies its four ops in its own drawn order, so the batch runs in four stages: at
// stage s every image applies op order[s]. Contrast needs the mean of the image's grayscale as it
// is at that stage: a reduction kernel (integer sums, exact in any order) runs before the stage.
// Legend: corrupt.cuh; P pixels of an image.
#include "cuda/common.cuh"
#include "cuda/corrupt.cuh"

namespace stic::cuda {
namespace {

constexpr int kBrightness = 0, kContrast = 1, kSaturation = 2, kHue = 3;

// torch: float32 result clamped to [0, 255], then .to(uint8) truncates toward zero.
__device__ __forceinline__ uint8_t clampTruncU8(float v) { return static_cast<uint8_t>(fminf(fmaxf(v, 0.0f), 255.0f)); }

// rgb_to_grayscale on uint8: (0.2989 r + 0.587 g) + 0.114 b in float32, truncated.
__device__ __forceinline__ uint8_t grayU8(uint8_t r, uint8_t g, uint8_t b) {
  const float v = __fadd_rn(__fadd_rn(__fmul_rn(0.2989f, static_cast<float>(r)), __fmul_rn(0.587f, static_cast<float>(g))),
                            __fmul_rn(0.114f, static_cast<float>(b)));
  return static_cast<uint8_t>(v);
}

// _blend(img, other, ratio) = ratio * img + (1 - ratio) * other, the second product precomputed.
__device__ __forceinline__ uint8_t blend(uint8_t p, float a, float bOther) {
  return clampTruncU8(__fadd_rn(__fmul_rn(a, static_cast<float>(p)), bOther));
}

// One pixel's hue shift, in place on (r, g, b) in [0, 1]: color.cpp's hueShiftRow, op by op.
__device__ void hueShift(float& r, float& g, float& b, float shift) {
  const float R = r, G = g, B = b;
  const float maxc = fmaxf(R, fmaxf(G, B));
  const float minc = fminf(R, fminf(G, B));
  const bool eqc = maxc == minc;
  const float cr = __fsub_rn(maxc, minc);
  const float s = __fdiv_rn(cr, eqc ? 1.0f : maxc);
  const float crDiv = eqc ? 1.0f : cr;
  const float rc = __fdiv_rn(__fsub_rn(maxc, R), crDiv);
  const float gc = __fdiv_rn(__fsub_rn(maxc, G), crDiv);
  const float bc = __fdiv_rn(__fsub_rn(maxc, B), crDiv);
  const bool isR = maxc == R, isG = maxc == G;
  const float hr = isR ? __fsub_rn(bc, gc) : 0.0f;
  const float hg = (isG && !isR) ? __fsub_rn(__fadd_rn(2.0f, rc), bc) : 0.0f;
  const float hb = (!isG && !isR) ? __fsub_rn(__fadd_rn(4.0f, gc), rc) : 0.0f;
  float h = __fadd_rn(__fadd_rn(hr, hg), hb);
  h = __fadd_rn(__fdiv_rn(h, 6.0f), 1.0f);
  h = h >= 1.0f ? __fsub_rn(h, 1.0f) : h;
  float hs = __fadd_rn(h, shift);  // (h + shift) % 1.0 with Python semantics
  hs = hs >= 1.0f ? __fsub_rn(hs, 1.0f) : hs;
  hs = hs < 0.0f ? __fadd_rn(hs, 1.0f) : hs;
  const float h6 = __fmul_rn(hs, 6.0f);
  const float fi = floorf(h6);
  const float f = __fsub_rn(h6, fi);
  const float sector = fi >= 6.0f ? __fsub_rn(fi, 6.0f) : fi;
  const float v = maxc;
  const float p = fminf(fmaxf(__fmul_rn(v, __fsub_rn(1.0f, s)), 0.0f), 1.0f);
  const float q = fminf(fmaxf(__fmul_rn(v, __fsub_rn(1.0f, __fmul_rn(s, f))), 0.0f), 1.0f);
  const float t = fminf(fmaxf(__fmul_rn(v, __fsub_rn(1.0f, __fmul_rn(s, __fsub_rn(1.0f, f)))), 0.0f), 1.0f);
  const bool s0 = sector == 0.0f, s1 = sector == 1.0f, s2 = sector == 2.0f;
  const bool s3 = sector == 3.0f, s4 = sector == 4.0f, s5 = sector == 5.0f;
  r = (s0 || s5) ? v : s1 ? q : s4 ? t : p;
  g = (s1 || s2) ? v : s0 ? t : s3 ? q : p;
  b = (s3 || s4) ? v : s2 ? t : s5 ? q : p;
}

// Grid (P / 256, N): graySums[n] += the uint8 grayscale of image n's pixels, for images whose op at
// `stage` is an enabled contrast. Integer atomics: the sum is exact whatever the order.
__global__ void graySumKernel(unsigned long long* graySums, const uint8_t* __restrict__ images,
                              const JitterJob* __restrict__ jobs, int stage) {
  __shared__ unsigned long long red[32];
  const JitterJob j = jobs[blockIdx.y];
  const int op = j.order[stage];
  if (op != kContrast || !j.enabled[op]) return;
  const int64_t pixels = static_cast<int64_t>(j.width) * j.height;
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  unsigned long long v = 0;
  if (i < pixels) {
    const uint8_t* px = images + j.offset + 3 * i;
    v = grayU8(px[0], px[1], px[2]);
  }
  v = blockSum(v, red);
  if (threadIdx.x == 0 && v) atomicAdd(graySums + blockIdx.y, v);
}

// Grid (P / 256, N): one pixel of one image per thread applies that image's op of `stage`.
__global__ void jitterStageKernel(uint8_t* images, const JitterJob* __restrict__ jobs,
                                  const unsigned long long* __restrict__ graySums, int stage) {
  const JitterJob j = jobs[blockIdx.y];
  const int op = j.order[stage];
  if (!j.enabled[op]) return;
  const int64_t pixels = static_cast<int64_t>(j.width) * j.height;
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= pixels) return;
  uint8_t* px = images + j.offset + 3 * i;
  const double f = j.factor[op];
  if (op == kBrightness || op == kContrast) {
    // mean of the uint8 grayscale as float32: the exact integer sum, one rounding at the end.
    const float other = op == kBrightness ? 0.0f
                                          : static_cast<float>(static_cast<double>(graySums[blockIdx.y]) / static_cast<double>(pixels));
    const float a = static_cast<float>(f);
    const float bOther = __fmul_rn(static_cast<float>(1.0 - f), other);
    for (int c = 0; c < 3; c++) px[c] = blend(px[c], a, bOther);
  } else if (op == kSaturation) {
    const float a = static_cast<float>(f), b = static_cast<float>(1.0 - f);
    const float other = __fmul_rn(b, static_cast<float>(grayU8(px[0], px[1], px[2])));
    for (int c = 0; c < 3; c++) px[c] = blend(px[c], a, other);
  } else if (op == kHue) {
    float r = __fdiv_rn(static_cast<float>(px[0]), 255.0f);  // convert_image_dtype(uint8 -> float32)
    float g = __fdiv_rn(static_cast<float>(px[1]), 255.0f);
    float b = __fdiv_rn(static_cast<float>(px[2]), 255.0f);
    hueShift(r, g, b, static_cast<float>(f));
    px[0] = static_cast<uint8_t>(__fmul_rn(r, 255.999f));  // convert_image_dtype(float32 -> uint8)
    px[1] = static_cast<uint8_t>(__fmul_rn(g, 255.999f));
    px[2] = static_cast<uint8_t>(__fmul_rn(b, 255.999f));
  }
}

}  // namespace

Status corrupt_jitter(uint8_t* images, const JitterJob* jobs, int64_t N, int64_t maxPixels, unsigned long long* graySums,
                      cudaStream_t stream) {
  if (N <= 0 || maxPixels <= 0) return Status::ok();
  STIC_CHECK_ARG(N <= 65535, "cuda corrupt_jitter: expected at most 65535 images per batch but received ", N);
  const dim3 grid(static_cast<unsigned>((maxPixels + kThreads - 1) / kThreads), static_cast<unsigned>(N));
  for (int stage = 0; stage < 4; stage++) {
    STIC_RETURN_IF_ERROR(cudaStatus(cudaMemsetAsync(graySums, 0, static_cast<size_t>(N) * sizeof(unsigned long long), stream),
                                    "corrupt_jitter (clear sums)"));
    graySumKernel<<<grid, kThreads, 0, stream>>>(graySums, images, jobs, stage);
    STIC_RETURN_IF_ERROR(launchStatus("corrupt_jitter (grayscale sums)"));
    jitterStageKernel<<<grid, kThreads, 0, stream>>>(images, jobs, graySums, stage);
    STIC_RETURN_IF_ERROR(launchStatus("corrupt_jitter (stage)"));
  }
  return Status::ok();
}

}  // namespace stic::cuda
