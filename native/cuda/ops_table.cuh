// The CUDA backend's ops table (core/ops.h), the twin of native/cpu/ops_table.cpp: each entry is
// this folder's kernel of the same name, bound to one stream, one Gemm and the table's own device
// scratch (the workspaces the CUDA kernels take and the CPU ones do not). Activations are f32, as
// the table's signatures say; a weight as stored must be F32 too (the Gemm takes A and B in one
// dtype, gemm.cuh), anything else is refused through check().
//
// Every entry of core/ops.h is filled in (missingOps is empty). The LoRA entries run on the caller's
// workspace (lora_workspace_floats, as on the CPU); the patch embedding's im2col uses the table's
// scratch.
//
// Host synchronisation: ops that return a value (dpo_loss, sft_loss, the gradient norms,
// sample_token) and fused_head_forward / fused_head_backward (their row list is built on the host
// from the targets / gathered indices) wait
// for the stream; every other op only enqueues (memory.copy from pageable host memory returns once the
// runtime has staged the source). Launch failures are kept, first one wins, and
// returned by ops().check().
// Legend: core/ops_layer.h, core/ops_train.h.
#pragma once
#include <cuda_runtime.h>

#include <memory>

#include "core/ops.h"
#include "cuda/gemm.cuh"

namespace stic::cuda {

class OpsTable {
 public:
  // gemm (cuBLASLt: makeCublasLtGemm; or referenceGemm()) must outlive the table.
  static Result<std::unique_ptr<OpsTable>> create(cudaStream_t stream, const Gemm& gemm);
  ~OpsTable();
  OpsTable(const OpsTable&) = delete;
  OpsTable& operator=(const OpsTable&) = delete;

  const Ops& ops() const { return ops_; }

  struct State;  // stream, gemm, scratch, first error (ops_table.cu)

 private:
  OpsTable() = default;
  std::unique_ptr<State> state_;
  Ops ops_;
};

}  // namespace stic::cuda
