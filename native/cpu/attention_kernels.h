// Internal to the CPU attention (attention.cpp): the AVX-512 twins of its two block products,
// compiled with a target attribute and used when the SGEMM tile set in force is "avx512" (so tests
// can run the AVX2 path too by selecting other tiles). Not part of the ops.h interface.
// Legend: R query rows of a work item, hd head dim, Bk keys per block, bk <= Bk keys in this block.
#pragma once
#include <cstdint>

namespace stic::cpu::attn {

constexpr int64_t Bk = 64;  // keys per block: Kt[hd, Bk] stays in L1 for hd <= 128

// sc[R, Bk] = qs[R, hd] @ kt[hd, Bk].
using ScoresFn = void (*)(const float* qs, const float* kt, float* sc, int64_t R, int64_t hd);
// o[R, hd] = o * corr[R] + p[R, :bk] @ vb[:bk, hd] (p rows have stride Bk). Needs hd % 16 == 0.
using PVFn = void (*)(const float* p, const float* corr, const float* vb, int64_t bk, float* o, int64_t R, int64_t hd);

struct Kernels {
  ScoresFn scores;
  PVFn pv;
};

const Kernels* avx512Kernels();  // null when not compiled in or the CPU lacks AVX-512F

}  // namespace stic::cpu::attn
