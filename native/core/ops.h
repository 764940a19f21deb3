// The ops table: every operation native/model computes with, as one dispatch struct per backend.
// The model is written once against it (no file in native/model names a kernel); a backend is a
// table implementation: native/cpu/ops_table.cpp wires the CPU kernels (cpuOps()), native/cuda/
// ops_table.cu the CUDA kernels that exist (cuda::OpsTable). Families, one struct each, with their
// signatures and shapes: ops_layer.h (products, norms, elementwise, rope, attention, embeddings,
// copies and fills, dtype conversion), ops_train.h (fused head, losses, LoRA, AdamW), ops_sampling.h (sampling).
//
// Why a table owned by the backend, reached as backend.ops(): the model gets its table from the
// Backend its weights and activations live on (a LlavaModel's, a Trainer's parameter store's), so a CUDA backend is a new
// table behind the same call sites, not a change to the model. Why std::function entries and not a
// virtual interface: a table can be incomplete and say so (an empty entry is a missing op, and
// missingOps() names them, so a model is refused at creation instead of failing mid-step), and a
// device table binds its stream and workspaces into its entries.
//
// Errors: the CPU kernels cannot fail (bad shapes are the caller's bug, checked before); a device
// op's launch failure is kept by its table and returned by check() (the first since the last call),
// which every model entry point (a forward, a step, an optimizer update) returns at its end.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "core/ops_layer.h"
#include "core/ops_sampling.h"
#include "core/ops_train.h"
#include "core/status.h"

namespace stic {

struct Ops {
  const char* backend = "";  // "cpu", "cuda": names the table in messages
  LinearOps linear;
  NormOps norm;
  ElementwiseOps elementwise;
  RopeOps rope;
  AttentionOps attention;
  EmbeddingOps embedding;
  MemoryOps memory;
  ConvertOps convert;
  HeadOps head;
  LossOps loss;
  LoraOps lora;
  OptimizerOps optimizer;
  SamplingOps sampling;
  // The first failure of an op since the last call (empty entry: the ops cannot fail).
  std::function<Status()> firstError;

  Status check() const { return firstError ? firstError() : Status::ok(); }
};

// Every entry of the table as X(family, op), in table order: missingOps() names the empty ones from
// this list, and the kernel lab clears entries by these names to test requireOps() (ops_table_binding.cpp).
#define STIC_OPS_ENTRIES(X) \
  X(linear, sgemm) \
  X(linear, gemm_typed_b) \
  X(linear, linear_forward) \
  X(linear, linear_backward) \
  X(norm, layernorm_forward) \
  X(norm, layernorm_backward) \
  X(norm, rmsnorm_forward) \
  X(norm, rmsnorm_backward) \
  X(elementwise, quick_gelu_forward) \
  X(elementwise, quick_gelu_backward) \
  X(elementwise, gelu_forward) \
  X(elementwise, gelu_backward) \
  X(elementwise, gelu_tanh_forward) \
  X(elementwise, gelu_tanh_backward) \
  X(elementwise, silu_forward) \
  X(elementwise, silu_backward) \
  X(elementwise, relu_forward) \
  X(elementwise, relu_backward) \
  X(elementwise, swiglu_forward) \
  X(elementwise, swiglu_backward) \
  X(elementwise, add_inplace) \
  X(rope, rope_forward) \
  X(rope, rope_backward) \
  X(attention, attention_forward) \
  X(attention, attention_forward_lse) \
  X(attention, attention_backward) \
  X(embedding, embedding_forward) \
  X(embedding, embedding_backward) \
  X(embedding, patch_embed_forward) \
  X(embedding, patch_embed_backward) \
  X(memory, copy) \
  X(memory, fill) \
  X(convert, convert) \
  X(head, fused_head_workspace_bytes) \
  X(head, fused_head_forward) \
  X(head, fused_head_backward) \
  X(head, fused_head_backward_saved) \
  X(head, log_softmax_gather) \
  X(loss, dpo_loss) \
  X(loss, sft_loss) \
  X(loss, sum_by_sequence) \
  X(loss, sequence_grad_to_tokens) \
  X(lora, lora_delta_forward) \
  X(lora, lora_delta_backward) \
  X(optimizer, adamw_step) \
  X(optimizer, grad_global_norm) \
  X(optimizer, clip_grad_norm) \
  X(sampling, sample_token)

// The entries of `ops` that are empty, as "family.op" names (e.g. "lora.lora_delta_forward").
std::vector<std::string> missingOps(const Ops& ops);

// Ok when every entry is filled in; else Unsupported naming the backend, `what` needs it for, and
// every missing op.
Status requireOps(const Ops& ops, const char* what);

// The CPU kernels' table (native/cpu/ops_table.cpp): complete, process-wide, immutable.
const Ops& cpuOps();

}  // namespace stic
