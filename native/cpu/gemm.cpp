// SGEMM and the nn.Linear forward on the CPU (fp32), after the GotoBLAS/BLIS scheme: for each
// K block (kc) pack alpha*op(A) into MR-row micro-panels, for each N block (nc) pack op(B) into
// NR-column micro-panels, then run MR x NR register tiles (gemm_kernels_*.cpp) over a grid of
// (MC rows x NB columns) tiles shared dynamically by the OpenMP team. Packing absorbs every
// transpose and leading dimension, so the tiles only ever see unit-stride, aligned panels.
// Small M with a transposed B (decode: a few token rows times an [N,K] weight) takes the rows path,
// which streams the weight once instead of packing it.
// Legend: M, N, K matrix sizes; MR x NR register tile; MC, KC, NC cache blocks; NB tile columns.
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "cpu/gemm_kernels.h"
#include "cpu/ops.h"
#include "cpu/vec_math.h"

namespace stic::cpu {
namespace {

using gemm::Kernels;

constexpr int64_t kTileCols = 256;      // NB: a multiple of every NR
constexpr int64_t kRowsPathMaxM = 16;   // decode batches up to this many rows stream the weight
constexpr int64_t kRowsPathBlock = 64;  // weight rows per scheduling unit of the rows path
constexpr double kParallelFlops = 1e6;  // below this a parallel region costs more than it saves
constexpr int64_t kPackBudget = 8 << 20;  // floats of packed A + B held at once (32 MiB)

std::atomic<const Kernels*> gForced{nullptr};

const Kernels& bestKernels() {
  if (const Kernels* k = gemm::avx512Kernels()) return *k;
  if (const Kernels* k = gemm::avx2Kernels()) return *k;
  return gemm::scalarKernels();
}

const Kernels& activeKernels() {
  const Kernels* k = gForced.load(std::memory_order_relaxed);
  return k ? *k : bestKernels();
}

// A growable 64-byte-aligned scratch buffer; one per thread (thread_local), reused across calls so
// a steady-state forward pass allocates nothing.
class Scratch {
 public:
  ~Scratch() { std::free(data_); }
  float* get(size_t n) {
    if (n > cap_) {
      std::free(data_);
      size_t bytes = ((n * sizeof(float) + 63) / 64) * 64;
      data_ = static_cast<float*>(std::aligned_alloc(64, bytes));
      if (!data_) throw std::bad_alloc();
      cap_ = n;
    }
    return data_;
  }

 private:
  float* data_ = nullptr;
  size_t cap_ = 0;
};

thread_local Scratch tlsPackA, tlsPackB, tlsRows;

int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

// B's element types: f32, or the bf16/f16 bit patterns of a weight kept in its checkpoint dtype,
// widened to f32 as they are packed (A, C and every product stay f32).
template <DType T>
struct Elem;
template <>
struct Elem<DType::F32> {
  using type = float;
  static float get(const float* p) { return *p; }
#ifdef __AVX2__
  static __m256 load8(const float* p) { return _mm256_loadu_ps(p); }
#endif
};
template <>
struct Elem<DType::BF16> {
  using type = uint16_t;
  static float get(const uint16_t* p) { return bf16ToF32(*p); }
#ifdef __AVX2__
  static __m256 load8(const uint16_t* p) {
    const __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
  }
#endif
};
template <>
struct Elem<DType::F16> {
  using type = uint16_t;
  static float get(const uint16_t* p) { return f16ToF32(*p); }
#ifdef __AVX2__
  static __m256 load8(const uint16_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
#endif
};

// Transposes a strip of up to 8 rows (src[r] + k for k in [0, kc)) into dst[k * stride + r], scaled by
// alpha, writing `lanes` (4, 6 or 8) values per k. Packing is a transpose whenever the panel's
// short side is the source's long side (A not transposed, B transposed: every nn.Linear weight);
// done one element at a time it costs ~20% of a prefill GEMM, so 8x8 blocks go through registers.
template <DType T>
void transposeStrip(const typename Elem<T>::type* const src[8], int64_t kc, float alpha, float* dst, int64_t stride, int lanes) {
  int64_t k = 0;
#ifdef __AVX2__
  const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(lanes), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  const __m256 va = _mm256_set1_ps(alpha);
  for (; k + 8 <= kc; k += 8) {
    __m256 c[8];
    for (int r = 0; r < 8; r++) c[r] = Elem<T>::load8(src[r] + k);
    transpose8x8(c);
    for (int i = 0; i < 8; i++) {
      float* d = dst + (k + i) * stride;
      if (lanes == 8) {
        _mm256_storeu_ps(d, _mm256_mul_ps(va, c[i]));
      } else {
        _mm256_maskstore_ps(d, mask, _mm256_mul_ps(va, c[i]));
      }
    }
  }
#endif
  for (; k < kc; k++) {
    for (int r = 0; r < lanes; r++) dst[k * stride + r] = alpha * Elem<T>::get(src[r] + k);
  }
}

// Rows [r0, r0 + width) of a row-major matrix X (row stride ld, `valid` real rows from r0), columns
// [k0, k0 + kc), transposed into dst[kc][width]. Rows past `valid` repeat the last real row: a
// padded row or column only feeds accumulators that the tile kernels never store, so it needs
// to be finite and in bounds, not zero.
template <DType T>
void packTransposed(const typename Elem<T>::type* X, int64_t ld, int64_t r0, int64_t valid, int width, int64_t k0, int64_t kc,
                    float alpha, float* dst) {
  for (int s = 0; s < width; s += 8) {
    const typename Elem<T>::type* src[8];
    for (int r = 0; r < 8; r++) src[r] = X + (r0 + std::min<int64_t>(s + r, valid - 1)) * ld + k0;
    transposeStrip<T>(src, kc, alpha, dst + s, width, std::min(8, width - s));
  }
}

// Packs rows [p*MR, p*MR + MR) x columns [k0, k0 + kc) of alpha*op(A) into dst[kc][MR].
void packAPanel(int MR, bool transA, const float* A, int64_t lda, int64_t M, int64_t p, int64_t k0, int64_t kc, float alpha,
                float* dst) {
  const int64_t i0 = p * MR;
  const int64_t valid = std::min<int64_t>(MR, M - i0);
  if (!transA) return packTransposed<DType::F32>(A, lda, i0, valid, MR, k0, kc, alpha, dst);
  for (int64_t k = 0; k < kc; k++) {
    const float* src = A + (k0 + k) * lda + i0;  // op(A)[i, k] = A[k, i]: a row of A holds MR consecutive i
    float* d = dst + k * MR;
    for (int64_t r = 0; r < valid; r++) d[r] = alpha * src[r];
    for (int64_t r = valid; r < MR; r++) d[r] = 0.0f;
  }
}

// Packs rows [k0, k0 + kc) x columns [j0, j0 + NR) of op(B) into dst[kc][NR] (f32).
template <DType T>
void packBPanelT(int NR, bool transB, const typename Elem<T>::type* B, int64_t ldb, int64_t N, int64_t j0, int64_t k0,
                 int64_t kc, float* dst) {
  const int64_t valid = std::min<int64_t>(NR, N - j0);
  if (transB) return packTransposed<T>(B, ldb, j0, valid, NR, k0, kc, 1.0f, dst);  // op(B)[k, j] = B[j, k]
  for (int64_t k = 0; k < kc; k++) {
    const typename Elem<T>::type* src = B + (k0 + k) * ldb + j0;
    float* d = dst + k * NR;
    if constexpr (T == DType::F32) {
      std::memcpy(d, src, valid * sizeof(float));
    } else {
      int64_t j = 0;
#ifdef __AVX2__
      for (; j + 8 <= valid; j += 8) _mm256_storeu_ps(d + j, Elem<T>::load8(src + j));
#endif
      for (; j < valid; j++) d[j] = Elem<T>::get(src + j);
    }
    for (int64_t j = valid; j < NR; j++) d[j] = 0.0f;
  }
}

void packBPanel(int NR, bool transB, const void* B, DType bType, int64_t ldb, int64_t N, int64_t j0, int64_t k0, int64_t kc,
                float* dst) {
  switch (bType) {
    case DType::BF16: return packBPanelT<DType::BF16>(NR, transB, static_cast<const uint16_t*>(B), ldb, N, j0, k0, kc, dst);
    case DType::F16: return packBPanelT<DType::F16>(NR, transB, static_cast<const uint16_t*>(B), ldb, N, j0, k0, kc, dst);
    default: return packBPanelT<DType::F32>(NR, transB, static_cast<const float*>(B), ldb, N, j0, k0, kc, dst);
  }
}

void sgemmBlocked(const Kernels& kn, bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                  int64_t lda, const void* B, DType bType, int64_t ldb, float beta, float* C, int64_t ldc) {
  const int MR = kn.mr, NR = kn.nr;
  const int64_t KC = kn.kc;
  const int64_t mPanels = ceilDiv(M, MR), mPad = mPanels * MR;
  const int64_t nPad = ceilDiv(std::min(N, kn.nc), NR) * NR;
  // KS, the K range packed at once (a multiple of KC): usually all of K, so the team meets at two
  // barriers per call rather than three per KC block, and a tile's C stays in L2 across KC blocks.
  const int64_t KS = std::min(std::max(KC, kPackBudget / (mPad + nPad) / KC * KC), ceilDiv(K, KC) * KC);
  float* Ap = tlsPackA.get(mPad * KS);  // [kb][mPanels][kc][MR], block kb at kb * KC * mPad
  float* Bp = tlsPackB.get(nPad * KS);  // [kb][nPanels][kc][NR], block kb at kb * KC * nPad
  const int64_t rowBlocks = ceilDiv(M, kn.mc);
  const bool parallel = 2.0 * M * N * K >= kParallelFlops;
#pragma omp parallel if (parallel)
  {
    for (int64_t ks0 = 0; ks0 < K; ks0 += KS) {
      const int64_t kBlocks = ceilDiv(std::min(KS, K - ks0), KC);
      // nowait: nothing reads A before the barrier that ends the B packing below.
#pragma omp for schedule(static) nowait
      for (int64_t t = 0; t < kBlocks * mPanels; t++) {
        const int64_t kb = t / mPanels, p = t % mPanels, k0 = ks0 + kb * KC, kc = std::min(KC, K - k0);
        packAPanel(MR, transA, A, lda, M, p, k0, kc, alpha, Ap + kb * KC * mPad + p * kc * MR);
      }
      for (int64_t j0 = 0; j0 < N; j0 += kn.nc) {
        const int64_t nc = std::min(kn.nc, N - j0);
        const int64_t nPanels = ceilDiv(nc, NR);
#pragma omp for schedule(static)
        for (int64_t t = 0; t < kBlocks * nPanels; t++) {
          const int64_t kb = t / nPanels, q = t % nPanels, k0 = ks0 + kb * KC, kc = std::min(KC, K - k0);
          packBPanel(NR, transB, B, bType, ldb, N, j0 + q * NR, k0, kc, Bp + kb * KC * nPad + q * kc * NR);
        }
        const int64_t colBlocks = ceilDiv(nc, kTileCols);
#pragma omp for schedule(dynamic, 1) collapse(2)
        for (int64_t ib = 0; ib < rowBlocks; ib++) {
          for (int64_t jb = 0; jb < colBlocks; jb++) {
            const int64_t iEnd = std::min(M, (ib + 1) * kn.mc), jEnd = std::min(nc, (jb + 1) * kTileCols);
            for (int64_t kb = 0; kb < kBlocks; kb++) {
              const int64_t k0 = ks0 + kb * KC, kc = std::min(KC, K - k0);
              const float betaK = k0 == 0 ? beta : 1.0f;  // later K blocks accumulate onto the first
              // jr outer: one B micro-panel stays in L1 while the A block (in L2) streams past it.
              for (int64_t jr = jb * kTileCols; jr < jEnd; jr += NR) {
                const float* bp = Bp + kb * KC * nPad + (jr / NR) * kc * NR;
                const int nr = static_cast<int>(std::min<int64_t>(NR, jEnd - jr));
                for (int64_t ir = ib * kn.mc; ir < iEnd; ir += MR) {
                  const int mr = static_cast<int>(std::min<int64_t>(MR, iEnd - ir));
                  kn.micro(kc, Ap + kb * KC * mPad + (ir / MR) * kc * MR, bp, C + ir * ldc + j0 + jr, ldc, betaK, mr, nr);
                }
              }
            }
          }
        }  // the implicit barrier here keeps the packed panels alive until every tile is done
      }
    }
  }
}

// C[M,N] = alpha * op(A) @ W^T + bias + beta * C for M <= kRowsPathMaxM, W[N,K] with row stride ldw.
void sgemmRows(const Kernels& kn, bool transA, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
               const void* W, DType wType, int64_t ldw, const float* bias, float beta, float* C, int64_t ldc) {
  float* X = tlsRows.get(M * K);  // [M, K] = alpha * op(A), contiguous
  for (int64_t m = 0; m < M; m++) {
    for (int64_t k = 0; k < K; k++) X[m * K + k] = alpha * (transA ? A[k * lda + m] : A[m * lda + k]);
  }
  const int64_t blocks = ceilDiv(N, kRowsPathBlock);
#pragma omp parallel for schedule(static) if (2.0 * M * N * K >= kParallelFlops)
  for (int64_t b = 0; b < blocks; b++) {
    const int64_t n0 = b * kRowsPathBlock, n1 = std::min(N, (b + 1) * kRowsPathBlock);
    if (wType == DType::BF16) {
      kn.rowsBf16(M, K, X, static_cast<const uint16_t*>(W), ldw, n0, n1, bias, beta, C, ldc);
    } else if (wType == DType::F16) {
      kn.rowsF16(M, K, X, static_cast<const uint16_t*>(W), ldw, n0, n1, bias, beta, C, ldc);
    } else {
      kn.rows(M, K, X, static_cast<const float*>(W), ldw, n0, n1, bias, beta, C, ldc);
    }
  }
}

void scaleRows(float* C, int64_t ldc, int64_t M, int64_t N, float beta) {
  for (int64_t i = 0; i < M; i++) {
    for (int64_t j = 0; j < N; j++) C[i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[i * ldc + j];
  }
}

}  // namespace

const char* gemm_kernels_name() { return activeKernels().name; }

namespace {
const Kernels* kernelsByName(const char* name) {
  if (std::strcmp(name, "avx512") == 0) return gemm::avx512Kernels();
  if (std::strcmp(name, "avx2") == 0) return gemm::avx2Kernels();
  if (std::strcmp(name, "scalar") == 0) return &gemm::scalarKernels();
  return nullptr;
}
}  // namespace

bool gemm_kernels_supported(const char* name) { return name != nullptr && kernelsByName(name) != nullptr; }

bool set_gemm_kernels(const char* name) {
  if (name == nullptr || name[0] == '\0') {
    gForced.store(nullptr);
    return true;
  }
  const Kernels* k = kernelsByName(name);
  if (!k) return false;
  gForced.store(k);
  return true;
}

void gemm_typed_b(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                  const void* B, DType bType, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0 || alpha == 0.0f) return scaleRows(C, ldc, M, N, beta);
  const Kernels& kn = activeKernels();
  if (transB && M <= kRowsPathMaxM) return sgemmRows(kn, transA, M, N, K, alpha, A, lda, B, bType, ldb, nullptr, beta, C, ldc);
  sgemmBlocked(kn, transA, transB, M, N, K, alpha, A, lda, B, bType, ldb, beta, C, ldc);
}

void sgemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  gemm_typed_b(transA, transB, M, N, K, alpha, A, lda, B, DType::F32, ldb, beta, C, ldc);
}

void sgemm_strided_batched(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                           int64_t lda, int64_t strideA, const float* B, int64_t ldb, int64_t strideB, float beta,
                           float* C, int64_t ldc, int64_t strideC, int64_t batch) {
  // Many small matrices (attention heads): one matrix per thread beats splitting each one.
  const bool perThread = batch > 1 && 2.0 * M * N * K < 8 * kParallelFlops;
#pragma omp parallel for schedule(dynamic, 1) if (perThread)
  for (int64_t b = 0; b < batch; b++) {
    sgemm(transA, transB, M, N, K, alpha, A + b * strideA, lda, B + b * strideB, ldb, beta, C + b * strideC, ldc);
  }
}

void linear_forward(float* out, const float* inp, const void* weight, DType wType, const float* bias, int64_t T, int64_t K,
                    int64_t N) {
  if (T <= 0 || N <= 0) return;
  const Kernels& kn = activeKernels();
  if (T <= kRowsPathMaxM && K > 0) return sgemmRows(kn, false, T, N, K, 1.0f, inp, K, weight, wType, K, bias, 0.0f, out, N);
  if (!bias) return gemm_typed_b(false, true, T, N, K, 1.0f, inp, K, weight, wType, K, 0.0f, out, N);
  // Start C at the bias and accumulate (beta = 1): one write pass instead of a read-modify-write after.
#pragma omp parallel for schedule(static) if (T * N >= (1 << 16))
  for (int64_t t = 0; t < T; t++) std::memcpy(out + t * N, bias, N * sizeof(float));
  gemm_typed_b(false, true, T, N, K, 1.0f, inp, K, weight, wType, K, 1.0f, out, N);
}

void linear_forward(float* out, const float* inp, const float* weight, const float* bias, int64_t T, int64_t K, int64_t N) {
  linear_forward(out, inp, weight, DType::F32, bias, T, K, N);
}

}  // namespace stic::cpu
