// The typed contract of stic.node: every function the addon exports, with the shapes of what it
// takes and returns. Sections are per area; keep each in step with its native/addon/*.cpp file.
// Legend for shape comments: B batch, T tokens, C channels, H height, W width, V vocab, D hidden.

export type DTypeName = 'F32' | 'BF16' | 'F16' | 'F64' | 'I32' | 'I64' | 'U8';

/** Errors thrown or rejected by the addon carry `code` = "STIC_" + a status code name. */
export type NativeErrorCode =
  | 'STIC_INVALID_ARGUMENT'
  | 'STIC_NOT_FOUND'
  | 'STIC_OUT_OF_RANGE'
  | 'STIC_IO_ERROR'
  | 'STIC_OUT_OF_MEMORY'
  | 'STIC_UNSUPPORTED'
  | 'STIC_INTERNAL'
  | 'STIC_DEVICE';

// ---- build and runtime (native/addon/addon.cpp) ----------------------------------------------
export interface BuildInfo {
  cuda: boolean;
  /** NCCL collectives built in (CUDA build with NCCL found; lib/dist). */
  nccl: boolean;
  backends: string[];
  napiVersion: number;
  openmp: number;
  threads: number;
  maxThreads: number;
  simd: 'avx512' | 'avx2' | 'scalar';
  compiler: string;
}

export interface CoreBinding {
  buildInfo(): BuildInfo;
  /** Sets the CPU thread count (0: default) and returns the value in force. */
  setThreads(n: number): number;
}

// ---- element-type conversion (native/addon/convert_binding.cpp) -------------------------------
export type AnyTypedArray =
  | Float32Array | Float64Array | Uint16Array | Int32Array | Uint32Array | BigInt64Array | Uint8Array | Int8Array | Int16Array;

export interface ConvertBinding {
  /** Converts every element of src (srcType) into dst (dstType); float types only. dst must hold exactly as many elements. */
  convertDType(src: AnyTypedArray, srcType: DTypeName, dst: AnyTypedArray, dstType: DTypeName): Promise<void>;
}

// ---- CPU kernels, for tests and benchmarks (native/addon/kernels_binding.cpp) ------------------
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
  };
}

// ---- safetensors tensor reads (native/addon/safetensors_binding.cpp) ----------------------------
/** Where one tensor's bytes are: a TensorEntry of lib/model/safetensors_header.ts (extra fields ignored). */
export interface TensorSourceEntry {
  name: string;
  file: string;
  dtype: DTypeName;
  shape: number[];
  /** Absolute offset of the first byte in `file`. */
  offset: number;
  nbytes: number;
}

export interface SafetensorsBinding {
  /** Maps entry.file, checks the range against the real file size, and copies (or converts to outDtype, floats only) into a new native tensor owned by the returned ArrayBuffer. */
  readTensorData(entry: TensorSourceEntry, outDtype?: DTypeName): Promise<ArrayBuffer>;
  /** The same for many entries, mapping each file once; results in the order of `entries`. */
  readTensorsData(entries: TensorSourceEntry[], outDtype?: DTypeName): Promise<ArrayBuffer[]>;
}

// ---- LLaVA model on the CPU (native/addon/model_binding.cpp) -----------------------------------
// Legend: N images of a call, S image side, T tokens, V vocab, Ti feature rows per image, D decoder
// hidden, P patches, Dv vision hidden. Pixels are (N, 3, S, S) normalised values; sequences name
// their images by index into that batch, in order of appearance (each image fills Ti image tokens).
/** The model fields native reads: an EngineConfig of lib/model/engine_config.ts fits. */
export interface LlavaNativeConfig {
  vision: {
    imageSize: number; patchSize: number; numChannels: number; hiddenSize: number; intermediateSize: number;
    numLayers: number; numHeads: number; act: string; layerNormEps: number; featureLayer: number; selectStrategy: 'default' | 'full';
  };
  projector: { type: 'mlp2x_gelu' | 'linear'; act: string; bias: boolean };
  decoder: {
    hiddenSize: number; intermediateSize: number; numLayers: number; numHeads: number; numKvHeads: number; headDim: number;
    vocabSize: number; ropeTheta: number; rmsNormEps: number; tieWordEmbeddings: boolean; attentionBias: boolean; mlpBias: boolean;
  };
  imageTokenId: number;
  imageTokenCount: number;
  /** LLaVA-NeXT: present (an object) when the checkpoint has image_newline and tiles images. */
  anyres?: object | null;
}
/**
 * How one image of a call takes its crops and fills its image tokens (native/model/image_layout.h):
 * a single tile is {crops: 1, gridRows: 0, gridCols: 0, keep*: 0}; an anyres image is the base crop
 * plus a gridRows x gridCols grid, and the kept window of its feature map (lib/data/anyres.ts).
 */
export interface NativeImageLayout {
  crops: number;
  gridRows: number;
  gridCols: number;
  keepRow0: number;
  keepRows: number;
  keepCol0: number;
  keepCols: number;
}
/** The images of a call: a count N of single tiles (pixels (N, 3, S, S)), or one layout per image (pixels: their crops in order). */
export type NativeImages = number | NativeImageLayout[];
/** A weight by its engine name (the llava-hf checkpoint name) and the shape it must have. */
export interface LlavaTensorSpec { name: string; shape: number[] }
export interface NativeSequence {
  ids: Int32Array | number[];
  /** Indices into the call's image batch, one per image (each fills Ti image tokens, in order). */
  images: number[];
}
export interface NativeScoredSequence extends NativeSequence {
  /** ids[responseStart:] are scored (1 <= responseStart < T). */
  responseStart: number;
}
export interface NativeGenerationItem extends NativeSequence {
  maxNewTokens: number;
  /** <= 0: greedy. */
  temperature: number;
  /** <= 0: off. */
  topK: number;
  /** >= 1: off. */
  topP: number;
  /** Keys the counter-based RNG with the step: draws never depend on the batch. */
  seed: number;
}
/** '' while running; 'eos' | 'length' | 'stop' once finished. */
export type NativeFinish = '' | 'eos' | 'length' | 'stop';
export interface LlavaGenerationNative {
  /** Up to maxTokens more tokens per unfinished item (EOS not included); the first call encodes images and prefills. */
  step(maxTokens: number): Promise<{ tokens: Int32Array[]; finish: NativeFinish[] }>;
  /** Finishes item i with reason 'stop' (not while a step runs). */
  stop(index: number): void;
  memory(): { kvCacheBytes: number; activationBytes: number };
}
export interface LlavaLoadOptions {
  dtype?: 'stored' | 'F32';
  /** tensors[i]: weight is an engine tensor name (a whole one, e.g. ...q_proj.weight), A (r, in), B (out, r). */
  adapter?: { alpha: number; tensors: { weight: string; r: number; A: Float32Array; B: Float32Array }[] };
}
export interface LlavaModelNative {
  /** weightBytes: every weight, copied or mapped; mappedWeightBytes: those mapped from the checkpoint; weightDType: the dtype most matrix bytes are held in. */
  memory(): { weightBytes: number; mappedWeightBytes: number; weightDType: 'F32' | 'BF16' | 'F16' };
  /** features: each image's token rows in order, images concatenated ((N, Ti, D) for single tiles); hidden (only when wantHidden): numLayers + 1 arrays, each (C, P+1, Dv) over all crops, [0] after pre-layernorm. */
  encodeImages(pixels: Float32Array, images: NativeImages, wantHidden: boolean): Promise<{ features: Float32Array; hidden: Float32Array[] }>;
  /** Full logits (T, V) per sequence. */
  logits(pixels: Float32Array, images: NativeImages, items: NativeSequence[]): Promise<Float32Array[]>;
  /** Log-probs (T - responseStart) of each sequence's scored tokens. */
  logprobs(pixels: Float32Array, images: NativeImages, items: NativeScoredSequence[]): Promise<Float32Array[]>;
  /** Validates the items (throws naming items[i]) and returns a generation that has not started. */
  startGeneration(pixels: Float32Array, images: NativeImages, items: NativeGenerationItem[], eosIds: number[]): LlavaGenerationNative;
}
export interface ModelBinding {
  /** Every weight the engine loads for this config, in load order. */
  llavaTensorSpecs(config: LlavaNativeConfig): LlavaTensorSpec[];
  /**
   * Allocates the weights once and reads them from the sources (engine names). options.dtype:
   * 'stored' (default) keeps BF16/F16 matrices as stored (mapped when their parts are adjacent in
   * the file), 'F32' widens them. options.adapter: LoRA deltas merged into their weights at load
   * (W += alpha/r * B A), each weight then a private F32 copy.
   */
  loadLlava(config: LlavaNativeConfig, sources: TensorSourceEntry[], options?: LlavaLoadOptions): Promise<LlavaModelNative>;
  /** The sampler alone, for tests: the token chosen for generation step `step`. */
  sampleTokenForTest(logits: Float32Array, params: { temperature: number; topK: number; topP: number; seed: number }, step: number): number;
}

// ---- images: preprocessing and corruptions (native/addon/image_binding.cpp) --------------------
/** An RGB image, uint8, interleaved: data is (H, W, 3), row-major. */
export interface RgbImage { data: Uint8Array; width: number; height: number }
export interface NativePreprocessOptions {
  mode: 'pad' | 'clip';
  /** Shorter side after the (Pillow bicubic) resize. */
  size: number;
  /** Centre-crop side S (<= size). */
  crop: number;
  mean: [number, number, number];
  std: [number, number, number];
  /** Canvas colour for mode 'pad'. */
  padColor: [number, number, number];
  /** Pillow filter of the resize (CLIP: bicubic). */
  resample: 'bicubic' | 'bilinear';
}
/** [lo, hi]: a value is drawn uniformly per image; null disables (jitter ops only). */
export type NativeRange = [number, number] | null;
/** Every field is required; lib/data/corrupt.ts fills the defaults. */
export interface NativeCorruptionSpec {
  kind: 'lowres' | 'jitter' | 'noise' | 'diffusion' | 'blur' | 'mask' | 'stic';
  lowres: [number, number];
  brightness: NativeRange;
  contrast: NativeRange;
  saturation: NativeRange;
  hue: NativeRange;
  noiseSigma: NativeRange;
  diffusionStep: [number, number];
  diffusionSteps: number;
  betaStart: number;
  betaEnd: number;
  blurSigma: NativeRange;
  /** Odd, or 0 for 2 ceil(3 sigma) + 1. */
  blurKernel: number;
  patchSize: number;
  maskRatio: NativeRange;
  maskFill: [number, number, number];
  lowresProbability: number;
}
/** What one image drew; only the fields of its kind are present. */
export interface NativeCorruptionParams {
  kind: 'lowres' | 'jitter' | 'noise' | 'diffusion' | 'blur' | 'mask';
  size?: number;
  order?: ('brightness' | 'contrast' | 'saturation' | 'hue')[];
  brightness?: number;
  contrast?: number;
  saturation?: number;
  hue?: number;
  sigma?: number;
  step?: number;
  alphaBar?: number;
  kernelSize?: number;
  ratio?: number;
  patchSize?: number;
  /** Sorted indices of the filled patches, row-major over the patch grid. */
  masked?: Int32Array;
}
export interface ImageBinding {
  /** N images -> Float32Array (N, 3, S, S), normalised. */
  preprocessImages(images: RgbImage[], options: NativePreprocessOptions): Promise<Float32Array>;
  /** One seed per image (integer in [0, 2^53)); results in input order. */
  corruptImages(
    images: RgbImage[],
    seeds: number[],
    spec: NativeCorruptionSpec,
  ): Promise<{ image: RgbImage; params: NativeCorruptionParams }[]>;
  /** The corruptions' counter-based RNG: words or normals [first, first + count) of one stream of a seed. */
  corruptionRandom(seed: number, stream: 'params' | 'pixels' | 'mask', first: number, count: number, dist: 'words'): Uint32Array;
  corruptionRandom(seed: number, stream: 'params' | 'pixels' | 'mask', first: number, count: number, dist: 'normals'): Float32Array;
}

// ---- LLaVA-NeXT anyres preprocessing (native/addon/anyres_binding.cpp) -------------------------
/** The geometry comes from lib/data/anyres.ts; canvas sides are multiples of crop. */
export interface NativeAnyresOptions {
  crop: number;
  canvasWidth: number;
  canvasHeight: number;
  resizedWidth: number;
  resizedHeight: number;
  mean: [number, number, number];
  std: [number, number, number];
  /** torchvision: torch's uint8 antialiased bicubic + fused normalisation (transformers 5's default); pil: Pillow's. */
  backend: 'torchvision' | 'pil';
}
export interface AnyresBinding {
  /** One image -> Float32Array (K, 3, S, S): the whole image squashed, then the canvas crops row by row. */
  anyresPreprocess(image: RgbImage, options: NativeAnyresOptions): Promise<Float32Array>;
}

// ---- training kernels, for tests and benchmarks (native/addon/train_kernels_*binding.cpp) --------
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
export type RejectedLogpMode = 'label' | 'top-alt';
export interface DpoMetrics {
  loss: number; rewardChosen: number; rewardRejected: number; rewardAccuracy: number; rewardMargin: number;
  logpChosen: number; logpRejected: number;
}
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
    /** out[T,K] = x with elements zeroed with probability p (survivors / (1-p)), mask from the key. */
    loraDropout(a: { out: Float32Array; x: Float32Array; T: number; K: number; p: number; key?: DropoutKey }): Promise<void>;
    /** logp[T], gathered[T] (-1 where targets < 0), lse[T]; jac[T,D] = d logp / d h when given. */
    fusedHeadForward(a: HeadShapeArgs & { logp: Float32Array; gathered: BigInt64Array; lse: Float32Array; jac?: Float32Array | null; h: Float32Array; W: Float32Array; targets: BigInt64Array; mode?: RejectedLogpMode }): Promise<HeadReport>;
    /** dh[T,D] = dlogp[t] (W[gathered_t] - softmax_t W), recomputing the logits chunk by chunk. */
    fusedHeadBackward(a: HeadShapeArgs & { dh: Float32Array; dlogp: Float32Array; h: Float32Array; W: Float32Array; gathered: BigInt64Array; lse: Float32Array }): Promise<HeadReport>;
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

// ---- model-level training: LoRA in the decoder, DPO/SFT steps (native/addon/trainer_binding.cpp) --
// A trainer holds the trainable state for one loaded model: LoRA A/B on the chosen decoder linears,
// optionally a trainable copy of the projector (the model's own projector stays frozen: it is the
// reference's "original projector", STIC.md defect (c)), their gradients, the AdamW moments and the
// step count. The base weights are never modified. Steps ACCUMULATE gradients until optimizerStep
// (or zeroGrad) clears them. Every call is async and rejects with a message naming the offending
// field (`pairs[1].chosenIds[3]`, a tensor name, ...); only one call runs on a trainer at a time
// (a second rejects). Legend: N images of a call, S image side, r LoRA rank, B pairs.
export type LoraTargetModule = 'q_proj' | 'k_proj' | 'v_proj' | 'o_proj' | 'gate_proj' | 'up_proj' | 'down_proj';
export interface NativeLoraSpec {
  r: number;
  alpha: number;
  /** Dropout probability on the LoRA path's input (PEFT placement), in [0, 1). */
  dropout: number;
  /** Decoder linears that get LoRA (every layer); at least one, no repeats. */
  targets: LoraTargetModule[];
  /** Integer in [0, 2^53): PEFT-like init (A kaiming-uniform(a=sqrt(5)), B zeros) and the dropout masks. */
  seed: number;
}
export interface NativeTrainerSpec {
  lora: NativeLoraSpec;
  /** Train a copy of multi_modal_projector.* (its own param group). */
  trainProjector: boolean;
}
/**
 * Names (tensorInfo order: layer by layer, modules in LoraTargetModule order, A then B; then the
 * projector's linear_1.weight, linear_1.bias, linear_2.weight, linear_2.bias as present):
 *   LoRA:      base_model.model.model.language_model.layers.{i}.{self_attn|mlp}.{module}.lora_{A,B}.weight
 *              (PEFT's saved names; A (r, in), B (out, r))
 *   projector: multi_modal_projector.linear_{1,2}.{weight,bias}
 * Accepted as aliases on input: PEFT's in-memory names (`.lora_A.default.weight`) and
 * `base_model.model.model.multi_modal_projector.*`.
 */
export interface NativeTrainTensorInfo { name: string; shape: number[]; group: 'lora' | 'projector' }
/** param: the weights; grad: accumulated gradients; exp_avg / exp_avg_sq: AdamW's moments (torch's names). */
export type NativeTrainTensorKind = 'param' | 'grad' | 'exp_avg' | 'exp_avg_sq';
export interface NativePreferencePair {
  /** Indices into the call's image batch, one per image of the prompt (each fills Ti image tokens, in order). */
  images: number[];
  /** The prompt up to the assistant's answer, image tokens expanded. Shared by both responses. */
  promptIds: Int32Array | number[];
  /** Response ids only (no image tokens), at least one each. */
  chosenIds: Int32Array | number[];
  rejectedIds: Int32Array | number[];
  /** Summed reference log-probs of the responses (both or neither); computed by the step when absent. */
  refChosen?: number;
  refRejected?: number;
}
export interface NativeSftItem {
  images: number[];
  ids: Int32Array | number[];
  /** Per token: nonzero where ids[t] is a target (an assistant token), predicted from ids[0..t). mask[0] must be 0. */
  mask: Uint8Array | number[];
}
/** Dropout key of a micro-step (the trainer's seed completes it): the same key and inputs draw the same masks, whatever the thread count. */
export interface NativeStepKey { step: number; micro: number }
export interface NativeDpoStepOptions {
  key: NativeStepKey;
  /** 'sigmoid' (DPO), 'hinge', 'ipo'. Default sigmoid. */
  loss?: 'sigmoid' | 'hinge' | 'ipo';
  /** Default 0.1. */
  beta?: number;
  /** Weight of -logp(chosen); default 1/1024. */
  sftWeight?: number;
  /** Regularise the summed chosen log-prob or its per-token mean; default 'sum'. */
  sftNorm?: 'sum' | 'mean';
  /** Rejected log-prob of the label tokens or of the model's own top alternative (STIC.md); default 'label'. */
  rejectedMode?: RejectedLogpMode;
  /** Gradients are of gradScale x (mean over this call's pairs); 1/accumulation for accumulated steps. Default 1. */
  gradScale?: number;
  /** true (default): prompt once, chosen and rejected as two branches over its KV; false: two full sequences. */
  sharedPrefix?: boolean;
  /** Gradient checkpointing: keep only each decoder layer's input and recompute the layer in the backward (same gradients, bitwise; less memory, about one more forward). Default false. */
  gradCheckpointing?: boolean;
  /** Which projector the reference uses when refs are computed here: 'original' (default) or 'trained' (reproduces STIC defect (c)). */
  refProjector?: 'original' | 'trained';
}
export interface NativeDpoStepResult extends DpoMetrics {
  /** Per pair: summed policy and reference log-probs, response token counts. */
  policyChosen: number[];
  policyRejected: number[];
  refChosen: number[];
  refRejected: number[];
  chosenTokens: number[];
  rejectedTokens: number[];
}
export interface NativeSftStepOptions {
  key: NativeStepKey;
  /** Mean over this many target tokens (the accumulated batch's count); default: the call's own count. */
  meanOver?: number;
  /** Default 1. */
  gradScale?: number;
  /** As NativeDpoStepOptions.gradCheckpointing. Default false. */
  gradCheckpointing?: boolean;
}
export interface NativeAdamWOptions {
  lora: { lr: number; weightDecay: number };
  /** Required when the projector is trainable. */
  projector?: { lr: number; weightDecay: number };
  /** Defaults 0.9, 0.999, 1e-8. */
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** Global-norm clipping (torch clip_grad_norm_); absent or <= 0: none. */
  maxGradNorm?: number;
}
export interface NativeTrainerMemory { parameterBytes: number; gradientBytes: number; optimizerBytes: number; lastStepActivationBytes: number }
/**
 * A training step's size (dpoStep / sftStep): featureRows = crops x image tokens per crop of the call,
 * rows = T of its largest packed pass, keys = S of its longest attention segment, entries = most
 * scored tokens of a pass; refFeatures: the reference needs its own projector output (default false).
 */
export interface NativeStepShape { featureRows: number; rows: number; keys: number; entries: number; refFeatures?: boolean }
/** A step's activation arena (what lastStepActivationBytes reports is savedBytes + scratchBytes): kept from the forward for the backward, and the rest. */
export interface NativeStepMemory { savedBytes: number; scratchBytes: number }
export interface LlavaTrainerNative {
  spec(): NativeTrainerSpec;
  tensorInfo(): NativeTrainTensorInfo[];
  /** Copies of the named tensors (default: all, tensorInfo order), as float32. */
  getTensors(kind: NativeTrainTensorKind, names?: string[]): Promise<Float32Array[]>;
  /** Overwrites the named tensors (any subset; float64 input is rounded, e.g. PEFT's float64 adapters). */
  setTensors(kind: NativeTrainTensorKind, tensors: { name: string; data: Float32Array | Float64Array }[]): Promise<void>;
  /** AdamW updates done so far (bias correction uses step + 1 next). */
  getStep(): number;
  setStep(step: number): void;
  /** Summed response log-probs per pair: 'reference' = LoRA off + original projector (or refProjector), 'policy' = LoRA on. No dropout. */
  pairLogprobs(
    pixels: Float32Array, images: NativeImages, pairs: NativePreferencePair[],
    options?: { model?: 'reference' | 'policy'; rejectedMode?: RejectedLogpMode; refProjector?: 'original' | 'trained' },
  ): Promise<{ chosen: number[]; rejected: number[] }>;
  /** One DPO micro-step: forward, loss, backward; gradients ACCUMULATE. Each distinct image is encoded once. */
  dpoStep(pixels: Float32Array, images: NativeImages, pairs: NativePreferencePair[], options: NativeDpoStepOptions): Promise<NativeDpoStepResult>;
  /** One SFT micro-step (masked mean cross-entropy); gradients ACCUMULATE. */
  sftStep(pixels: Float32Array, images: NativeImages, items: NativeSftItem[], options: NativeSftStepOptions): Promise<{ loss: number; tokens: number }>;
  /** Clips (optionally), applies AdamW to every trainable tensor, zeroes the gradients, step += 1. A non-finite norm skips the update (gradients still zeroed). */
  optimizerStep(options: NativeAdamWOptions): Promise<{ gradNorm: number; step: number; skipped: boolean }>;
  zeroGrad(): Promise<void>;
  /** W + (alpha/r) B A for every LoRA-targeted linear, and the trained projector (all, or the `names` asked for: a 7B model is exported a few tensors at a time), under engine names (`language_model.model.layers.{i}.self_attn.q_proj.weight`, llavaTensorSpecs; lib/engine/weight_names.ts maps them to a checkpoint's). */
  mergedWeights(names?: string[]): Promise<{ name: string; shape: number[]; data: Float32Array }[]>;
  memory(): NativeTrainerMemory;
  /** The activation bytes a step of this shape allocates, without (full) and with gradient checkpointing. */
  memoryPlan(shape: NativeStepShape): { full: NativeStepMemory; checkpointed: NativeStepMemory };
}
export interface TrainerBinding {
  /** A trainer on a loaded model (which it keeps alive); LoRA initialised from spec.lora.seed, the trainable projector copied from the model. */
  createTrainer(model: LlavaModelNative, spec: NativeTrainerSpec): Promise<LlavaTrainerNative>;
  /** Rows a step packs into one pass (pairs or items are grouped greedily under it; one longer than it gets a pass of its own). */
  trainPassRowBudget: number;
}

// ---- full-parameter pretraining of small LLaVA models (native/addon/pretrain_binding.cpp) -----
// `stic toy pretrain`: every weight (vision tower, projector, decoder with embeddings and lm_head)
// trains, fp32 on the CPU, on the SFT loss (mean cross-entropy of the masked target tokens), with
// AdamW and global-norm clipping. A pretrainer starts with every tensor zero: set (setTensors) or
// read (readTensors, from checkpoint files) the parameters first. step() ACCUMULATES gradients
// until optimizerStep (or zeroGrad) clears them. One call at a time per pretrainer (a second
// rejects). Legend: N images of a call, S image side, T tokens of an item, D hidden, p patch side,
// P patches per image.
/** Engine names (llavaTensorSpecs order); 'decay': matrices (rank >= 2), 'no_decay': norms, biases, class embedding. */
export interface PretrainTensorInfo { name: string; shape: number[]; group: 'decay' | 'no_decay' }
export interface PretrainItem {
  /** Indices into the call's image batch, one per run of Ti image tokens in ids. */
  images: number[];
  /** Token ids, image tokens expanded. At least 2. */
  ids: Int32Array | number[];
  /** Per token: nonzero where ids[t] is a target, predicted from ids[0..t). mask[0] must be 0; image tokens cannot be targets. */
  mask: Uint8Array | number[];
}
export interface PretrainStepOptions {
  /** The loss is the mean over this many targets (an accumulated batch's count); default: this call's own count. */
  meanOver?: number;
  /** Gradients of gradScale x loss. Default 1. */
  gradScale?: number;
}
export interface PretrainOptimizerOptions {
  lr: number;
  /** Decoupled weight decay on the 'decay' group only. Default 0. */
  weightDecay?: number;
  /** Defaults 0.9, 0.999, 1e-8. */
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** Global-norm clipping (torch clip_grad_norm_); absent or <= 0: none. */
  maxGradNorm?: number;
}
export interface PretrainerNative {
  tensorInfo(): PretrainTensorInfo[];
  /** Copies of the named tensors (default: all, tensorInfo order). */
  getTensors(kind: NativeTrainTensorKind, names?: string[]): Promise<Float32Array[]>;
  /** Overwrites the named tensors (any subset; float64 is rounded). */
  setTensors(kind: NativeTrainTensorKind, tensors: { name: string; data: Float32Array | Float64Array }[]): Promise<void>;
  /** Reads tensors of `kind` from checkpoint files; each source names a tensor of tensorInfo() with its shape (engine names). */
  readTensors(kind: NativeTrainTensorKind, sources: TensorSourceEntry[]): Promise<void>;
  /** AdamW updates done (bias correction uses step + 1 next). */
  getStep(): number;
  setStep(step: number): void;
  /** Forward and backward over the items (each distinct image encoded once); gradients ACCUMULATE. */
  step(pixels: Float32Array, count: number, items: PretrainItem[], options?: PretrainStepOptions): Promise<{ loss: number; tokens: number }>;
  /** The same loss without the backward (evaluation, finite differences); gradients untouched. */
  loss(pixels: Float32Array, count: number, items: PretrainItem[], options?: PretrainStepOptions): Promise<{ loss: number; tokens: number }>;
  /** Clips (optionally), AdamW on every tensor, zeroes the gradients, step += 1. A non-finite norm skips the update (gradients still zeroed). */
  optimizerStep(options: PretrainOptimizerOptions): Promise<{ gradNorm: number; step: number; skipped: boolean }>;
  zeroGrad(): Promise<void>;
  memory(): NativeTrainerMemory;
}
export interface PatchEmbedBackwardArgs {
  /** (D, 3, p, p), accumulated. */
  dweight: Float32Array;
  /** (N, P, D). */
  dout: Float32Array;
  /** (N, 3, S, S). */
  img: Float32Array;
  N: number; S: number; p: number; D: number;
}
export interface PretrainBinding {
  /** A pretrainer for `config` (the engine config, as loadLlava takes it), every tensor zero. */
  createPretrainer(config: LlavaNativeConfig): Promise<PretrainerNative>;
  pretrainKernels: {
    /** dweight += dout^T @ im2col(img): the patch embedding's weight gradient. */
    patchEmbedBackward(args: PatchEmbedBackwardArgs): Promise<void>;
  };
}

// ---- CUDA kernels, for tests and benchmarks (native/addon/cuda_binding*.cpp) ------------------
// Present only when the addon was built with the CUDA backend (buildInfo().cuda); absent otherwise.
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
  swiglu(a: CpuKernelArgs<'swiglu'> & CudaCallOptions): Promise<CudaTiming>;
  add(a: CpuKernelArgs<'add'> & CudaCallOptions): Promise<CudaTiming>;
  geluBackward(a: ElementwiseBackwardArgs & CudaCallOptions): Promise<CudaTiming>;
  geluTanhBackward(a: ElementwiseBackwardArgs & CudaCallOptions): Promise<CudaTiming>;
  quickGeluBackward(a: ElementwiseBackwardArgs & CudaCallOptions): Promise<CudaTiming>;
  siluBackward(a: ElementwiseBackwardArgs & CudaCallOptions): Promise<CudaTiming>;
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
  /** The GPU pixel work of corruptImages, given the parameters the CPU drew (its `params`, one per image). */
  corruptImagesWithParams(
    images: RgbImage[], seeds: number[], params: NativeCorruptionParams[],
    options?: { maskFill?: [number, number, number]; repeats?: number },
  ): Promise<{ images: RgbImage[]; ms: number }>;
}
export interface CudaBinding { cuda?: CudaKernels }

/** The whole binding: the intersection of every area's section. */
export type NativeBinding = CoreBinding & ConvertBinding & KernelsBinding & SafetensorsBinding & ModelBinding & ImageBinding & AnyresBinding & TrainKernelsBinding & TrainerBinding & PretrainBinding & CudaBinding;
