// The reference GEMM (see gemm.cuh): 32 x 32 output tiles, 16 x 16 threads with a 2 x 2 register
// tile each, K walked 32 at a time through shared memory. Correctness and clarity first: it is
// what the cuBLASLt wrapper and the composites are checked against, not a production kernel.
// Legend: M, N, K matrix sizes; a tile is 32 rows (m) x 32 columns (n) of C.
#include "cuda/common.cuh"
#include "cuda/gemm.cuh"

namespace stic::cuda {
namespace {

constexpr int kTile = 32;

// As[m][k] = op(A)[m0 + m][k0 + k]; Bs[k][n] = op(B)[k0 + k][n0 + n]; zero outside the matrices.
template <typename T>
__global__ void gemmKernel(GemmArgs g) {
  __shared__ float As[kTile][kTile + 1];
  __shared__ float Bs[kTile][kTile + 1];
  const T* A = static_cast<const T*>(g.A);
  const T* B = static_cast<const T*>(g.B);
  const int tx = threadIdx.x, ty = threadIdx.y, tid = ty * 16 + tx;
  const int64_t m0 = static_cast<int64_t>(blockIdx.y) * kTile, n0 = static_cast<int64_t>(blockIdx.x) * kTile;
  float acc[2][2] = {{0.0f, 0.0f}, {0.0f, 0.0f}};
  for (int64_t k0 = 0; k0 < g.K; k0 += kTile) {
    for (int idx = tid; idx < kTile * kTile; idx += 256) {
      const int r = idx / kTile, c = idx % kTile;
      {  // A tile element (m = r, k = c)
        const int64_t m = m0 + r, k = k0 + c;
        float v = 0.0f;
        if (m < g.M && k < g.K) v = toF(g.transA ? A[k * g.lda + m] : A[m * g.lda + k]);
        As[r][c] = v;
      }
      {  // B tile element (k = r, n = c)
        const int64_t k = k0 + r, n = n0 + c;
        float v = 0.0f;
        if (k < g.K && n < g.N) v = toF(g.transB ? B[n * g.ldb + k] : B[k * g.ldb + n]);
        Bs[r][c] = v;
      }
    }
    __syncthreads();
    for (int k = 0; k < kTile; k++) {
      const float a0 = As[ty][k], a1 = As[ty + 16][k];
      const float b0 = Bs[k][tx], b1 = Bs[k][tx + 16];
      acc[0][0] += a0 * b0;
      acc[0][1] += a0 * b1;
      acc[1][0] += a1 * b0;
      acc[1][1] += a1 * b1;
    }
    __syncthreads();
  }
  for (int i = 0; i < 2; i++) {
    for (int j = 0; j < 2; j++) {
      const int64_t m = m0 + ty + 16 * i, n = n0 + tx + 16 * j;
      if (m >= g.M || n >= g.N) continue;
      float* c = g.C + m * g.ldc + n;
      *c = g.beta == 0.0f ? g.alpha * acc[i][j] : g.alpha * acc[i][j] + g.beta * *c;
    }
  }
}

class ReferenceGemm final : public Gemm {
 public:
  const char* name() const override { return "reference"; }
  Status run(GemmArgs g, cudaStream_t stream) const override { return gemm_reference(g, stream); }
};

}  // namespace

Status gemm_check(GemmArgs& g, const char* who) {
  STIC_CHECK_ARG(g.M >= 0 && g.N >= 0 && g.K >= 0, who, ": expected non-negative sizes but received M=", g.M, ", N=", g.N,
                 ", K=", g.K);
  const int64_t aCols = g.transA ? g.M : g.K, bCols = g.transB ? g.K : g.N;
  if (g.lda == 0) g.lda = aCols;
  if (g.ldb == 0) g.ldb = bCols;
  if (g.ldc == 0) g.ldc = g.N;
  STIC_CHECK_ARG(g.lda >= aCols && g.ldb >= bCols && g.ldc >= g.N, who, ": expected row strides lda >= ", aCols,
                 ", ldb >= ", bCols, ", ldc >= ", g.N, " but received ", g.lda, ", ", g.ldb, ", ", g.ldc);
  STIC_CHECK_ARG(g.ab == DType::F32 || g.ab == DType::BF16, who, ": expected F32 or BF16 inputs but received ",
                 dtypeName(g.ab));
  return Status::ok();
}

Status gemm_reference(GemmArgs g, cudaStream_t stream) {
  STIC_RETURN_IF_ERROR(gemm_check(g, "cuda gemm_reference"));
  if (g.M == 0 || g.N == 0) return Status::ok();
  STIC_CHECK_ARG((g.M + kTile - 1) / kTile <= 65535, "cuda gemm_reference: expected M <= ", 65535LL * kTile,
                 " but received ", g.M);
  const dim3 grid(static_cast<unsigned>((g.N + kTile - 1) / kTile), static_cast<unsigned>((g.M + kTile - 1) / kTile));
  const dim3 block(16, 16);
  return dispatchFloat(g.ab, "gemm_reference", [&](auto tag) {
    using S = decltype(tag);
    gemmKernel<S><<<grid, block, 0, stream>>>(g);
    return launchStatus("gemm_reference");
  });
}

const Gemm& referenceGemm() {
  static const ReferenceGemm instance;
  return instance;
}

}  // namespace stic::cuda
