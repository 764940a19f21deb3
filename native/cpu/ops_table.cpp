// The CPU backend's ops table (core/ops.h): each entry is one of this folder's kernels, unchanged.
// Only wiring here: an overloaded kernel is named by its exact type, nothing else is adapted.
#include "core/ops.h"
#include "cpu/adamw.h"
#include "cpu/convert.h"
#include "cpu/fused_head.h"
#include "cpu/lora.h"
#include "cpu/losses.h"
#include "cpu/ops.h"
#include "cpu/ops_backward.h"
#include "cpu/patch_embed.h"
#include "cpu/sampling.h"

namespace stic {
namespace {

using TypedLinearForward = void (*)(float*, const float*, const void*, DType, const float*, int64_t, int64_t, int64_t);

Ops makeCpuOps() {
  Ops t;
  t.backend = "cpu";
  t.linear.sgemm = cpu::sgemm;
  t.linear.gemm_typed_b = cpu::gemm_typed_b;
  t.linear.linear_forward = static_cast<TypedLinearForward>(cpu::linear_forward);
  t.linear.linear_backward = cpu::linear_backward;

  t.norm.layernorm_forward = cpu::layernorm_forward;
  t.norm.layernorm_backward = cpu::layernorm_backward;
  t.norm.rmsnorm_forward = cpu::rmsnorm_forward;
  t.norm.rmsnorm_backward = cpu::rmsnorm_backward;

  t.elementwise.quick_gelu_forward = cpu::quick_gelu_forward;
  t.elementwise.quick_gelu_backward = cpu::quick_gelu_backward;
  t.elementwise.gelu_forward = cpu::gelu_forward;
  t.elementwise.gelu_backward = cpu::gelu_backward;
  t.elementwise.gelu_tanh_forward = cpu::gelu_tanh_forward;
  t.elementwise.gelu_tanh_backward = cpu::gelu_tanh_backward;
  t.elementwise.silu_forward = cpu::silu_forward;
  t.elementwise.silu_backward = cpu::silu_backward;
  t.elementwise.relu_forward = cpu::relu_forward;
  t.elementwise.relu_backward = cpu::relu_backward;
  t.elementwise.swiglu_forward = cpu::swiglu_forward;
  t.elementwise.swiglu_backward = cpu::swiglu_backward;
  t.elementwise.add_inplace = cpu::add_inplace;

  t.rope.rope_forward = cpu::rope_forward;
  t.rope.rope_backward = cpu::rope_backward;

  t.attention.attention_forward = cpu::attention_forward;
  t.attention.attention_forward_lse = cpu::attention_forward_lse;
  t.attention.attention_backward = cpu::attention_backward;

  t.embedding.embedding_forward = cpu::embedding_forward;
  t.embedding.embedding_backward = cpu::embedding_backward;
  t.embedding.patch_embed_forward = cpu::patch_embed_forward;
  t.embedding.patch_embed_backward = cpu::patch_embed_backward;

  t.memory.copy = cpu::copy_bytes;
  t.memory.fill = cpu::fill;

  t.convert.convert = cpu::convert;

  t.head.fused_head_workspace_bytes = train::fused_head_workspace_bytes;
  t.head.fused_head_forward = train::fused_head_forward;
  t.head.fused_head_backward = train::fused_head_backward;
  t.head.fused_head_backward_saved = train::fused_head_backward_saved;
  t.head.log_softmax_gather = cpu::log_softmax_gather;

  t.loss.dpo_loss = train::dpo_loss;
  t.loss.sft_loss = train::sft_loss;
  t.loss.sum_by_sequence = train::sum_by_sequence;
  t.loss.sequence_grad_to_tokens = train::sequence_grad_to_tokens;

  t.lora.lora_delta_forward = train::lora_delta_forward;
  t.lora.lora_delta_backward = train::lora_delta_backward;

  t.optimizer.adamw_step = train::adamw_step;
  t.optimizer.grad_global_norm = train::grad_global_norm;
  t.optimizer.clip_grad_norm = train::clip_grad_norm;

  t.sampling.sample_token = model::sampleToken;
  return t;
}

}  // namespace

const Ops& cpuOps() {
  static const Ops table = makeCpuOps();
  return table;
}

}  // namespace stic
