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
/** The corruptions an image can be drawn with (lib/data/corrupt.ts describes each). */
export type NativeCorruptionKind = 'lowres' | 'jitter' | 'noise' | 'diffusion' | 'blur' | 'mask';
/** Every field is required; lib/data/corrupt.ts fills the defaults. 'stic' draws lowres or jitter per image (STIC's mix). */
export interface NativeCorruptionSpec {
  kind: NativeCorruptionKind | 'stic';
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
  kind: NativeCorruptionKind;
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

// ---- DPO metrics (the trainer's steps and dpoLoss below) -------------------------------------
export type RejectedLogpMode = 'label' | 'top-alt';
export interface DpoMetrics {
  loss: number; rewardChosen: number; rewardRejected: number; rewardAccuracy: number; rewardMargin: number;
  logpChosen: number; logpRejected: number;
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
  /** Token ids, image tokens expanded. At least 2. */
  ids: Int32Array | number[];
  /** Per token: nonzero where ids[t] is a target (an assistant token), predicted from ids[0..t). mask[0] must be 0; image tokens cannot be targets; at least one target. */
  mask: Uint8Array | number[];
}
/** Dropout key of a micro-step (the trainer's seed completes it): the same key and inputs draw the same masks, whatever the thread count. */
export interface NativeStepKey { step: number; micro: number }
export interface NativeDpoStepOptions {
  key: NativeStepKey;
  // The loss hyperparameters are required; their defaults are the option tables' (lib/stic/train_options.ts).
  /** 'sigmoid' (DPO), 'hinge', 'ipo'. */
  loss: 'sigmoid' | 'hinge' | 'ipo';
  beta: number;
  /** Weight of -logp(chosen). */
  sftWeight: number;
  /** Regularise the summed chosen log-prob or its per-token mean. */
  sftNorm: 'sum' | 'mean';
  /** Rejected log-prob of the label tokens or of the model's own top alternative (STIC.md). */
  rejectedMode: RejectedLogpMode;
  /** Gradients are of gradScale x (mean over this call's pairs); 1/accumulation for accumulated steps. Default 1. */
  gradScale?: number;
  // How the step runs is required too: lib/train says it (tasks.ts, memory_plan.ts).
  /** true: prompt once, chosen and rejected as two branches over its KV; false: two full sequences (the same result). */
  sharedPrefix: boolean;
  /** Gradient checkpointing: keep only each decoder layer's input and recompute the layer in the backward (same gradients, bitwise; less memory, about one more forward). */
  gradCheckpointing: boolean;
  /** Which projector the reference uses when refs are computed here: 'original' or 'trained' (reproduces STIC defect (c)). */
  refProjector: 'original' | 'trained';
}
/** Which model scores the pairs, and how (every field required; refProjector only for the reference). */
export type NativePairLogprobsOptions =
  | { model: 'policy'; rejectedMode: RejectedLogpMode }
  | { model: 'reference'; rejectedMode: RejectedLogpMode; refProjector: 'original' | 'trained' };
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
  /** As NativeDpoStepOptions.gradCheckpointing (required). */
  gradCheckpointing: boolean;
}
export interface NativeAdamWOptions {
  lora: { lr: number; weightDecay: number };
  /** Required when the projector is trainable. */
  projector?: { lr: number; weightDecay: number };
  // The AdamW hyperparameters are required: their defaults are the option tables' (lib/stic/train_options.ts).
  beta1: number;
  beta2: number;
  eps: number;
  /** Global-norm clipping (torch clip_grad_norm_); <= 0: none. */
  maxGradNorm: number;
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
  pairLogprobs(pixels: Float32Array, images: NativeImages, pairs: NativePreferencePair[], options: NativePairLogprobsOptions): Promise<{ chosen: number[]; rejected: number[] }>;
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
  /** The DPO loss and reward metrics of summed response log-probs (the loss code a DPO step ends with; native/addon/dpo_loss_binding.cpp), mean over the pairs. Every option is required. */
  dpoLoss(pairs: NativeDpoLossPair[], options: NativeDpoLossOptions): DpoMetrics;
}
/** One pair's summed response log-probs under the policy and the reference, and its chosen response's token count (>= 1). */
export interface NativeDpoLossPair { policyChosen: number; policyRejected: number; refChosen: number; refRejected: number; chosenTokens: number }
export interface NativeDpoLossOptions { loss: 'sigmoid' | 'hinge' | 'ipo'; beta: number; sftWeight: number; sftNorm: 'sum' | 'mean' }

// ---- full-parameter pretraining of small LLaVA models (native/addon/trainer_binding.cpp) ------
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
// Every field is required: the defaults are lib/pretrain/toy_pretrain.ts's (TOY_PRETRAIN_DEFAULTS).
export interface PretrainOptimizerOptions {
  lr: number;
  /** Decoupled weight decay on the 'decay' group only. */
  weightDecay: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** Global-norm clipping (torch clip_grad_norm_); <= 0: none. */
  maxGradNorm: number;
  /** Tensors (engine names) left unchanged: no update, no decay, outside the clipped norm. */
  frozen: string[];
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
export interface PretrainBinding {
  /** A pretrainer for `config` (the engine config, as loadLlava takes it), every tensor zero. */
  createPretrainer(config: LlavaNativeConfig): Promise<PretrainerNative>;
}

/** The whole binding: the intersection of every area's section. */
export type NativeBinding = CoreBinding & ConvertBinding & SafetensorsBinding & ModelBinding & ImageBinding & AnyresBinding & TrainerBinding & PretrainBinding;
