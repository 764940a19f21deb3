// From what a person types to what the engine takes: a model with its tokenizer and chat
// template, an image file as normalised pixels, and a user prompt as ids with the image tokens
// expanded. Used by `stic generate` and `stic score`.
import { type ImageProcessorOptions, imageProcessor, loadAndProcess, tilePreprocessConfig } from '../data/image_processor.ts';
import type { ModelImage } from '../data/model_image.ts';
import type { PreprocessConfig } from '../data/preprocess.ts';
import { type ChatMessage, type ChatTemplate, chatPromptIds, selectChatTemplate } from '../model/chat_template.ts';
import { requireModelFolder } from '../model/config.ts';
import type { EngineConfig } from '../model/engine_config.ts';
import { IMAGE_TOKEN, type TextTokenizer, loadTokenizer } from '../model/tokenizer.ts';
import { type InMemoryAdapter, type LlavaModel, type WeightDTypeOption, loadModel } from './llava_model.ts';

export interface ChatModel {
  model: LlavaModel;
  tokenizer: TextTokenizer;
  template: ChatTemplate;
}

export interface ChatModelOptions {
  visionTowerPath?: string;
  /** A built-in template name or one of the checkpoint's named templates. */
  template?: string;
  /** How the matrices are held (LoadModelOptions.dtype). Default 'stored'. */
  dtype?: WeightDTypeOption;
  /** A LoRA adapter applied in memory at load (LoadModelOptions.adapter). */
  adapter?: InMemoryAdapter;
}

/** Loads the model and its tokenizer (required here: people type text) and picks the chat template. */
export async function loadChatModel(dir: string, opts: ChatModelOptions = {}): Promise<ChatModel> {
  requireModelFolder(dir);
  const tokenizer = loadTokenizer(dir);
  const model = await loadModel(dir, {
    visionTowerPath: opts.visionTowerPath,
    dtype: opts.dtype,
    adapter: opts.adapter,
    tokenizer: { decode: (ids) => tokenizer.decode(ids, { skipSpecialTokens: true }) },
  });
  const template = selectChatTemplate({ checkpoint: tokenizer.chatTemplate, family: model.config.decoder.family, override: opts.template });
  return { model, tokenizer, template };
}

/** The single-tile image preprocessing the model's config describes (pad-to-square or resize + centre crop). */
export function preprocessFor(config: EngineConfig): PreprocessConfig {
  return tilePreprocessConfig(config);
}

/**
 * One image file -> the model's input: one normalised (3, S, S) tile, or for a LLaVA-NeXT model
 * (aspect 'anyres', the default) its anyres crops; the error names the file and the reason.
 */
export async function imagePixels(config: EngineConfig, file: string, opts: ImageProcessorOptions = {}): Promise<ModelImage> {
  const batch = await loadAndProcess([file], imageProcessor(config, opts));
  if (batch.failures.length > 0) throw new Error(`Cannot load image ${file}: ${batch.failures[0].reason}`);
  return batch.images[0];
}

/**
 * A single user turn rendered with the chat template (generation prompt appended), encoded, each
 * `<image>` expanded to the image's token count (`image` true: one tile's). With an image and no
 * `<image>` in the text, the placeholder goes first on its own line, as LLaVA puts it.
 */
export function userPromptIds(chat: ChatModel, text: string, image: boolean | ModelImage | null, system?: string): number[] {
  const withImage = image !== false && image !== null;
  const content = withImage && !text.includes(IMAGE_TOKEN) ? `${IMAGE_TOKEN}\n${text}` : text;
  const messages: ChatMessage[] = system ? [{ role: 'system', content: system }] : [];
  messages.push({ role: 'user', content });
  const config = chat.model.config;
  return chatPromptIds(chat.tokenizer, messages, {
    template: chat.template,
    addGenerationPrompt: true,
    imageTokenId: config.imageTokenId,
    tokensPerImage: typeof image === 'object' && image !== null ? image.tokens : config.imageTokenCount,
    numImages: withImage ? 1 : 0,
  });
}
