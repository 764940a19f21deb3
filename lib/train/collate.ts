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
// Examples longer than maxLength tokens, or that cannot be rendered, are skipped with a reason.
// Legend: T tokens of a sequence, N distinct images of a micro-batch, S image side.
import { IMAGE_TOKEN, type ChatMessage } from '../data/records/preference.ts';
import { type PreprocessConfig, loadAndPreprocess } from '../data/preprocess.ts';
import { type ChatTemplate, chatPromptIds } from '../model/chat_template.ts';
import type { EngineConfig } from '../model/engine_config.ts';
import type { TextTokenizer } from '../model/tokenizer.ts';
import type { DpoExample, SftExample } from '../stic/engine_api.ts';

/** What turns chat messages and responses into ids for one model. */
export interface ChatEncoder {
  tokenizer: TextTokenizer;
  template: ChatTemplate;
  config: Pick<EngineConfig, 'imageTokenId' | 'imageTokenCount'> & { decoder: Pick<EngineConfig['decoder'], 'eosTokenIds'> };
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
  reason: string;
}

export interface Collated<E> {
  examples: E[];
  skips: Skip[];
}

function imageCount(messages: readonly ChatMessage[]): number {
  return messages.reduce((n, m) => n + m.content.split(IMAGE_TOKEN).length - 1, 0);
}

function promptIds(enc: ChatEncoder, messages: readonly ChatMessage[], addGenerationPrompt: boolean): number[] {
  return chatPromptIds(enc.tokenizer, messages, {
    template: enc.template,
    addGenerationPrompt,
    imageTokenId: enc.config.imageTokenId,
    tokensPerImage: enc.config.imageTokenCount,
    numImages: imageCount(messages),
  });
}

/** A response as trained and scored: its text without special tokens, then EOS. */
export function responseIds(enc: ChatEncoder, text: string): number[] {
  const eos = enc.config.decoder.eosTokenIds[0];
  if (eos === undefined) throw new Error(`the model names no EOS token id (config.json eos_token_id); a trained response must end with one`);
  return [...enc.tokenizer.encode(text, { addSpecialTokens: false }), eos];
}

/** Tokenises the pairs; skips (with the reason) those over maxLength or with more than one image. */
export function tokenizePairs(enc: ChatEncoder, examples: readonly DpoExample[], maxLength: number): Collated<TokenizedPair> {
  const out: TokenizedPair[] = [];
  const skips: Skip[] = [];
  examples.forEach((ex, index) => {
    const images = imageCount(ex.prompt);
    if (images > 1) {
      skips.push({ id: ex.id, reason: `expected at most one ${IMAGE_TOKEN} in the prompt (one image per pair) but found ${images}` });
      return;
    }
    let prompt: number[];
    try {
      prompt = promptIds(enc, ex.prompt, true);
    } catch (err) {
      skips.push({ id: ex.id, reason: (err as Error).message });
      return;
    }
    const chosen = responseIds(enc, ex.chosen);
    const rejected = responseIds(enc, ex.rejected);
    const longest = prompt.length + Math.max(chosen.length, rejected.length);
    if (longest > maxLength) {
      skips.push({ id: ex.id, reason: `expected at most ${maxLength} tokens (--max-length) per sequence but the longer one has ${longest}` });
      return;
    }
    out.push({
      index,
      id: ex.id,
      image: images === 1 ? ex.image : null,
      promptIds: Int32Array.from(prompt),
      chosenIds: Int32Array.from(chosen),
      rejectedIds: Int32Array.from(rejected),
      ...(ex.refChosenLogp !== undefined && ex.refRejectedLogp !== undefined ? { refChosen: ex.refChosenLogp, refRejected: ex.refRejectedLogp } : {}),
    });
  });
  return { examples: out, skips };
}

/**
 * One conversation -> ids and the assistant-target mask. Throws (a message for the skip list) when
 * the template's rendering of the turns before an assistant turn is not a token prefix of the
 * whole conversation, i.e. the turn cannot be located.
 */
export function conversationIds(enc: ChatEncoder, messages: readonly ChatMessage[]): { ids: number[]; mask: Uint8Array } {
  const ids = promptIds(enc, messages, false);
  const mask = new Uint8Array(ids.length);
  messages.forEach((m, k) => {
    if (m.role !== 'assistant') return;
    const before = promptIds(enc, messages.slice(0, k), true);
    const through = promptIds(enc, messages.slice(0, k + 1), false);
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

/** Tokenises the SFT samples; skips those over maxLength, without assistant tokens, or not locatable. */
export function tokenizeSft(enc: ChatEncoder, examples: readonly SftExample[], maxLength: number): Collated<TokenizedSft> {
  const out: TokenizedSft[] = [];
  const skips: Skip[] = [];
  examples.forEach((ex, index) => {
    const images = imageCount(ex.messages);
    if (images !== (ex.image === undefined ? 0 : 1)) {
      skips.push({ id: ex.id, reason: `expected ${ex.image === undefined ? 'no' : 'one'} ${IMAGE_TOKEN} in the conversation (${ex.image === undefined ? 'a text-only sample' : 'one image per sample'}) but found ${images}` });
      return;
    }
    let conv: { ids: number[]; mask: Uint8Array };
    try {
      conv = conversationIds(enc, ex.messages);
    } catch (err) {
      skips.push({ id: ex.id, reason: (err as Error).message });
      return;
    }
    const targets = conv.mask.reduce((n, v) => n + v, 0);
    if (targets === 0) {
      skips.push({ id: ex.id, reason: 'expected at least one assistant token to train on but found none' });
      return;
    }
    if (conv.ids.length > maxLength) {
      skips.push({ id: ex.id, reason: `expected at most ${maxLength} tokens (--max-length) but the conversation has ${conv.ids.length}` });
      return;
    }
    out.push({ index, id: ex.id, image: ex.image ?? null, ids: Int32Array.from(conv.ids), mask: conv.mask, targets });
  });
  return { examples: out, skips };
}

/** Decodes and preprocesses image files: (N_ok, 3, S, S) plus the failures. Replaceable in tests. */
export type PixelLoader = (files: string[]) => Promise<{ pixels: Float32Array; rows: number[]; failures: { index: number; file: string; reason: string }[] }>;

export function pixelLoader(cfg: PreprocessConfig): PixelLoader {
  return (files) => loadAndPreprocess(files, cfg);
}

/** The preprocessed images of one step, each distinct file decoded once. */
export class StepImages {
  private constructor(
    private readonly rowOf: Map<string, number>,
    private readonly pixels: Float32Array, // (N_ok, 3, S, S)
    private readonly floats: number, // 3 * S * S
    readonly failures: Map<string, string>,
  ) {}

  static async load(files: (string | null)[], loader: PixelLoader, floatsPerImage: number): Promise<StepImages> {
    const distinct = [...new Set(files.filter((f): f is string => f !== null))];
    const batch = distinct.length > 0 ? await loader(distinct) : { pixels: new Float32Array(0), rows: [], failures: [] };
    const rowOf = new Map(batch.rows.map((fileIndex, row) => [distinct[fileIndex], row]));
    const failures = new Map(batch.failures.map((f) => [f.file, f.reason]));
    return new StepImages(rowOf, batch.pixels, floatsPerImage, failures);
  }

  has(file: string | null): boolean {
    return file === null || this.rowOf.has(file);
  }

  /** The pixels (N, 3, S, S) of a micro-batch's distinct images and each example's image index list. */
  gather(files: (string | null)[]): { pixels: Float32Array; count: number; images: number[][] } {
    const distinct = [...new Set(files.filter((f): f is string => f !== null))];
    const pixels = new Float32Array(distinct.length * this.floats);
    distinct.forEach((f, k) => {
      const row = this.rowOf.get(f);
      if (row === undefined) throw new Error(`internal: image ${f} was not loaded for this step`);
      pixels.set(this.pixels.subarray(row * this.floats, (row + 1) * this.floats), k * this.floats);
    });
    const slot = new Map(distinct.map((f, k) => [f, k]));
    return { pixels, count: distinct.length, images: files.map((f) => (f === null ? [] : [slot.get(f) as number])) };
  }
}
