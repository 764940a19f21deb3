// AdamW and gradient-norm clipping on the CPU (see adamw.h). Legend: n elements of a tensor.
#include "cpu/adamw.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace stic::train {
namespace {

constexpr int64_t kBlock = 1 << 14;  // elements per task: large enough to amortise scheduling

// A contiguous range of one slot's elements: the unit of parallel work.
struct Block {
  int64_t slot, begin, end;
};

std::vector<Block> blocksOf(const ParamSlot* slots, int64_t count) {
  std::vector<Block> blocks;
  for (int64_t s = 0; s < count; s++) {
    for (int64_t b = 0; b < slots[s].n; b += kBlock) blocks.push_back({s, b, std::min(slots[s].n, b + kBlock)});
  }
  return blocks;
}

}  // namespace

Status adamw_step(const ParamSlot* slots, int64_t count, const ParamGroup* groups, int64_t groupCount,
                  const AdamWHyper& hyper, int64_t step) {
  STIC_CHECK_ARG(step >= 1, "adamw_step: expected step >= 1 (the first update is step 1) but received ", step);
  for (int64_t s = 0; s < count; s++) {
    STIC_CHECK_ARG(slots[s].group >= 0 && slots[s].group < groupCount, "adamw_step: parameter ", s, " names group ",
                   slots[s].group, " but there are ", groupCount, " groups");
  }
  // Per-group constants in double, rounded to float once, as torch computes them as Python floats.
  const double bc1 = 1.0 - std::pow(hyper.beta1, static_cast<double>(step));
  const double bc2Sqrt = std::sqrt(1.0 - std::pow(hyper.beta2, static_cast<double>(step)));
  struct GroupConst {
    float decay, stepSize, bc2Sqrt;
  };
  std::vector<GroupConst> gc(groupCount);
  for (int64_t g = 0; g < groupCount; g++) {
    gc[g] = {static_cast<float>(1.0 - groups[g].lr * groups[g].weightDecay), static_cast<float>(groups[g].lr / bc1),
             static_cast<float>(bc2Sqrt)};
  }
  // 1 - beta in double before rounding, as torch passes the Python float (1 - 0.999f would be off
  // by 1.3e-5 relative).
  const float b2 = static_cast<float>(hyper.beta2);
  const float oneMinusB1 = static_cast<float>(1.0 - hyper.beta1), oneMinusB2 = static_cast<float>(1.0 - hyper.beta2);
  const float eps = static_cast<float>(hyper.eps);
  const std::vector<Block> blocks = blocksOf(slots, count);
  const int64_t nb = static_cast<int64_t>(blocks.size());
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < nb; i++) {
    const ParamSlot& s = slots[blocks[i].slot];
    const GroupConst& c = gc[s.group];
    for (int64_t k = blocks[i].begin; k < blocks[i].end; k++) {
      const float g = s.grad[k];
      const float p = s.param[k] * c.decay;  // decoupled weight decay: p.mul_(1 - lr wd)
      const float m = s.m[k] + (g - s.m[k]) * oneMinusB1;  // exp_avg.lerp_(g, 1 - b1)
      const float v = s.v[k] * b2 + oneMinusB2 * g * g;    // exp_avg_sq.mul_(b2).addcmul_(g, g, 1 - b2)
      const float denom = std::sqrt(v) / c.bc2Sqrt + eps;
      s.m[k] = m;
      s.v[k] = v;
      s.param[k] = p - c.stepSize * (m / denom);
    }
  }
  return Status::ok();
}

double grad_global_norm(const ParamSlot* slots, int64_t count) {
  const std::vector<Block> blocks = blocksOf(slots, count);
  const int64_t nb = static_cast<int64_t>(blocks.size());
  std::vector<double> partial(nb);  // per block, summed in block order below
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < nb; i++) {
    const float* g = slots[blocks[i].slot].grad;
    double ss = 0;
    for (int64_t k = blocks[i].begin; k < blocks[i].end; k++) ss += static_cast<double>(g[k]) * g[k];
    partial[i] = ss;
  }
  double total = 0;
  for (double p : partial) total += p;
  return std::sqrt(total);
}

double clip_grad_norm(const ParamSlot* slots, int64_t count, double maxNorm) {
  const double norm = grad_global_norm(slots, count);
  if (!std::isfinite(norm)) return norm;
  const double coef = std::min(1.0, maxNorm / (norm + 1e-6));
  if (coef >= 1.0) return norm;  // torch multiplies by exactly 1.0: a no-op
  const float c = static_cast<float>(coef);
  const std::vector<Block> blocks = blocksOf(slots, count);
  const int64_t nb = static_cast<int64_t>(blocks.size());
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < nb; i++) {
    float* g = slots[blocks[i].slot].grad;
    for (int64_t k = blocks[i].begin; k < blocks[i].end; k++) g[k] *= c;
  }
  return norm;
}

}  // namespace stic::train
