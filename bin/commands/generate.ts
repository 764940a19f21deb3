// `stic generate`: continue one prompt about one image with a model, for trying a checkpoint by hand.
import type { CommandModule } from 'yargs';

import { imagePixels, loadChatModel, userPromptIds } from '../../lib/engine/chat_input.ts';
import { DEFAULT_SAMPLING } from '../../lib/engine/index.ts';
import { native } from '../../lib/native/index.ts';
import { checkThreads } from '../../lib/stic/options.ts';
import type { ImageAspect } from '../../lib/data/model_image.ts';
import { ADAPTER_FLAG, DTYPE_FLAG, IMAGE_ASPECT_FLAG } from '../../lib/stic/cli_common.ts';
import type { WeightDTypeOption } from '../../lib/engine/llava_model.ts';
import { adapterForLoad } from '../../lib/train/adapted_model.ts';

interface GenerateArgs {
  model: string;
  image?: string;
  prompt: string;
  system?: string;
  'max-new-tokens': number;
  temperature: number;
  'top-p': number;
  'top-k': number;
  seed: number;
  stop?: string[];
  template?: string;
  'vision-tower'?: string;
  'image-aspect': ImageAspect;
  dtype: WeightDTypeOption;
  adapter?: string;
  threads?: number;
  json: boolean;
}

export const command: CommandModule<object, GenerateArgs> = {
  command: 'generate',
  describe: 'Generate a reply to a prompt about an image (greedy by default)',
  builder: (y) =>
    y
      .option('model', { type: 'string', demandOption: true, describe: 'Model directory (config.json, *.safetensors, tokenizer.json)' })
      .option('image', { type: 'string', describe: 'Image file; "<image>" in the prompt marks where it goes (else it goes first)' })
      .option('prompt', { type: 'string', demandOption: true, describe: 'The user turn, rendered with the chat template' })
      .option('system', { type: 'string', describe: 'A system message (default: the template\'s own)' })
      .option('max-new-tokens', { type: 'number', default: DEFAULT_SAMPLING.maxNewTokens, describe: 'New tokens at most' })
      .option('temperature', { type: 'number', default: DEFAULT_SAMPLING.temperature, describe: '0 = greedy' })
      .option('top-p', { type: 'number', default: DEFAULT_SAMPLING.topP, describe: 'Nucleus sampling mass (1 = off)' })
      .option('top-k', { type: 'number', default: DEFAULT_SAMPLING.topK, describe: 'Keep the k most likely tokens (0 = off)' })
      .option('seed', { type: 'number', default: DEFAULT_SAMPLING.seed, describe: 'Sampling seed' })
      .option('stop', { type: 'string', array: true, describe: 'Stop strings (repeatable)' })
      .option('template', { type: 'string', describe: 'Chat template: vicuna_v1, mistral_instruct, or a named template of the checkpoint' })
      .option('image-aspect', IMAGE_ASPECT_FLAG)
      .option('dtype', DTYPE_FLAG)
      .option('adapter', ADAPTER_FLAG)
      .option('vision-tower', { type: 'string', describe: 'Original LLaVA layout: the CLIP checkpoint directory' })
      .option('threads', { type: 'number', describe: 'CPU threads (default: STIC_THREADS, OMP_NUM_THREADS or all cores)' })
      .option('json', { type: 'boolean', default: false, describe: 'Print machine-readable JSON' }) as never,
  handler: async (args) => {
    const threads = checkThreads(args.threads);
    if (threads !== undefined) native().setThreads(threads);
    const t0 = performance.now();
    const chat = await loadChatModel(args.model, { visionTowerPath: args['vision-tower'], template: args.template, dtype: args.dtype, adapter: args.adapter === undefined ? undefined : await adapterForLoad(args.model, args.adapter) });
    const image = args.image === undefined ? null : await imagePixels(chat.model.config, args.image, { aspect: args['image-aspect'] });
    const ids = userPromptIds(chat, args.prompt, image, args.system);
    const t1 = performance.now();
    const [result] = await chat.model.generate([{ ids, image }], {
      maxNewTokens: args['max-new-tokens'],
      temperature: args.temperature,
      topP: args['top-p'],
      topK: args['top-k'],
      seed: args.seed,
      stop: args.stop ?? [],
    });
    const seconds = (performance.now() - t1) / 1000;
    if (args.json) {
      const out = {
        model: args.model,
        image: args.image ?? null,
        prompt: args.prompt,
        promptTokens: ids.length,
        text: result.text,
        ids: result.ids,
        finishReason: result.finishReason,
        loadSeconds: (t1 - t0) / 1000,
        generateSeconds: seconds,
        memory: chat.model.memory(),
      };
      process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
      return;
    }
    process.stdout.write(`${result.text ?? ''}\n`);
    process.stderr.write(
      `[${result.ids.length} tokens, finish: ${result.finishReason}, prompt ${ids.length} tokens, ${seconds.toFixed(2)} s, ` +
        `${(result.ids.length / seconds).toFixed(1)} tokens/s]\n`,
    );
  },
};
