#include "core/ops.h"

#include <sstream>

namespace stic {
namespace {

// Every family's entry count, so that an op added to a family without a line below fails to compile.
constexpr size_t kEntry = sizeof(std::function<void()>);
static_assert(sizeof(LinearOps) == 4 * kEntry, "LinearOps changed: update missingOps");
static_assert(sizeof(NormOps) == 4 * kEntry, "NormOps changed: update missingOps");
static_assert(sizeof(ElementwiseOps) == 11 * kEntry, "ElementwiseOps changed: update missingOps");
static_assert(sizeof(RopeOps) == 2 * kEntry, "RopeOps changed: update missingOps");
static_assert(sizeof(AttentionOps) == 3 * kEntry, "AttentionOps changed: update missingOps");
static_assert(sizeof(EmbeddingOps) == 4 * kEntry, "EmbeddingOps changed: update missingOps");
static_assert(sizeof(ConvertOps) == 1 * kEntry, "ConvertOps changed: update missingOps");
static_assert(sizeof(HeadOps) == 5 * kEntry, "HeadOps changed: update missingOps");
static_assert(sizeof(LossOps) == 4 * kEntry, "LossOps changed: update missingOps");
static_assert(sizeof(LoraOps) == 2 * kEntry, "LoraOps changed: update missingOps");
static_assert(sizeof(OptimizerOps) == 3 * kEntry, "OptimizerOps changed: update missingOps");
static_assert(sizeof(SamplingOps) == 1 * kEntry, "SamplingOps changed: update missingOps");

}  // namespace

std::vector<std::string> missingOps(const Ops& ops) {
  std::vector<std::string> out;
#define STIC_OP(family, op) \
  if (!ops.family.op) out.push_back(#family "." #op)
  STIC_OP(linear, sgemm);
  STIC_OP(linear, gemm_typed_b);
  STIC_OP(linear, linear_forward);
  STIC_OP(linear, linear_backward);
  STIC_OP(norm, layernorm_forward);
  STIC_OP(norm, layernorm_backward);
  STIC_OP(norm, rmsnorm_forward);
  STIC_OP(norm, rmsnorm_backward);
  STIC_OP(elementwise, quick_gelu_forward);
  STIC_OP(elementwise, quick_gelu_backward);
  STIC_OP(elementwise, gelu_forward);
  STIC_OP(elementwise, gelu_backward);
  STIC_OP(elementwise, gelu_tanh_forward);
  STIC_OP(elementwise, gelu_tanh_backward);
  STIC_OP(elementwise, silu_forward);
  STIC_OP(elementwise, silu_backward);
  STIC_OP(elementwise, swiglu_forward);
  STIC_OP(elementwise, swiglu_backward);
  STIC_OP(elementwise, add_inplace);
  STIC_OP(rope, rope_forward);
  STIC_OP(rope, rope_backward);
  STIC_OP(attention, attention_forward);
  STIC_OP(attention, attention_forward_lse);
  STIC_OP(attention, attention_backward);
  STIC_OP(embedding, embedding_forward);
  STIC_OP(embedding, embedding_backward);
  STIC_OP(embedding, patch_embed_forward);
  STIC_OP(embedding, patch_embed_backward);
  STIC_OP(convert, convert);
  STIC_OP(head, fused_head_workspace_bytes);
  STIC_OP(head, fused_head_forward);
  STIC_OP(head, fused_head_backward);
  STIC_OP(head, fused_head_backward_saved);
  STIC_OP(head, log_softmax_gather);
  STIC_OP(loss, dpo_loss);
  STIC_OP(loss, sft_loss);
  STIC_OP(loss, sum_by_sequence);
  STIC_OP(loss, sequence_grad_to_tokens);
  STIC_OP(lora, lora_delta_forward);
  STIC_OP(lora, lora_delta_backward);
  STIC_OP(optimizer, adamw_step);
  STIC_OP(optimizer, grad_global_norm);
  STIC_OP(optimizer, clip_grad_norm);
  STIC_OP(sampling, sample_token);
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
