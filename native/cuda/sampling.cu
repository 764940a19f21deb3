// Token sampling on the GPU (see sampling.cuh for the method). One block of 512 threads per item.
// Legend: B items, V vocab, key(v) the 64-bit rank of token v (larger = better), d a 4-bit digit.
#include "cuda/common.cuh"
#include "cuda/philox.cuh"
#include "cuda/sampling.cuh"

namespace stic::cuda {
namespace {

constexpr int kSampleThreads = 512;  // 16 fp64 + 16 int digit accumulators per thread must stay in registers
constexpr int kDigits = 16;  // 4 bits per radix pass, 16 passes over a 64-bit key

// Logit bits made order-preserving as an unsigned integer (negatives flipped), then the inverted
// token id so that equal logits rank the lower id first. -0 is folded into +0 (x + 0 does that in
// IEEE arithmetic), as the CPU's comparisons treat them as equal. A key is never 0.
__device__ __forceinline__ uint64_t keyOf(float logit, int64_t v) {
  const uint32_t u = __float_as_uint(logit + 0.0f);
  const uint32_t ordered = (u & 0x80000000u) ? ~u : (u | 0x80000000u);
  return (static_cast<uint64_t>(ordered) << 32) | (0xFFFFFFFFu - static_cast<uint32_t>(v));
}
__device__ __forceinline__ int64_t tokenOf(uint64_t key) { return 0xFFFFFFFFu - static_cast<uint32_t>(key); }

enum class Select { Count, MassAtLeast, MassAbove };

struct SelectShared {
  double mass[32][kDigits];  // per-warp digit partials
  int count[32][kDigits];
  double massTotal[kDigits];
  int countTotal[kDigits];
  uint64_t prefix;
  double above;
  int64_t remaining;
  uint64_t u64[32];
  double red[32];
};

__device__ uint64_t blockMaxU64(uint64_t v, uint64_t* smem) {
  for (int o = 16; o > 0; o >>= 1) {
    const uint64_t other = __shfl_xor_sync(kFullMask, v, o);
    v = other > v ? other : v;
  }
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  __syncthreads();
  if (lane == 0) smem[warp] = v;
  __syncthreads();
  uint64_t r = smem[0];
  for (int w = 1; w < warps; w++) r = smem[w] > r ? smem[w] : r;
  return r;
}

// The candidate (key >= low) selected by a most-significant-digit-first walk:
//   Count:        the k-th largest key (k >= 1, at most the number of candidates);
//   MassAtLeast:  the first key, in decreasing order, whose inclusive cumulative mass is >= x;
//   MassAbove:    the first key whose inclusive cumulative mass is > x.
// When the masses never reach x (rounding at the very end of the distribution) the last candidate
// of the range is taken: the CPU twin's fallback to its last sorted candidate. *above receives the
// mass of the candidates ranked before the selected one.
template <typename T, Select kMode>
__device__ uint64_t radixSelect(const T* logits, const double* prob, int64_t V, uint64_t low, double x, int64_t k,
                                double* above, SelectShared& sh) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  __syncthreads();  // every thread has read the previous selection's result out of sh
  if (threadIdx.x == 0) {
    sh.prefix = 0;
    sh.above = 0.0;
    sh.remaining = k;
  }
  __syncthreads();
  for (int shift = 60; shift >= 0; shift -= 4) {
    const uint64_t prefix = sh.prefix;
    double accD[kDigits];
    int accI[kDigits];
#pragma unroll
    for (int d = 0; d < kDigits; d++) accD[d] = 0.0, accI[d] = 0;
    for (int64_t v = threadIdx.x; v < V; v += blockDim.x) {
      const uint64_t key = keyOf(toF(logits[v]), v);
      if (key < low) continue;
      if (shift < 60 && (key >> (shift + 4)) != (prefix >> (shift + 4))) continue;
      const int digit = static_cast<int>((key >> shift) & 15);
      const double m = kMode == Select::Count ? 0.0 : prob[v];
#pragma unroll
      for (int d = 0; d < kDigits; d++) {  // predicated: registers, not local memory
        accD[d] += digit == d ? m : 0.0;
        accI[d] += digit == d ? 1 : 0;
      }
    }
#pragma unroll
    for (int d = 0; d < kDigits; d++) {
      const double sd = warpSum(accD[d]);
      const int si = warpSum(accI[d]);
      if (lane == 0) sh.mass[warp][d] = sd, sh.count[warp][d] = si;
    }
    __syncthreads();
    if (threadIdx.x < kDigits) {
      double md = 0.0;
      int ci = 0;
      for (int w = 0; w < warps; w++) md += sh.mass[w][threadIdx.x], ci += sh.count[w][threadIdx.x];
      sh.massTotal[threadIdx.x] = md;
      sh.countTotal[threadIdx.x] = ci;
    }
    __syncthreads();
    if (threadIdx.x == 0) {
      int chosen = -1, lastNonEmpty = -1;
      double ab = sh.above, abAtLast = sh.above;
      int64_t rem = sh.remaining;
      for (int d = kDigits - 1; d >= 0; d--) {
        const int c = sh.countTotal[d];
        if (c == 0) continue;
        const double m = sh.massTotal[d];
        bool take;
        if (kMode == Select::Count) take = c >= rem;
        else if (kMode == Select::MassAtLeast) take = ab + m >= x;
        else take = ab + m > x;
        if (take) {
          chosen = d;
          break;
        }
        lastNonEmpty = d;
        abAtLast = ab;
        ab += m;
        rem -= c;
      }
      if (chosen < 0) {  // never reached: the last candidate of the range
        chosen = lastNonEmpty;
        ab = abAtLast;
      }
      sh.prefix = prefix | (static_cast<uint64_t>(chosen) << shift);
      sh.above = ab;
      sh.remaining = rem;
    }
    __syncthreads();
  }
  if (above) *above = sh.above;
  return sh.prefix;
}

template <typename T>
__global__ void __launch_bounds__(kSampleThreads) sampleKernel(int32_t* tokens, const T* __restrict__ logits, int64_t ld,
                                                               const SampleItem* __restrict__ items, int64_t V,
                                                               double* work) {
  __shared__ SelectShared sh;
  const int64_t b = blockIdx.x;
  const SampleItem it = items[b];
  const T* x = logits + b * ld;
  double* prob = work + b * V;
  uint64_t best = 0;
  for (int64_t v = threadIdx.x; v < V; v += blockDim.x) {
    const uint64_t key = keyOf(toF(x[v]), v);
    best = key > best ? key : best;
  }
  best = blockMaxU64(best, sh.u64);
  if (it.temperature <= 0.0f || it.topK == 1) {  // greedy: argmax, lowest id on ties
    if (threadIdx.x == 0) tokens[b] = static_cast<int32_t>(tokenOf(best));
    return;
  }
  // Softmax numerators of logits / temperature, max-subtracted, in fp64 (the top candidate is the max).
  const double mx = toF(x[tokenOf(best)]);
  const double invT = 1.0 / static_cast<double>(it.temperature);
  for (int64_t v = threadIdx.x; v < V; v += blockDim.x) prob[v] = exp((static_cast<double>(toF(x[v])) - mx) * invT);
  __syncthreads();  // prob[] is read by every thread of the block below
  uint64_t low = 0;  // candidates: keys >= low
  if (it.topK > 0 && it.topK < V) low = radixSelect<T, Select::Count>(x, prob, V, 0, 0.0, it.topK, nullptr, sh);
  double total = 0.0;
  for (int64_t v = threadIdx.x; v < V; v += blockDim.x) total += keyOf(toF(x[v]), v) >= low ? prob[v] : 0.0;
  total = blockSum(total, sh.red);
  if (it.topP < 1.0f) {  // nucleus: keep candidates while the mass strictly before them is < topP * total
    double before = 0.0;
    const uint64_t last = radixSelect<T, Select::MassAtLeast>(x, prob, V, low, static_cast<double>(it.topP) * total, 0,
                                                              &before, sh);
    total = before + prob[tokenOf(last)];
    low = last;
  }
  const double target = samplingUniform(it.seed, it.step) * total;
  const uint64_t pick = radixSelect<T, Select::MassAbove>(x, prob, V, low, target, 0, nullptr, sh);
  if (threadIdx.x == 0) tokens[b] = static_cast<int32_t>(tokenOf(pick));
}

}  // namespace

size_t sample_tokens_workspace_bytes(int64_t B, int64_t V) { return static_cast<size_t>(B * V) * sizeof(double); }

Status sample_tokens(int32_t* tokens, const void* logits, int64_t ld, const SampleItem* items, int64_t B, int64_t V,
                     void* work, DType dt, cudaStream_t stream) {
  STIC_CHECK_ARG(V >= 1 && V < 0x7FFFFFFFLL && ld >= V, "cuda sample_tokens: expected 1 <= V < 2^31 and ld >= V but received V=",
                 V, ", ld=", ld);
  if (B <= 0) return Status::ok();
  STIC_CHECK_ARG(B <= 2147483647LL, "cuda sample_tokens: expected B < 2^31 but received ", B);
  return dispatchFloat(dt, "sample_tokens", [&](auto tag) {
    using S = decltype(tag);
    sampleKernel<S><<<static_cast<unsigned>(B), kSampleThreads, 0, stream>>>(tokens, static_cast<const S*>(logits), ld, items, V,
                                                                            static_cast<double*>(work));
    return launchStatus("sample_tokens");
  });
}

}  // namespace stic::cuda
