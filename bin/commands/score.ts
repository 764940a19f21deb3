// `stic score`: the log-probability a model gives a response to a prompt about an image, in total
// and per token (what DPO compares), for checking a checkpoint or a preference pair by hand.
import type { CommandModule } from 'yargs';

import { imagePixels, loadChatModel, userPromptIds } from '../../lib/engine/chat_input.ts';
import { native } from '../../lib/native/index.ts';
import { checkThreads } from '../../lib/stic/options.ts';
import type { ImageAspect } from '../../lib/data/model_image.ts';
import { ADAPTER_FLAG, DTYPE_FLAG, IMAGE_ASPECT_FLAG } from '../../lib/stic/cli_common.ts';
import type { WeightDTypeOption } from '../../lib/engine/llava_model.ts';
import { adapterForLoad } from '../../lib/train/adapted_model.ts';

interface ScoreArgs {
  model: string;
  image?: string;
  prompt: string;
  response: string;
  system?: string;
  'append-eos': boolean;
  template?: string;
  'vision-tower'?: string;
  'image-aspect': ImageAspect;
  dtype: WeightDTypeOption;
  adapter?: string;
  threads?: number;
  json: boolean;
}

export const command: CommandModule<object, ScoreArgs> = {
  command: 'score',
  describe: 'Log-probability of a response to a prompt about an image (summed and per token)',
  builder: (y) =>
    y
      .option('model', { type: 'string', demandOption: true, describe: 'Model directory (config.json, *.safetensors, tokenizer.json)' })
      .option('image', { type: 'string', describe: 'Image file; "<image>" in the prompt marks where it goes (else it goes first)' })
      .option('prompt', { type: 'string', demandOption: true, describe: 'The user turn, rendered with the chat template' })
      .option('response', { type: 'string', demandOption: true, describe: 'The assistant reply to score' })
      .option('system', { type: 'string', describe: 'A system message (default: the template\'s own)' })
      .option('append-eos', { type: 'boolean', default: false, describe: 'Score the end-of-sequence token after the response too' })
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
    const chat = await loadChatModel(args.model, { visionTowerPath: args['vision-tower'], template: args.template, dtype: args.dtype, adapter: args.adapter === undefined ? undefined : await adapterForLoad(args.model, args.adapter) });
    const image = args.image === undefined ? null : await imagePixels(chat.model.config, args.image, { aspect: args['image-aspect'] });
    const promptIds = userPromptIds(chat, args.prompt, image, args.system);
    const responseIds = chat.tokenizer.encode(args.response, { addSpecialTokens: false });
    if (args['append-eos']) {
      const eos = chat.model.config.decoder.eosTokenIds[0];
      if (eos === undefined) throw new Error(`--append-eos: the model at ${args.model} names no EOS token id`);
      responseIds.push(eos);
    }
    if (responseIds.length === 0) throw new Error('--response: the response encodes to no tokens; there is nothing to score');
    const [result] = await chat.model.logprobs([{ promptIds, responseIds, image }]);
    const tokens = responseIds.map((id, t) => ({ id, text: chat.tokenizer.decode([id]), logp: result.tokenLogps[t] }));
    if (args.json) {
      const out = { model: args.model, image: args.image ?? null, prompt: args.prompt, response: args.response, promptTokens: promptIds.length, sum: result.sum, mean: result.sum / tokens.length, tokens };
      process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
      return;
    }
    process.stdout.write(`sum log-prob ${result.sum.toFixed(4)} over ${tokens.length} tokens (mean ${(result.sum / tokens.length).toFixed(4)})\n`);
    const width = Math.max(5, ...tokens.map((t) => JSON.stringify(t.text).length));
    process.stdout.write(`${'#'.padStart(4)}  ${'id'.padStart(6)}  ${'token'.padEnd(width)}  log-prob\n`);
    tokens.forEach((t, i) => {
      process.stdout.write(`${String(i).padStart(4)}  ${String(t.id).padStart(6)}  ${JSON.stringify(t.text).padEnd(width)}  ${t.logp.toFixed(4)}\n`);
    });
  },
};
