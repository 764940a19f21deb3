// Random patch masking on the GPU (native/cpu/mask.h): the patches were chosen on the host
// (image::choosePatches, the Mask stream of the image's seed) and arrive as one flag per patch;
// every pixel of a flagged patch, partial edge patches included, takes the fill colour.
// Legend: corrupt.cuh.
#include "cuda/common.cuh"
#include "cuda/corrupt.cuh"

namespace stic::cuda {
namespace {

// Grid (pixels / 256, N).
__global__ void maskKernel(uint8_t* images, const MaskJob* __restrict__ jobs, const uint8_t* __restrict__ flags) {
  const MaskJob j = jobs[blockIdx.y];
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= static_cast<int64_t>(j.width) * j.height) return;
  const int y = static_cast<int>(i / j.width), x = static_cast<int>(i % j.width);
  if (!flags[j.flagOffset + static_cast<int64_t>(y / j.patch) * j.gridW + x / j.patch]) return;
  uint8_t* px = images + j.offset + 3 * i;
  px[0] = j.fill[0], px[1] = j.fill[1], px[2] = j.fill[2];
}

}  // namespace

Status corrupt_mask(uint8_t* images, const MaskJob* jobs, const uint8_t* flags, int64_t N, int64_t maxPixels,
                    cudaStream_t stream) {
  if (N <= 0 || maxPixels <= 0) return Status::ok();
  STIC_CHECK_ARG(N <= 65535, "cuda corrupt_mask: expected at most 65535 images per batch but received ", N);
  const dim3 grid(static_cast<unsigned>((maxPixels + kThreads - 1) / kThreads), static_cast<unsigned>(N));
  maskKernel<<<grid, kThreads, 0, stream>>>(images, jobs, flags);
  return launchStatus("corrupt_mask");
}

}  // namespace stic::cuda
