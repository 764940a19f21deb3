// From what a person types to what the engine takes: a model with its tokenizer and chat
// template, an image file as normalised pixels, and a user prompt as ids with the image tokens
// expanded. Used by `stic generate` and `stic score`.
import { type PreprocessConfig, loadAndPreprocess, preprocessConfig } from '../data/preprocess.ts';
import { type ChatMessage, type ChatTemplate, chatPromptIds, selectChatTemplate } from '../model/chat_template.ts';
import { requireModelFolder } from '../model/config.ts';
import type { EngineConfig } from '../model/engine_config.ts';
import { IMAGE_PLACEHOLDER, type TextTokenizer, loadTokenizer } from '../model/tokenizer.ts';
import { type LlavaModel, loadModel } from './llava_model.ts';

export interface ChatModel {
  model: LlavaModel;
  tokenizer: TextTokenizer;
  template: ChatTemplate;
}

export interface ChatModelOptions {
  visionTowerPath?: string;
  /** A built-in template name or one of the checkpoint's named templates. */
  template?: string;
}

/** Loads the model and its tokenizer (required here: people type text) and picks the chat template. */
export async function loadChatModel(dir: string, opts: ChatModelOptions = {}): Promise<ChatModel> {
  requireModelFolder(dir);
  const tokenizer = loadTokenizer(dir);
  const model = await loadModel(dir, {
    visionTowerPath: opts.visionTowerPath,
    tokenizer: { decode: (ids) => tokenizer.decode(ids, { skipSpecialTokens: true }) },
  });
  const template = selectChatTemplate({ checkpoint: tokenizer.chatTemplate, family: model.config.decoder.family, override: opts.template });
  return { model, tokenizer, template };
}

/** The image preprocessing the model's config describes (pad-to-square or resize + centre crop). */
export function preprocessFor(config: EngineConfig): PreprocessConfig {
  const p = config.vision.preprocess;
  const S = config.vision.imageSize;
  return preprocessConfig({
    mode: p?.padToSquare ? 'pad' : 'clip',
    size: p?.resizeShortestEdge ?? S,
    crop: p?.cropSize ?? S,
    mean: config.vision.imageMean,
    std: config.vision.imageStd,
  });
}

/** One image file -> (3, S, S) normalised pixels; the error names the file and the reason. */
export async function imagePixels(config: EngineConfig, file: string): Promise<Float32Array> {
  const batch = await loadAndPreprocess([file], preprocessFor(config));
  if (batch.failures.length > 0) throw new Error(`Cannot load image ${file}: ${batch.failures[0].reason}`);
  return batch.pixels;
}

/**
 * A single user turn rendered with the chat template (generation prompt appended), encoded, each
 * `<image>` expanded to the image token count. With an image and no `<image>` in the text, the
 * placeholder goes first on its own line, as LLaVA puts it.
 */
export function userPromptIds(chat: ChatModel, text: string, withImage: boolean, system?: string): number[] {
  const content = withImage && !text.includes(IMAGE_PLACEHOLDER) ? `${IMAGE_PLACEHOLDER}\n${text}` : text;
  const messages: ChatMessage[] = system ? [{ role: 'system', content: system }] : [];
  messages.push({ role: 'user', content });
  const config = chat.model.config;
  return chatPromptIds(chat.tokenizer, messages, {
    template: chat.template,
    addGenerationPrompt: true,
    imageTokenId: config.imageTokenId,
    tokensPerImage: config.imageTokenCount,
    numImages: withImage ? 1 : 0,
  });
}
