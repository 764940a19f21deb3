// The pipeline's engine interfaces (engine_api.ts) over the real parts: the LLaVA inference engine
// (lib/engine: chat template, tokenizer, batched generation, log-probs) and the image library
// (lib/data: sharp decoding, native preprocessing and corruption kernels).
// Legend: N images, S image side.
import { provenance, corruptImages, corruptionSpec, specOptions } from '../data/corrupt.ts';
import { loadImage } from '../data/image_load.ts';
import { type ImageProcessor, imageProcessor } from '../data/image_processor.ts';
import type { ModelImage } from '../data/model_image.ts';
import { type ChatModel, loadChatModel } from '../engine/chat_input.ts';
import { type ChatMessage, chatPromptIds } from '../model/chat_template.ts';
import { native } from '../native/index.ts';
import { adapterForLoad } from '../train/adapted_model.ts';
import { IMAGE_TOKEN } from '../model/tokenizer.ts';
import type {
  CorruptedImage, CorruptionSpec, ChatGenerateRequest, ChatGenerateResult, ImageApi, InferenceEngine, InferenceOpenOptions, ChatLogprobItem, ChatLogprobResult, RgbImage,
} from './engine_api.ts';

/**
 * Opens the LLaVA engine for the pipeline. With an adapter (stage 2a describes with the stage-1
 * model; a second STIC round generates pairs with it), the engine applies it in memory at load:
 * every LoRA-targeted linear merged once (W + (alpha/r) B A), so generation pays nothing for LoRA
 * and nothing is written to disk.
 */
export async function openLlavaInference(o: InferenceOpenOptions): Promise<InferenceEngine> {
  if (o.threads !== undefined) native().setThreads(o.threads);
  const adapter = o.adapter === undefined ? undefined : await adapterForLoad(o.model, o.adapter);
  if (o.adapter !== undefined) o.log?.(`inference: base + ${o.adapter} (the adapter merged in memory at load)\n`);
  const chat = await loadChatModel(o.model, { adapter });
  return new LlavaInference(chat, o.model, imageProcessor(chat.model.config, { aspect: o.imageAspect }));
}

/**
 * The response ids a log-prob is taken over: the response text encoded without special tokens,
 * then EOS (what generation produced when it finished with "eos"). The trainer must tokenise
 * responses the same way, or stored reference log-probs would not match its own.
 */
export function responseTokenIds(chat: ChatModel, response: string): number[] {
  const ids = chat.tokenizer.encode(response, { addSpecialTokens: false });
  const eos = chat.model.config.decoder.eosTokenIds[0];
  if (eos === undefined) throw new Error(`the model at ${chat.model.dir} names no EOS token id; reference log-probs need one to end the response`);
  return [...ids, eos];
}

class LlavaInference implements InferenceEngine {
  constructor(
    private readonly chat: ChatModel,
    readonly modelId: string,
    private readonly processor: ImageProcessor,
  ) {}

  async generate(requests: ChatGenerateRequest[]): Promise<ChatGenerateResult[]> {
    const pixels = await this.pixelsFor(requests.map((r) => r.image));
    const reqs = requests.map((r, i) => ({
      ids: this.promptIds(r.messages, r.id, pixels[i]),
      image: pixels[i],
      maxNewTokens: r.sampling.maxNewTokens,
      temperature: r.sampling.temperature,
      topP: r.sampling.topP,
      topK: r.sampling.topK,
      seed: r.seed,
    }));
    const out = await this.chat.model.generate(reqs);
    return out.map((o) => ({ text: (o.text ?? '').trim(), finish: o.finishReason, newTokens: o.ids.length }));
  }

  async logprobs(items: ChatLogprobItem[]): Promise<ChatLogprobResult[]> {
    const pixels = await this.pixelsFor(items.map((it) => it.image));
    const reqs = items.map((it, i) => ({ promptIds: this.promptIds(it.prompt, it.id, pixels[i]), responseIds: responseTokenIds(this.chat, it.response), image: pixels[i] }));
    const out = await this.chat.model.logprobs(reqs);
    return out.map((o) => ({ sum: o.sum, tokens: o.tokenLogps.length }));
  }

  async close(): Promise<void> {}

  // The chat-rendered prompt ids with the image token expanded to the image's count; one image per request.
  private promptIds(messages: ChatMessage[], id: string, image: ModelImage): number[] {
    const images = messages.reduce((n, m) => n + m.content.split(IMAGE_TOKEN).length - 1, 0);
    if (images !== 1) throw new Error(`${id}: expected exactly one ${IMAGE_TOKEN} in the prompt (one image per request) but found ${images}`);
    const config = this.chat.model.config;
    return chatPromptIds(this.chat.tokenizer, messages, {
      template: this.chat.template,
      addGenerationPrompt: true,
      imageTokenId: config.imageTokenId,
      tokensPerImage: image.tokens,
      numImages: 1,
    });
  }

  // Processes each distinct image once (the clean image of a pair serves several requests); equal
  // inputs share one ModelImage, so the engine encodes it once.
  private async pixelsFor(images: RgbImage[]): Promise<ModelImage[]> {
    const distinct = [...new Set(images)];
    const processed = await this.processor.process(distinct);
    const byImage = new Map(distinct.map((im, k) => [im, processed[k]]));
    return images.map((im) => byImage.get(im) as ModelImage);
  }
}

/** The image library as the pipeline's ImageApi. */
export const llavaImages: ImageApi = {
  load: (file) => loadImage(file),
  async corrupt(images: RgbImage[], spec: CorruptionSpec, seeds: number[]): Promise<CorruptedImage[]> {
    const out = await corruptImages(images, seeds, corruptionSpec(spec.kind, specOptions(spec)));
    return out.map((r) => ({ image: r.image, params: provenance(r.params) }));
  },
};
