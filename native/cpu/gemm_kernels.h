// Internal to the CPU SGEMM: the register-tile kernels the blocked driver (gemm.cpp) runs, one set
// per instruction set, picked at run time so one binary uses AVX-512 where the CPU has it and still
// runs on an AVX2-only or non-x86 machine. Not part of the ops.h interface.
// Legend: MR x NR register tile; kc inner length of one packed panel; M <= 16 rows for the rows path.
#pragma once
#include <cstdint>

namespace stic::cpu::gemm {

// C[mr, nr] (row stride ldc) = Ap . Bp + beta * C, over the first mr <= MR rows and nr <= NR columns.
// Ap is a packed A micro-panel [kc][MR] (element (r, k) at k*MR + r); Bp a packed B micro-panel
// [kc][NR]. beta == 0 overwrites C (it may hold NaN). Both panels are 64-byte aligned, zero-padded.
using MicroKernel = void (*)(int64_t kc, const float* Ap, const float* Bp, float* C, int64_t ldc, float beta, int mr, int nr);

// The small-M (decode) path, which streams the weight once instead of packing it:
// C[m, n] = X[m, :] . W[n, :] + bias[n] + beta * C[m, n] for m < M (<= 16), n in [n0, n1).
// X[M, K] is contiguous (alpha already applied); W has row stride ldw; bias may be null.
using RowsKernel = void (*)(int64_t M, int64_t K, const float* X, const float* W, int64_t ldw, int64_t n0, int64_t n1,
                            const float* bias, float beta, float* C, int64_t ldc);
// The same with W stored as bf16 or f16 bit patterns (weights kept in the checkpoint's dtype): each
// weight is widened to f32 in registers as it is loaded, so the products and sums are the f32 ones.
using RowsKernel16 = void (*)(int64_t M, int64_t K, const float* X, const uint16_t* W, int64_t ldw, int64_t n0, int64_t n1,
                              const float* bias, float beta, float* C, int64_t ldc);

struct Kernels {
  const char* name;  // "avx512", "avx2", "scalar"
  int mr, nr;        // register tile
  int64_t mc, kc, nc;  // cache blocks: A block mc x kc in L2, B micro-panel kc x nr in L1, B panel kc x nc in L3
  MicroKernel micro;
  RowsKernel rows;
  RowsKernel16 rowsBf16, rowsF16;
};

const Kernels* avx512Kernels();  // null when not compiled in or the CPU lacks AVX-512F
const Kernels* avx2Kernels();    // null when not compiled in or the CPU lacks AVX2+FMA
const Kernels& scalarKernels();

}  // namespace stic::cpu::gemm
