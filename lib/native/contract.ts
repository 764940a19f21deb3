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
}
export interface AttentionArgs {
  out: Float32Array; q: Float32Array; k: Float32Array; v: Float32Array; // [T,Hq,hd], [T,Hq,hd], [S,Hkv,hd] x2
  ldo?: number; ldq?: number; ldk?: number; ldv?: number; // token strides
  T: number; S: number; Hq: number; Hkv: number; hd: number;
  /** causal: query t sees keys [0, qOffset + t]. */
  causal?: boolean; qOffset?: number;
  /** 1/sqrt(hd) when absent. */
  scale?: number;
}
export interface ElementwiseArgs { out: Float32Array; inp: Float32Array; n: number }
export type GemmKernelsName = 'avx512' | 'avx2' | 'scalar';
export interface KernelsBinding {
  kernels: {
    sgemm(a: SgemmArgs): Promise<void>;
    /** out[T,N] = inp[T,K] @ weight[N,K]^T + bias[N]. */
    linear(a: { out: Float32Array; inp: Float32Array; weight: Float32Array; bias?: Float32Array | null; T: number; K: number; N: number }): Promise<void>;
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
}
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
export interface LlavaModelNative {
  memory(): { weightBytes: number };
  /** features (N, Ti, D); hidden (only when wantHidden): numLayers + 1 arrays, each (N, P+1, Dv), [0] after pre-layernorm. */
  encodeImages(pixels: Float32Array, count: number, wantHidden: boolean): Promise<{ features: Float32Array; hidden: Float32Array[] }>;
  /** Full logits (T, V) per sequence. */
  logits(pixels: Float32Array, count: number, items: NativeSequence[]): Promise<Float32Array[]>;
  /** Log-probs (T - responseStart) of each sequence's scored tokens. */
  logprobs(pixels: Float32Array, count: number, items: NativeScoredSequence[]): Promise<Float32Array[]>;
  /** Validates the items (throws naming items[i]) and returns a generation that has not started. */
  startGeneration(pixels: Float32Array, count: number, items: NativeGenerationItem[], eosIds: number[]): LlavaGenerationNative;
}
export interface ModelBinding {
  /** Every weight the engine loads for this config, in load order. */
  llavaTensorSpecs(config: LlavaNativeConfig): LlavaTensorSpec[];
  /** Allocates the weights once and reads them from the sources (engine names). */
  loadLlava(config: LlavaNativeConfig, sources: TensorSourceEntry[]): Promise<LlavaModelNative>;
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
  masked?: number[];
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

/** The whole binding: the intersection of every area's section. */
export type NativeBinding = CoreBinding & ConvertBinding & KernelsBinding & SafetensorsBinding & ModelBinding & ImageBinding;
