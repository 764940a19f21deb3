#include "core/ops.h"

#include <sstream>

namespace stic {
namespace {

// Every family's entry count, so that an op added to a family without its line in STIC_OPS_ENTRIES
// (ops.h) fails to compile.
constexpr size_t kEntry = sizeof(std::function<void()>);
static_assert(sizeof(LinearOps) == 4 * kEntry, "LinearOps changed: update STIC_OPS_ENTRIES (ops.h)");
static_assert(sizeof(NormOps) == 4 * kEntry, "NormOps changed: update STIC_OPS_ENTRIES (ops.h)");
static_assert(sizeof(ElementwiseOps) == 13 * kEntry, "ElementwiseOps changed: update STIC_OPS_ENTRIES (ops.h)");
static_assert(sizeof(RopeOps) == 2 * kEntry, "RopeOps changed: update STIC_OPS_ENTRIES (ops.h)");
static_assert(sizeof(AttentionOps) == 3 * kEntry, "AttentionOps changed: update STIC_OPS_ENTRIES (ops.h)");
static_assert(sizeof(EmbeddingOps) == 4 * kEntry, "EmbeddingOps changed: update STIC_OPS_ENTRIES (ops.h)");
static_assert(sizeof(MemoryOps) == 2 * kEntry, "MemoryOps changed: update STIC_OPS_ENTRIES (ops.h)");
static_assert(sizeof(ConvertOps) == 1 * kEntry, "ConvertOps changed: update STIC_OPS_ENTRIES (ops.h)");
static_assert(sizeof(HeadOps) == 5 * kEntry, "HeadOps changed: update STIC_OPS_ENTRIES (ops.h)");
static_assert(sizeof(LossOps) == 4 * kEntry, "LossOps changed: update STIC_OPS_ENTRIES (ops.h)");
static_assert(sizeof(LoraOps) == 2 * kEntry, "LoraOps changed: update STIC_OPS_ENTRIES (ops.h)");
static_assert(sizeof(OptimizerOps) == 3 * kEntry, "OptimizerOps changed: update STIC_OPS_ENTRIES (ops.h)");
static_assert(sizeof(SamplingOps) == 1 * kEntry, "SamplingOps changed: update STIC_OPS_ENTRIES (ops.h)");
// ... and STIC_OPS_ENTRIES (ops.h) lists as many entries as the families hold.
#define STIC_COUNT_OP(family, op) +1
static_assert((0 STIC_OPS_ENTRIES(STIC_COUNT_OP)) * kEntry ==
                  sizeof(LinearOps) + sizeof(NormOps) + sizeof(ElementwiseOps) + sizeof(RopeOps) + sizeof(AttentionOps) +
                      sizeof(EmbeddingOps) + sizeof(MemoryOps) + sizeof(ConvertOps) + sizeof(HeadOps) + sizeof(LossOps) +
                      sizeof(LoraOps) + sizeof(OptimizerOps) + sizeof(SamplingOps),
              "an ops family entry is missing from STIC_OPS_ENTRIES (ops.h)");
#undef STIC_COUNT_OP

}  // namespace

std::vector<std::string> missingOps(const Ops& ops) {
  std::vector<std::string> out;
#define STIC_OP(family, op) \
  if (!ops.family.op) out.push_back(#family "." #op);
  STIC_OPS_ENTRIES(STIC_OP)
#undef STIC_OP
  return out;
}

Status requireOps(const Ops& ops, const char* what) {
  const std::vector<std::string> missing = missingOps(ops);
  if (missing.empty()) return Status::ok();
  std::ostringstream names;
  for (size_t i = 0; i < missing.size(); i++) names << (i ? ", " : "") << missing[i];
  return error(Code::Unsupported, what, " needs every op of the ", ops.backend, " ops table, but it has no ", missing.size(),
               " of them: ", names.str());
}

}  // namespace stic
