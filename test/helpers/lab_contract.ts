// The typed contract of stic_lab.node, the kernel lab: every CPU, training and CUDA kernel on its
// own, on host arrays, for tests and benchmarks. It is built only when CMake's STIC_LAB is on
// (`npm test`, `npm run bench` and `npm run test:gpu` turn it on: scripts/build_lab.sh); the shipped
// addon (stic.node, lib/native/contract.ts) exports none of it. Loaded by lab() (./lab.ts).
// Legend for shape comments: as lib/native/contract.ts.
import type { DpoMetrics, NativeCorruptionParams, RejectedLogpMode, RgbImage } from '../../lib/native/index.ts';

// ---- CPU kernels, for tests and benchmarks (native/addon/lab/kernels_binding.cpp) ------------------
// Each call checks sizes eagerly (RangeError naming the array, its length and the sizes), runs the
// kernel on the thread pool and resolves once the output arrays are written.
// Legend: M, N, K matrix sizes; T tokens, C channels, S keys, Hq/Hkv heads, hd head dim, V vocab.
export interface SgemmArgs {
  transA?: boolean; transB?: boolean;
  M: number; N: number; K: number;
  /** 1 and 0 when absent. beta = 0 overwrites C. */
  alpha?: number; beta?: number;
  /** [M,K] ([K,M] when transA), row stride lda (default: the row length). */
  A: Float32Array; lda?: number;
  /** [K,N] ([N,K] when transB), row stride ldb. */
  B: Float32Array; ldb?: number;
  /** [M,N] in/out, row stride ldc. */
  C: Float32Array; ldc?: number;
  /** Strided batch: matrix i starts at element i*stride (defaults: packed). */
  batch?: number; strideA?: number; strideB?: number; strideC?: number;
  /** Runs the kernel this many times in one call (benchmarks time it without the Promise round trip). */
  repeats?: number;
}
export interface AttentionArgs {
  out: Float32Array; q: Float32Array; k: Float32Array; v: Float32Array; // [T,Hq,hd], [T,Hq,hd], [S,Hkv,hd] x2
  ldo?: number; ldq?: number; ldk?: number; ldv?: number; // token strides
  T: number; S: number; Hq: number; Hkv: number; hd: number;
  /** causal: query t sees keys [0, qOffset + t]. */
  causal?: boolean; qOffset?: number;
  /** 1/sqrt(hd) when absent. */
  scale?: number;
  repeats?: number;
}
export interface ElementwiseArgs { out: Float32Array; inp: Float32Array; n: number }
export type GemmKernelsName = 'avx512' | 'avx2' | 'scalar';
export interface KernelsBinding {
  kernels: {
    sgemm(a: SgemmArgs): Promise<void>;
    /** out[T,N] = inp[T,K] @ weight[N,K]^T + bias[N]. */
    linear(a: { out: Float32Array; inp: Float32Array; weight: Float32Array; bias?: Float32Array | null; T: number; K: number; N: number; repeats?: number }): Promise<void>;
    layernorm(a: { out: Float32Array; inp: Float32Array; weight: Float32Array; bias: Float32Array; T: number; C: number; eps: number }): Promise<void>;
    rmsnorm(a: { out: Float32Array; inp: Float32Array; weight: Float32Array; T: number; C: number; eps: number }): Promise<void>;
    quickGelu(a: ElementwiseArgs): Promise<void>;
    gelu(a: ElementwiseArgs): Promise<void>;
    geluTanh(a: ElementwiseArgs): Promise<void>;
    silu(a: ElementwiseArgs): Promise<void>;
    /** out[n] = max(inp[n], 0). */
    relu(a: ElementwiseArgs): Promise<void>;
    /** out[n] = silu(gate[n]) * up[n]. */
    swiglu(a: { out: Float32Array; gate: Float32Array; up: Float32Array; n: number }): Promise<void>;
    /** a[n] += b[n]. */
    add(a: { a: Float32Array; b: Float32Array; n: number }): Promise<void>;
    /** In place on x[T,H,hd] (token stride ldx), HF rotate_half rope with inv_freq = theta^(-2i/hd). */
    rope(a: { x: Float32Array; positions: BigInt64Array; T: number; H: number; hd: number; ldx?: number; theta: number }): Promise<void>;
    attention(a: AttentionArgs): Promise<void>;
    /** out[P,D] from img[3,Hs,Ws] and a conv weight[D,3,p,p] (stride p, no bias). */
    patchEmbed(a: { out: Float32Array; img: Float32Array; weight: Float32Array; Hs: number; Ws: number; p: number; D: number }): Promise<void>;
    /** out[T,C] = table[V,C][ids[T]]. */
    embedding(a: { out: Float32Array; ids: BigInt64Array; table: Float32Array; T: number; C: number; V: number }): Promise<void>;
    /** logp[T] = log_softmax(logits[T,V])[targets[T]]. */
    logSoftmaxGather(a: { logp: Float32Array; logits: Float32Array; targets: BigInt64Array; T: number; V: number }): Promise<void>;
    /** Selects the SGEMM register tiles ('' = the best this CPU runs) and returns the name in force; no argument only reports it. */
    gemmKernels(name?: GemmKernelsName | ''): GemmKernelsName;
    /** The register-tile sets this CPU can run, best first. */
    gemmKernelsSupported(): GemmKernelsName[];
    /** The engine's sampler alone (native/addon/lab/sampler_rng_binding.cpp): the token chosen for generation step `step`. */
    sampleToken(logits: Float32Array, params: { temperature: number; topK: number; topP: number; seed: number }, step: number): number;
    /** The corruptions' counter-based RNG: words or normals [first, first + count) of one stream of a seed. */
    corruptionRandom(seed: number, stream: 'params' | 'pixels' | 'mask', first: number, count: number, dist: 'words'): Uint32Array;
    corruptionRandom(seed: number, stream: 'params' | 'pixels' | 'mask', first: number, count: number, dist: 'normals'): Float32Array;
    /** Every entry of the ops table as "family.op", in table order (native/addon/lab/ops_table_binding.cpp). */
    opsTableEntries(): string[];
    /** requireOps(table, what) on the CPU table with the entries named in `clear` emptied: "<CODE>: <message>", or null when it accepts. */
    requireOps(clear: string[], what: string): string | null;
  };
}

// ---- training kernels, for tests and benchmarks (native/addon/lab/train_kernels_*binding.cpp) --------
// Backward twins of the CPU kernels plus LoRA, the fused head, losses and AdamW. Gradients of
// parameters (dweight, dbias, dtable, dA, dB) and attention's dk/dv are ACCUMULATED (+=): pass
// zeroed arrays for a fresh gradient. Activation gradients (dinp, dq, dx, dh) are overwritten.
// Legend: T tokens, C channels, K in, N out, r LoRA rank, S keys, Hq/Hkv heads, hd head dim,
// D hidden, V vocab, B pairs or sequences, n elements.
export interface ElementwiseBackwardArgs { dinp: Float32Array; dout: Float32Array; inp: Float32Array; n: number }
export interface AttentionShapeArgs {
  T: number; S: number; Hq: number; Hkv: number; hd: number;
  /** Token strides; a gradient uses its forward twin's stride (dq: ldq, dk: ldk, dv: ldv, dout: ldo). */
  ldq?: number; ldk?: number; ldv?: number; ldo?: number;
  causal?: boolean; qOffset?: number;
  /** 1/sqrt(hd) when absent. */
  scale?: number;
}
/** Where a dropout mask comes from: one counter stream per (seed, step, micro-batch, layer, module). */
export interface DropoutKey { seed: number | bigint; step?: number; micro?: number; layer?: number; module?: number }
export interface LoraShapeArgs {
  T: number; K: number; N: number; r: number;
  /** alpha / r. */
  scale: number;
  /** In [0, 1); 0 when absent. */
  dropout?: number;
  key?: DropoutKey;
}
export interface HeadShapeArgs {
  T: number; D: number; V: number;
  /** Rows per chunk (1024 when absent) and vocabulary entries per block (2048): the [chunk, vocabChunk] logits are the largest scratch. */
  chunk?: number; vocabChunk?: number;
}
/** Scratch the call allocated (and counted), and native wall times where it measures them. */
export interface HeadReport { workspaceBytes: number; forwardMs: number; backwardMs: number }
export interface AdamWParam { param: Float32Array; grad: Float32Array; m: Float32Array; v: Float32Array; group?: number }
export interface TrainKernelsBinding {
  trainKernels: {
    /** dinp[T,K] = dout W; dweight[N,K] += dout^T inp; dbias[N] += colsum(dout). Omit a gradient to skip it. */
    linearBackward(a: { dinp?: Float32Array | null; dweight?: Float32Array | null; dbias?: Float32Array | null; dout: Float32Array; inp: Float32Array; weight: Float32Array; T: number; K: number; N: number }): Promise<void>;
    rmsnormBackward(a: { dinp: Float32Array; dweight?: Float32Array | null; dout: Float32Array; inp: Float32Array; weight: Float32Array; T: number; C: number; eps: number }): Promise<void>;
    layernormBackward(a: { dinp: Float32Array; dweight?: Float32Array | null; dbias?: Float32Array | null; dout: Float32Array; inp: Float32Array; weight: Float32Array; T: number; C: number; eps: number }): Promise<void>;
    geluBackward(a: ElementwiseBackwardArgs): Promise<void>;
    geluTanhBackward(a: ElementwiseBackwardArgs): Promise<void>;
    quickGeluBackward(a: ElementwiseBackwardArgs): Promise<void>;
    siluBackward(a: ElementwiseBackwardArgs): Promise<void>;
    /** dinp[n] = dout[n] where inp[n] > 0, else 0. */
    reluBackward(a: ElementwiseBackwardArgs): Promise<void>;
    /** Backward of out = silu(gate) * up. */
    swigluBackward(a: { dgate: Float32Array; dup: Float32Array; dout: Float32Array; gate: Float32Array; up: Float32Array; n: number }): Promise<void>;
    /** In place on dx[T,H,hd]: the inverse rotation of the forward's. */
    ropeBackward(a: { dx: Float32Array; positions: BigInt64Array; T: number; H: number; hd: number; ldx?: number; theta: number }): Promise<void>;
    /** attention forward that also writes lse[Hq,T], the per-row log-sum-exp of the scaled scores. */
    attentionForwardLse(a: AttentionShapeArgs & { out: Float32Array; lse: Float32Array; q: Float32Array; k: Float32Array; v: Float32Array }): Promise<void>;
    /** dq overwritten; dk, dv accumulated (summed over the query heads sharing a KV head). */
    attentionBackward(a: AttentionShapeArgs & { dq: Float32Array; dk: Float32Array; dv: Float32Array; dout: Float32Array; q: Float32Array; k: Float32Array; v: Float32Array; out: Float32Array; lse: Float32Array }): Promise<void>;
    /** dtable[V,C] += scatter of dout[T,C] rows at ids[T]. */
    embeddingBackward(a: { dtable: Float32Array; dout: Float32Array; ids: BigInt64Array; T: number; C: number; V: number }): Promise<void>;
    /** out[T,N] = x W^T + bias + scale (dropout(x) A^T) B^T; xa[T,r] = dropout(x) A^T (keep for the backward). */
    loraForward(a: LoraShapeArgs & { out: Float32Array; xa: Float32Array; x: Float32Array; W: Float32Array; bias?: Float32Array | null; A: Float32Array; B: Float32Array }): Promise<void>;
    /** dx overwritten (base + low-rank path); dA[r,K], dB[N,r] accumulated. Same key as the forward. */
    loraBackward(a: LoraShapeArgs & { dx?: Float32Array | null; dA?: Float32Array | null; dB?: Float32Array | null; dout: Float32Array; x: Float32Array; xa: Float32Array; W: Float32Array; A: Float32Array; B: Float32Array }): Promise<void>;
    /** The ops table's lora.lora_delta_forward: out[T,N] (row stride ldo, default N) += scale (dropout(x) A^T) B^T; xa[T,r] written. */
    loraDeltaForward(a: LoraShapeArgs & { out: Float32Array; ldo?: number; xa: Float32Array; x: Float32Array; A: Float32Array; B: Float32Array }): Promise<void>;
    /** The ops table's lora.lora_delta_backward: dx[T,K], dA[r,K], dB[N,r] ACCUMULATED (omit to skip); dout row stride ldd (default N). */
    loraDeltaBackward(a: LoraShapeArgs & { dx?: Float32Array | null; dA?: Float32Array | null; dB?: Float32Array | null; dout: Float32Array; ldd?: number; x: Float32Array; xa: Float32Array; A: Float32Array; B: Float32Array }): Promise<void>;
    /** out[T,K] = x with elements zeroed with probability p (survivors / (1-p)), mask from the key. */
    loraDropout(a: { out: Float32Array; x: Float32Array; T: number; K: number; p: number; key?: DropoutKey }): Promise<void>;
    /** logp[T], gathered[T] (-1 where targets < 0), lse[T]; jac[T,D] = d logp / d h when given. */
    fusedHeadForward(a: HeadShapeArgs & { logp: Float32Array; gathered: BigInt64Array; lse: Float32Array; jac?: Float32Array | null; h: Float32Array; W: Float32Array; targets: BigInt64Array; mode?: RejectedLogpMode }): Promise<HeadReport>;
    /** dh[T,D] = dlogp[t] (W[gathered_t] - softmax_t W), recomputing the logits chunk by chunk. */
    fusedHeadBackward(a: HeadShapeArgs & { dh: Float32Array; dW?: Float32Array | null; dlogp: Float32Array; h: Float32Array; W: Float32Array; gathered: BigInt64Array; lse: Float32Array }): Promise<HeadReport>;
    /** dh[T,D] = dlogp[t] jac[t]. */
    fusedHeadBackwardSaved(a: { dh: Float32Array; dlogp: Float32Array; jac: Float32Array; T: number; D: number }): Promise<void>;
    /** Forward + backward (label mode) of one head path, allocating and counting its own scratch. For benchmarks. */
    headStep(a: HeadShapeArgs & { path: 'fused' | 'fused-recompute' | 'naive'; logp: Float32Array; dh: Float32Array; dlogp: Float32Array; h: Float32Array; W: Float32Array; targets: BigInt64Array }): Promise<HeadReport>;
    /** Mean over pairs (or meanOver) of the preference loss - sftWeight * logp_w (sum or per-token mean); writes d/d policy logps. */
    dpoLoss(a: {
      B: number; policyChosen: Float32Array; policyRejected: Float32Array; refChosen: Float32Array; refRejected: Float32Array;
      /** Required for sftNorm 'mean'. */
      chosenTokens?: BigInt64Array; dChosen: Float32Array; dRejected: Float32Array;
      loss?: 'sigmoid' | 'hinge' | 'ipo'; beta?: number; sftWeight?: number; sftNorm?: 'sum' | 'mean'; meanOver?: number;
    }): Promise<DpoMetrics>;
    /** Mean token cross-entropy over targets >= 0; dlogp written; resolves to the loss. */
    sftLoss(a: { dlogp: Float32Array; logp: Float32Array; targets: BigInt64Array; T: number; meanOver?: number }): Promise<number>;
    /** sums[B] = per-sequence sums of logp over tokens with seq[t] = b (seq < 0: none). */
    sumBySequence(a: { sums: Float32Array; logp: Float32Array; seq: BigInt64Array; T: number; B: number }): Promise<void>;
    /** dlogp[t] = dseq[seq[t]] (0 where seq < 0). */
    sequenceGradToTokens(a: { dlogp: Float32Array; dseq: Float32Array; seq: BigInt64Array; T: number; B: number }): Promise<void>;
    /** One torch.optim.AdamW update of every parameter (step = 1 for the first). */
    adamwStep(a: { params: AdamWParam[]; groups: { lr: number; weightDecay: number }[]; step: number; beta1?: number; beta2?: number; eps?: number }): Promise<void>;
    /** Global L2 norm of all gradients. */
    gradNorm(a: { grads: Float32Array[] }): Promise<number>;
    /** torch clip_grad_norm_: scales by min(1, maxNorm / (norm + 1e-6)); resolves to the norm before clipping. */
    clipGradNorm(a: { grads: Float32Array[]; maxNorm: number }): Promise<number>;
  };
}

// ---- the patch embedding's backward kernel alone (native/addon/lab/pretrain_kernels_binding.cpp) --
export interface PatchEmbedBackwardArgs {
  /** (D, 3, p, p), accumulated. */
  dweight: Float32Array;
  /** (N, P, D). */
  dout: Float32Array;
  /** (N, 3, S, S). */
  img: Float32Array;
  N: number; S: number; p: number; D: number;
}
// ---- CUDA kernels, for tests and benchmarks (native/addon/lab/cuda_binding*.cpp) ------------------
// Present only when the addon was built with the CUDA backend (native().buildInfo().cuda); absent otherwise.
// Each op takes its CPU twin's options (kernels.* / trainKernels.*) plus `dtype` ('F32' default, or
// 'BF16': inputs are rounded to bf16 on the device, outputs come back as the fp32 values of the bf16
// results) and `repeats` (benchmarks: one untimed run, then `repeats` timed runs; in-place and
// accumulating outputs then apply repeats + 1 times). Host arrays are copied in, the kernel runs on
// a private stream, outputs are copied back; `ms` is the device time of the kernels alone.
// Legend: as the CPU sections; B sequences (attention) or items (sampling), n elements.
export type CudaDType = 'F32' | 'BF16';
export interface CudaCallOptions { dtype?: CudaDType; repeats?: number }
export interface CudaTiming { ms: number }
/** Variable-length attention batch: sequences packed along the token axis (cumulative offsets, first 0, last T / S). */
export interface CudaVarlen {
  B: number;
  cuSeqlensQ: Int32Array;
  cuSeqlensK: Int32Array;
  /** Keys cached before each sequence's first query (causal); default S_b - T_b. */
  qOffsets?: Int32Array;
}
/** GEMM users: 'cublaslt' (default) or the plain tiled reference kernel. */
export interface CudaGemmChoice { gemm?: 'cublaslt' | 'reference' }
export interface CudaDeviceInfo {
  name: string; computeCapability: string; multiprocessors: number; totalMemory: number; freeMemory: number;
  driverVersion: number; runtimeVersion: number;
}
type CpuKernelArgs<K extends keyof KernelsBinding['kernels']> = KernelsBinding['kernels'][K] extends (a: infer A) => unknown ? A : never;
type CpuTrainArgs<K extends keyof TrainKernelsBinding['trainKernels']> = TrainKernelsBinding['trainKernels'][K] extends (a: infer A) => unknown ? A : never;
export interface CudaKernels {
  /** The current device; throws (code STIC_DEVICE) when no device or driver is usable. */
  deviceInfo(): CudaDeviceInfo;
  layernorm(a: CpuKernelArgs<'layernorm'> & CudaCallOptions): Promise<CudaTiming>;
  rmsnorm(a: CpuKernelArgs<'rmsnorm'> & CudaCallOptions): Promise<CudaTiming>;
  /** res[T,C] += inp (stored in dtype), then out = LayerNorm(res). */
  addLayernorm(a: CpuKernelArgs<'layernorm'> & { res: Float32Array } & CudaCallOptions): Promise<CudaTiming>;
  /** res[T,C] += inp (stored in dtype), then out = RMSNorm(res). */
  addRmsnorm(a: CpuKernelArgs<'rmsnorm'> & { res: Float32Array } & CudaCallOptions): Promise<CudaTiming>;
  layernormBackward(a: CpuTrainArgs<'layernormBackward'> & CudaCallOptions): Promise<CudaTiming>;
  rmsnormBackward(a: CpuTrainArgs<'rmsnormBackward'> & CudaCallOptions): Promise<CudaTiming>;
  quickGelu(a: ElementwiseArgs & CudaCallOptions): Promise<CudaTiming>;
  gelu(a: ElementwiseArgs & CudaCallOptions): Promise<CudaTiming>;
  geluTanh(a: ElementwiseArgs & CudaCallOptions): Promise<CudaTiming>;
  silu(a: ElementwiseArgs & CudaCallOptions): Promise<CudaTiming>;
  relu(a: ElementwiseArgs & CudaCallOptions): Promise<CudaTiming>;
  swiglu(a: CpuKernelArgs<'swiglu'> & CudaCallOptions): Promise<CudaTiming>;
  add(a: CpuKernelArgs<'add'> & CudaCallOptions): Promise<CudaTiming>;
  geluBackward(a: ElementwiseBackwardArgs & CudaCallOptions): Promise<CudaTiming>;
  geluTanhBackward(a: ElementwiseBackwardArgs & CudaCallOptions): Promise<CudaTiming>;
  quickGeluBackward(a: ElementwiseBackwardArgs & CudaCallOptions): Promise<CudaTiming>;
  siluBackward(a: ElementwiseBackwardArgs & CudaCallOptions): Promise<CudaTiming>;
  reluBackward(a: ElementwiseBackwardArgs & CudaCallOptions): Promise<CudaTiming>;
  swigluBackward(a: CpuTrainArgs<'swigluBackward'> & CudaCallOptions): Promise<CudaTiming>;
  rope(a: CpuKernelArgs<'rope'> & CudaCallOptions): Promise<CudaTiming>;
  ropeBackward(a: CpuTrainArgs<'ropeBackward'> & CudaCallOptions): Promise<CudaTiming>;
  embedding(a: CpuKernelArgs<'embedding'> & CudaCallOptions): Promise<CudaTiming>;
  /** dtable (fp32) accumulated. */
  embeddingBackward(a: CpuTrainArgs<'embeddingBackward'> & CudaCallOptions): Promise<CudaTiming>;
  logSoftmaxGather(a: CpuKernelArgs<'logSoftmaxGather'> & CudaCallOptions): Promise<CudaTiming>;
  attention(a: CpuKernelArgs<'attention'> & Partial<CudaVarlen> & CudaCallOptions): Promise<CudaTiming>;
  attentionForwardLse(a: CpuTrainArgs<'attentionForwardLse'> & Partial<CudaVarlen> & CudaCallOptions): Promise<CudaTiming>;
  attentionBackward(a: CpuTrainArgs<'attentionBackward'> & Partial<CudaVarlen> & CudaCallOptions): Promise<CudaTiming>;
  /** C (fp32) = alpha op(A) op(B) + beta C, A and B stored as dtype; impl 'cublaslt' (default) or 'reference'. */
  gemm(a: Omit<SgemmArgs, 'batch' | 'strideA' | 'strideB' | 'strideC'> & { impl?: 'cublaslt' | 'reference' } & CudaCallOptions): Promise<CudaTiming>;
  fusedHeadForward(a: CpuTrainArgs<'fusedHeadForward'> & CudaGemmChoice & CudaCallOptions): Promise<CudaTiming & { workspaceBytes: number }>;
  fusedHeadBackward(a: CpuTrainArgs<'fusedHeadBackward'> & CudaGemmChoice & CudaCallOptions): Promise<CudaTiming & { workspaceBytes: number }>;
  fusedHeadBackwardSaved(a: CpuTrainArgs<'fusedHeadBackwardSaved'> & CudaCallOptions): Promise<CudaTiming>;
  dpoLoss(a: CpuTrainArgs<'dpoLoss'>): Promise<DpoMetrics>;
  sftLoss(a: CpuTrainArgs<'sftLoss'>): Promise<number>;
  sumBySequence(a: CpuTrainArgs<'sumBySequence'>): Promise<CudaTiming>;
  sequenceGradToTokens(a: CpuTrainArgs<'sequenceGradToTokens'>): Promise<CudaTiming>;
  gradNorm(a: CpuTrainArgs<'gradNorm'>): Promise<number>;
  clipGradNorm(a: CpuTrainArgs<'clipGradNorm'>): Promise<number>;
  /** With maxGradNorm: clipping (decided on the device) then AdamW on one stream; gradNorm is null without it. */
  adamwStep(a: CpuTrainArgs<'adamwStep'> & { maxGradNorm?: number }): Promise<{ gradNorm: number | null; skipped: boolean }>;
  /** tokens[B] from logits[B, ld] with one item's parameters per row (the CPU sampler's Philox keying by seed and step). */
  sampleTokens(a: {
    logits: Float32Array; B: number; V: number; ld?: number; tokens: Int32Array;
    items: { temperature: number; topK: number; topP: number; seed: number; step: number }[];
  } & CudaCallOptions): Promise<CudaTiming>;
  /**
   * The CUDA Backend end to end (cuda_binding_backend.cpp): a backend on device 0, an arena carved on it, the values copied
   * in, copied within the device and doubled through its ops table, then copied back.
   */
  backendRoundTrip(a: { values: Float32Array } & CudaGemmChoice): Promise<{ name: string; freeBytes: number; totalBytes: number; doubled: Float32Array }>;
  /** The CUDA ops table's empty entries ("family.op"), [] when it is complete (core/ops.h missingOps). */
  opsTableMissing(): string[];
  // Through the CUDA ops table (native/cuda/ops_table.cu, cuda_binding_ops_table.cpp): the entry and its kernel together, fp32 only.
  /** The table's lora.lora_delta_forward; the options of trainKernels.loraDeltaForward. */
  loraDeltaForward(a: CpuTrainArgs<'loraDeltaForward'> & CudaGemmChoice): Promise<CudaTiming>;
  /** The table's lora.lora_delta_backward; the options of trainKernels.loraDeltaBackward. */
  loraDeltaBackward(a: CpuTrainArgs<'loraDeltaBackward'> & CudaGemmChoice): Promise<CudaTiming>;
  /** The table's embedding.patch_embed_forward; the options of kernels.patchEmbed. */
  patchEmbedForward(a: CpuKernelArgs<'patchEmbed'> & CudaGemmChoice): Promise<CudaTiming>;
  /** The table's embedding.patch_embed_backward: dweight[D,3,p,p] += over N images img[N,3,Hs,Ws], dout[N,P,D]. */
  patchEmbedBackward(a: Omit<PatchEmbedBackwardArgs, 'S'> & { Hs: number; Ws: number } & CudaGemmChoice): Promise<CudaTiming>;
  /** The GPU pixel work of corruptImages, given the parameters the CPU drew (its `params`, one per image). */
  corruptImagesWithParams(
    images: RgbImage[], seeds: number[], params: NativeCorruptionParams[],
    options?: { maskFill?: [number, number, number]; repeats?: number },
  ): Promise<{ images: RgbImage[]; ms: number }>;
}
export interface CudaBinding { cuda?: CudaKernels }

export interface PretrainKernelsBinding {
  pretrainKernels: {
    /** dweight += dout^T @ im2col(img): the patch embedding's weight gradient. */
    patchEmbedBackward(args: PatchEmbedBackwardArgs): Promise<void>;
  };
}

/** The whole lab binding. */
export type LabBinding = KernelsBinding & TrainKernelsBinding & PretrainKernelsBinding & CudaBinding;
