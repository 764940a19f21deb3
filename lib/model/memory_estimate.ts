// Parameter counts and memory estimates from an EngineConfig alone (no weights read), for
// `stic info`: what a checkpoint costs to load, to generate with, and to train with STIC's LoRA
// recipe, before a user commits a GPU to it. Counts are exact for the tensors the engine loads;
// activation memory is an estimate whose assumptions are stated next to it.
import type { LoraTargetModule } from '../native/contract.ts';
import type { DecoderConfig, EngineConfig } from './engine_config.ts';

export interface ParamCounts {
  vision: number;
  projector: number;
  /** LLaVA-NeXT's image_newline (D); 0 otherwise. */
  imageNewline: number;
  decoder: number; // embeddings + layers + final norm + lm_head (when untied)
  total: number;
}

/** Every LoRA-targetable decoder linear, by its PEFT module name (the native trainer's names). */
export const ALL_LORA_TARGETS: LoraTargetModule[] = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];

/** (K, N) of a LoRA-targeted decoder linear: its in and out features (LoRA's A is (r, K), B (N, r)). */
export function loraTargetDims(d: Pick<DecoderConfig, 'hiddenSize' | 'intermediateSize' | 'numHeads' | 'numKvHeads' | 'headDim'>, m: LoraTargetModule): [number, number] {
  const D = d.hiddenSize;
  switch (m) {
    case 'q_proj':
      return [D, d.numHeads * d.headDim];
    case 'k_proj':
    case 'v_proj':
      return [D, d.numKvHeads * d.headDim];
    case 'o_proj':
      return [d.numHeads * d.headDim, D];
    case 'gate_proj':
    case 'up_proj':
      return [D, d.intermediateSize];
    case 'down_proj':
      return [d.intermediateSize, D];
  }
}

/** Parameters of every tensor a LLaVA checkpoint of this config holds (the vision tower's post_layernorm included). */
export function countParams(c: EngineConfig): ParamCounts {
  const v = c.vision;
  const Dv = v.hiddenSize;
  const patches = (v.imageSize / v.patchSize) ** 2;
  const visionLayer = 4 * (Dv * Dv + Dv) + 2 * (2 * Dv) + (Dv * v.intermediateSize + v.intermediateSize) + (v.intermediateSize * Dv + Dv);
  const vision =
    Dv * v.numChannels * v.patchSize * v.patchSize + // patch embedding (no bias)
    Dv + // class embedding
    (patches + 1) * Dv + // position embeddings
    2 * Dv + // pre_layrnorm
    v.numLayers * visionLayer +
    2 * Dv; // post_layernorm

  const d = c.decoder;
  const D = d.hiddenSize;
  const pb = c.projector.bias ? 1 : 0;
  const imageNewline = c.anyres ? D : 0;
  const projector = c.projector.type === 'linear' ? Dv * D + pb * D : Dv * D + pb * D + D * D + pb * D;

  const qOut = d.numHeads * d.headDim;
  const kvOut = d.numKvHeads * d.headDim;
  const attn = D * qOut + 2 * D * kvOut + qOut * D + (d.attentionBias ? qOut + 2 * kvOut + D : 0);
  const mlp = 3 * D * d.intermediateSize + (d.mlpBias ? 2 * d.intermediateSize + D : 0);
  const layer = attn + mlp + 2 * D;
  const decoder = d.vocabSize * D + d.numLayers * layer + D + (d.tieWordEmbeddings ? 0 : d.vocabSize * D);
  return { vision, projector, imageNewline, decoder, total: vision + projector + imageNewline + decoder };
}

/** Trainable LoRA parameters: r * (in + out) per targeted linear per layer. */
export function countLoraParams(c: EngineConfig, r: number, targets: LoraTargetModule[] = ALL_LORA_TARGETS): number {
  let perLayer = 0;
  for (const t of targets) {
    const [K, N] = loraTargetDims(c.decoder, t);
    perLayer += r * (K + N);
  }
  return perLayer * c.decoder.numLayers;
}

/** Bytes of KV cache per token of context (all layers, keys and values). */
export function kvBytesPerToken(c: EngineConfig, bytesPerValue: number): number {
  return 2 * c.decoder.numLayers * c.decoder.numKvHeads * c.decoder.headDim * bytesPerValue;
}

export interface TrainEstimateOptions {
  bytesPerValue: number; // 4 fp32 (cpu), 2 bf16 (cuda)
  loraRank: number;
  trainProjector: boolean;
  pairsPerStep: number; // micro-batch of preference pairs
  seqLen: number; // tokens per sequence (image tokens included)
}

export interface MemoryEstimate {
  weights: number;
  trainable: number; // trainable parameter count
  gradients: number;
  optimizerState: number;
  activations: number;
  total: number;
  notes: string[];
}

/**
 * Memory for one DPO step. Trainable parameters, their gradients and AdamW's two moments are kept in
 * fp32. Activations count two full sequences per pair (an upper bound: the shared-prefix pair step
 * runs image + prompt once) and ~(8 D + 3 F) saved values per token per decoder layer for the
 * backward (norm inputs, q/k/v, attention output, MLP input, gate/up/act), plus the fused head's
 * chunk of 1024 x V fp32 logits.
 */
export function estimateDpoMemory(c: EngineConfig, o: TrainEstimateOptions): MemoryEstimate {
  const p = countParams(c);
  const lora = countLoraParams(c, o.loraRank);
  const trainable = lora + (o.trainProjector ? p.projector : 0);
  const weights = p.total * o.bytesPerValue;
  const gradients = trainable * 4;
  const optimizerState = trainable * 8;
  const d = c.decoder;
  const tokens = 2 * o.pairsPerStep * o.seqLen;
  const perTokenLayer = (8 * d.hiddenSize + 3 * d.intermediateSize) * o.bytesPerValue;
  const activations = tokens * d.numLayers * perTokenLayer + 1024 * d.vocabSize * 4;
  return {
    weights,
    trainable,
    gradients,
    optimizerState,
    activations,
    total: weights + gradients + optimizerState + activations,
    notes: [
      'trainable parameters, gradients and AdamW moments in fp32',
      `activations: ${o.pairsPerStep} pair(s) x 2 sequences x ${o.seqLen} tokens, ~(8D+3F) saved values per token per layer`,
    ],
  };
}

/** "1.23 GiB" style. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let x = n;
  while (x >= 1024 && i < units.length - 1) {
    x /= 1024;
    i++;
  }
  return `${x.toFixed(i === 0 ? 0 : 2)} ${units[i]}`;
}
