// Training examples -> token ids, once, before the first step; and per step, the images of the step's
// examples decoded and preprocessed once per distinct image.
//   DPO pair: promptIds = the prompt turns through the chat template with the generation prompt,
//             every <image> expanded to the model's image-token count (what generation saw);
//             chosenIds / rejectedIds = the response text encoded without special tokens + EOS,
//             exactly as `stic pref --ref-logps` scores responses (lib/stic responseTokenIds), so
//             stored reference log-probs and the trainer's own log-probs are of the same tokens.
//   SFT sample: the whole conversation through the template; the target mask marks each assistant
//             turn as the template renders it (its text and the end-of-turn token the template
//             appends), located as the difference between the renderings of the turns before it
//             (with the generation prompt) and through it. Everything else is context.
// Longer than maxLength tokens: truncated as TRL's DPO/SFT trainers do by default (truncation_mode
// keep_start), never inside the prompt or the image tokens: a DPO pair keeps its whole prompt and
// the start of each response (the response tail is cut first, EOS with it), an SFT conversation its
// start (later turns are cut). Only when the prompt alone leaves no room for an answer token, the
// cut would fall inside the image tokens, or no assistant token survives, is the example skipped.
// Examples that cannot be rendered are skipped too; every skip carries a short kind and a reason.
// With a LLaVA-NeXT model (anyres), an image's token count depends on its size: `imageTokens` gives
// it per file (read from the file headers before tokenising, lib/data/image_tokens.ts).
// Legend: T tokens of a sequence, N distinct images of a micro-batch, C their crops, S image side.
import { IMAGE_TOKEN } from '../model/tokenizer.ts';
import { type ImageProcessor, type ProcessedBatch, loadAndProcess } from '../data/image_processor.ts';
import { type ModelImage, nativeLayout } from '../data/model_image.ts';
import type { NativeImageLayout } from '../native/contract.ts';
import { type ChatMessage, type ChatTemplate, chatPromptIds } from '../model/chat_template.ts';
import type { EngineConfig } from '../model/engine_config.ts';
import type { TextTokenizer } from '../model/tokenizer.ts';
import type { DpoExample, SftExample } from './training_api.ts';

/** What turns chat messages and responses into ids for one model. */
export interface ChatEncoder {
  tokenizer: TextTokenizer;
  template: ChatTemplate;
  config: Pick<EngineConfig, 'imageTokenId' | 'imageTokenCount'> & { decoder: Pick<EngineConfig['decoder'], 'eosTokenIds'> };
  /** Image tokens of each image file when they vary (anyres); absent: imageTokenCount for every image. */
  imageTokens?: ReadonlyMap<string, number | Error>;
}

export interface TokenizedPair {
  /** Position in the job's example list (stable across runs: the data order is drawn over it). */
  index: number;
  id: string;
  /** Absolute image path, or null when the prompt has no image token (--reproduce-missing-image-token). */
  image: string | null;
  promptIds: Int32Array; // (Tp,)
  chosenIds: Int32Array; // (Tc,)
  rejectedIds: Int32Array; // (Tr,)
  refChosen?: number;
  refRejected?: number;
}

export interface TokenizedSft {
  index: number;
  id: string;
  image: string | null;
  ids: Int32Array; // (T,)
  /** 1 where ids[t] is a target (an assistant token). mask[0] is 0. */
  mask: Uint8Array; // (T,)
  targets: number;
}

export interface Skip {
  id: string;
  /** Short category for counts by reason: "too long", "image tokens", "not renderable", ... */
  kind: string;
  reason: string;
}

export interface Collated<E> {
  examples: E[];
  skips: Skip[];
  /** Examples cut to maxLength (kept, shorter): id and their length before the cut. */
  truncated: { id: string; tokens: number }[];
}

function imageCount(messages: readonly ChatMessage[]): number {
  return messages.reduce((n, m) => n + m.content.split(IMAGE_TOKEN).length - 1, 0);
}

/** The image tokens of `image` (a file, or null for none): throws (a message for the skip list) when its size could not be read. */
function tokensOf(enc: ChatEncoder, image: string | null): number {
  if (image === null || enc.imageTokens === undefined) return enc.config.imageTokenCount;
  const n = enc.imageTokens.get(image);
  if (n instanceof Error) throw n;
  if (n === undefined) throw new Error(`internal: no image token count for ${image}`);
  return n;
}

function promptIds(enc: ChatEncoder, messages: readonly ChatMessage[], addGenerationPrompt: boolean, image: string | null): number[] {
  return chatPromptIds(enc.tokenizer, messages, {
    template: enc.template,
    addGenerationPrompt,
    imageTokenId: enc.config.imageTokenId,
    tokensPerImage: tokensOf(enc, image),
    numImages: imageCount(messages),
  });
}

/** A response as trained and scored: its text without special tokens, then EOS. */
export function responseIds(enc: ChatEncoder, text: string): number[] {
  const eos = enc.config.decoder.eosTokenIds[0];
  if (eos === undefined) throw new Error(`the model names no EOS token id (config.json eos_token_id); a trained response must end with one`);
  return [...enc.tokenizer.encode(text, { addSpecialTokens: false }), eos];
}

/**
 * Tokenises the pairs. Over maxLength: each response keeps its first maxLength - prompt tokens (a
 * stored reference log-prob is of the whole response, so it is dropped and recomputed); a prompt
 * that leaves no room is skipped, as are prompts with more than one image.
 */
export function tokenizePairs(enc: ChatEncoder, examples: readonly DpoExample[], maxLength: number): Collated<TokenizedPair> {
  const out: TokenizedPair[] = [];
  const skips: Skip[] = [];
  const truncated: { id: string; tokens: number }[] = [];
  examples.forEach((ex, index) => {
    const images = imageCount(ex.prompt);
    if (images > 1) {
      skips.push({ id: ex.id, kind: 'several images', reason: `expected at most one ${IMAGE_TOKEN} in the prompt (one image per pair) but found ${images}` });
      return;
    }
    let prompt: number[];
    try {
      prompt = promptIds(enc, ex.prompt, true, images === 1 ? ex.image : null);
    } catch (err) {
      skips.push({ id: ex.id, kind: 'not renderable', reason: (err as Error).message });
      return;
    }
    let chosen = responseIds(enc, ex.chosen);
    let rejected = responseIds(enc, ex.rejected);
    const longest = prompt.length + Math.max(chosen.length, rejected.length);
    const room = maxLength - prompt.length;
    if (room < 1) {
      skips.push({ id: ex.id, kind: 'prompt too long', reason: `expected a prompt shorter than --max-length ${maxLength} tokens, leaving room for the answer, but it has ${prompt.length} (image tokens included)` });
      return;
    }
    const cut = longest > maxLength;
    if (cut) {
      truncated.push({ id: ex.id, tokens: longest });
      chosen = chosen.slice(0, room);
      rejected = rejected.slice(0, room);
    }
    out.push({
      index,
      id: ex.id,
      image: images === 1 ? ex.image : null,
      promptIds: Int32Array.from(prompt),
      chosenIds: Int32Array.from(chosen),
      rejectedIds: Int32Array.from(rejected),
      ...(!cut && ex.refChosenLogp !== undefined && ex.refRejectedLogp !== undefined ? { refChosen: ex.refChosenLogp, refRejected: ex.refRejectedLogp } : {}),
    });
  });
  return { examples: out, skips, truncated };
}

/**
 * One conversation -> ids and the assistant-target mask. Throws (a message for the skip list) when
 * the template's rendering of the turns before an assistant turn is not a token prefix of the
 * whole conversation, i.e. the turn cannot be located.
 */
export function conversationIds(enc: ChatEncoder, messages: readonly ChatMessage[], image: string | null = null): { ids: number[]; mask: Uint8Array } {
  const ids = promptIds(enc, messages, false, image);
  const mask = new Uint8Array(ids.length);
  messages.forEach((m, k) => {
    if (m.role !== 'assistant') return;
    const turnImage = (upTo: number) => (imageCount(messages.slice(0, upTo)) > 0 ? image : null);
    const before = promptIds(enc, messages.slice(0, k), true, turnImage(k));
    const through = promptIds(enc, messages.slice(0, k + 1), false, turnImage(k + 1));
    for (const [part, what] of [[before, 'before'], [through, 'through']] as const) {
      if (!isPrefix(part, ids)) {
        throw new Error(`the chat template's tokens ${what} assistant turn ${k} are not a prefix of the whole conversation's tokens, so the turn cannot be located`);
      }
    }
    mask.fill(1, before.length, through.length);
  });
  mask[0] = 0;
  return { ids, mask };
}

function isPrefix(a: readonly number[], b: readonly number[]): boolean {
  if (a.length > b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Tokenises the SFT samples. Over maxLength: the conversation keeps its first maxLength tokens
 * (and their mask); skipped when the cut falls inside the image tokens or leaves no assistant token.
 */
export function tokenizeSft(enc: ChatEncoder, examples: readonly SftExample[], maxLength: number): Collated<TokenizedSft> {
  const out: TokenizedSft[] = [];
  const skips: Skip[] = [];
  const truncated: { id: string; tokens: number }[] = [];
  examples.forEach((ex, index) => {
    const images = imageCount(ex.messages);
    if (images !== (ex.image === undefined ? 0 : 1)) {
      skips.push({ id: ex.id, kind: 'image token mismatch', reason: `expected ${ex.image === undefined ? 'no' : 'one'} ${IMAGE_TOKEN} in the conversation (${ex.image === undefined ? 'a text-only sample' : 'one image per sample'}) but found ${images}` });
      return;
    }
    let conv: { ids: number[]; mask: Uint8Array };
    try {
      conv = conversationIds(enc, ex.messages, ex.image ?? null);
    } catch (err) {
      skips.push({ id: ex.id, kind: 'not renderable', reason: (err as Error).message });
      return;
    }
    if (conv.mask.every((v) => v === 0)) {
      skips.push({ id: ex.id, kind: 'no answer', reason: 'expected at least one assistant token to train on but found none' });
      return;
    }
    if (conv.ids.length > maxLength) {
      const lastImageToken = conv.ids.lastIndexOf(enc.config.imageTokenId);
      if (lastImageToken >= maxLength) {
        skips.push({ id: ex.id, kind: 'too long', reason: `expected the image tokens within --max-length ${maxLength} tokens but they end at token ${lastImageToken + 1} of ${conv.ids.length}` });
        return;
      }
      const mask = conv.mask.slice(0, maxLength);
      if (mask.every((v) => v === 0)) {
        skips.push({ id: ex.id, kind: 'too long', reason: `expected an assistant token within the first ${maxLength} tokens (--max-length) but the first answer starts at token ${conv.mask.indexOf(1) + 1} of ${conv.ids.length}` });
        return;
      }
      truncated.push({ id: ex.id, tokens: conv.ids.length });
      conv = { ids: conv.ids.slice(0, maxLength), mask };
    }
    const targets = conv.mask.reduce((n, v) => n + v, 0);
    out.push({ index, id: ex.id, image: ex.image ?? null, ids: Int32Array.from(conv.ids), mask: conv.mask, targets });
  });
  return { examples: out, skips, truncated };
}

/** Decodes and processes image files for the model: the images that loaded plus the failures. Replaceable in tests. */
export type PixelLoader = (files: string[]) => Promise<ProcessedBatch>;

export function pixelLoader(processor: ImageProcessor): PixelLoader {
  return (files) => loadAndProcess(files, processor);
}

/** The processed images of one step, each distinct file decoded once. */
export class StepImages {
  private constructor(
    private readonly byFile: Map<string, ModelImage>,
    readonly failures: Map<string, string>,
  ) {}

  static async load(files: (string | null)[], loader: PixelLoader): Promise<StepImages> {
    const distinct = [...new Set(files.filter((f): f is string => f !== null))];
    const batch: ProcessedBatch = distinct.length > 0 ? await loader(distinct) : { images: [], rows: [], failures: [] };
    const byFile = new Map(batch.rows.map((fileIndex, row) => [distinct[fileIndex], batch.images[row]]));
    const failures = new Map(batch.failures.map((f) => [f.file, f.reason]));
    return new StepImages(byFile, failures);
  }

  has(file: string | null): boolean {
    return file === null || this.byFile.has(file);
  }

  /** The crops (C, 3, S, S) of a micro-batch's distinct images, their layouts, and each example's image index list. */
  gather(files: (string | null)[]): { pixels: Float32Array; layouts: NativeImageLayout[]; images: number[][] } {
    const distinct = [...new Set(files.filter((f): f is string => f !== null))];
    const images = distinct.map((f) => {
      const im = this.byFile.get(f);
      if (im === undefined) throw new Error(`internal: image ${f} was not loaded for this step`);
      return im;
    });
    const pixels = new Float32Array(images.reduce((n, im) => n + im.pixels.length, 0));
    let offset = 0;
    for (const im of images) {
      pixels.set(im.pixels, offset);
      offset += im.pixels.length;
    }
    const slot = new Map(distinct.map((f, k) => [f, k]));
    return { pixels, layouts: images.map(nativeLayout), images: files.map((f) => (f === null ? [] : [slot.get(f) as number])) };
  }
}
