// Batched image corruptions on the GPU: the CUDA twins of native/image/ (resample, color, noise,
// blur, mask), bit-exact with the CPU kernels wherever the CPU result is defined by integer or
// op-by-op float arithmetic (see each .cu for how the roundings are matched).
//
// What stays on the host: drawing each image's parameters (image::drawCorruptionParams — a few
// Philox words per image, the same code the CPU path runs, so both paths draw identical
// parameters by construction), the blur kernel weights (image::gaussianKernel1d) and the masked
// patch lists (image::choosePatches). What runs here: every per-pixel loop, with the per-pixel
// noise drawn on the device from the same Philox stream (Pixels) of the same seed.
//
// A batch is one byte buffer holding images of any sizes, each (H, W, C) uint8 at its own offset,
// described by a device table of jobs (built on the host from the drawn parameters, uploaded once
// per batch). Grids are (work items of the largest image / 256, N images); threads past their
// image's size return at once. Legend: N images, H height, W width, C = 3 channels, k kernel taps.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>
#include <vector>

#include "core/status.h"

namespace stic::cuda {

// ---- lowres: Pillow bilinear resize (resample.cu) -----------------------------------------------
struct ResampleJob {
  int64_t srcOffset, dstOffset;  // bytes, into the source and destination batch buffers
  int64_t tmpOffset;             // bytes, into the scratch of the horizontal pass ([inH, outW, C])
  int64_t weightOffset;          // int32s, into the weight scratch (layout: resample.cu)
  int32_t inW, inH, outW, outH;
  int32_t tapsX, tapsY;          // Pillow's window bound: 2 ceil(support) + 1
};
// The jobs of a batch resized to (outW[i], outH[i]), and the scratch sizes they need.
struct ResamplePlan {
  std::vector<ResampleJob> jobs;
  int64_t dstBytes = 0, tmpBytes = 0, weightInts = 0;
  int64_t maxTmpWork = 0, maxDstBytes = 0, maxAxis = 0;  // grid sizes
};
ResamplePlan resample_plan(const int64_t* srcOffsets, const int32_t* inW, const int32_t* inH, const int32_t* outW,
                           const int32_t* outH, int64_t N);
// dst = Pillow's Image.resize(BILINEAR) of every job's source, bit-exact (22-bit fixed-point
// weights, a rounding to uint8 after each pass, a pass skipped when its axis keeps its size).
Status corrupt_lowres(uint8_t* dst, const uint8_t* src, const ResampleJob* jobs, const ResamplePlan& plan, uint8_t* tmp,
                      int32_t* weights, cudaStream_t stream);

// ---- colour jitter: torchvision's uint8 tensor ops (color.cu) ------------------------------------
struct JitterJob {
  int64_t offset;
  int32_t width, height;
  int32_t order[4];    // JitterOp values (brightness 0, contrast 1, saturation 2, hue 3) in application order
  int32_t enabled[4];  // per JitterOp
  double factor[4];    // per JitterOp, as drawn
};
// In place, every job's four ops in its own order. graySums: N uint64 of scratch (contrast means).
Status corrupt_jitter(uint8_t* images, const JitterJob* jobs, int64_t N, int64_t maxPixels, unsigned long long* graySums,
                      cudaStream_t stream);

// ---- additive noise: Gaussian and diffusion (noise.cu) ------------------------------------------
// y = round(clamp(a x + b + c z)) with z the image seed's Pixels-stream normals (cpu/noise.h):
// Gaussian a = 1, b = 0, c = 255 sigma; diffusion a = sqrt(abar), b = 127.5 (1 - a), c = 127.5 sqrt(1 - abar).
struct NoiseJob {
  int64_t offset, bytes;
  uint64_t seed;
  float a, b, c;
  int32_t pad;
};
NoiseJob gaussian_noise_job(int64_t offset, int64_t bytes, uint64_t seed, double sigma);
NoiseJob diffusion_noise_job(int64_t offset, int64_t bytes, uint64_t seed, double alphaBar);
Status corrupt_noise(uint8_t* images, const NoiseJob* jobs, int64_t N, int64_t maxBytes, cudaStream_t stream);

// ---- Gaussian blur: torchvision's gaussian_blur on uint8 (blur.cu) -------------------------------
struct BlurJob {
  int64_t offset;
  int64_t tmpOffset;  // floats, into the [H, W, C] scratch of the horizontal pass
  int32_t width, height;
  int32_t kernelSize;  // odd
  int32_t weightOffset;  // floats, into the concatenated 1-D kernels (image::gaussianKernel1d)
};
Status corrupt_blur(uint8_t* images, const BlurJob* jobs, const float* weights, float* tmp, int64_t N, int64_t maxBytes,
                    cudaStream_t stream);

// ---- patch masking (mask.cu) ---------------------------------------------------------------------
struct MaskJob {
  int64_t offset;
  int64_t flagOffset;  // into the per-patch flags (row-major over the patch grid, 1 = fill)
  int32_t width, height;
  int32_t patch, gridW;
  uint8_t fill[4];  // R, G, B (and padding)
};
Status corrupt_mask(uint8_t* images, const MaskJob* jobs, const uint8_t* flags, int64_t N, int64_t maxPixels,
                    cudaStream_t stream);

}  // namespace stic::cuda
