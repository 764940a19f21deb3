// `stic export`: base model + trained adapter (and the projector it carries) -> merged full weights in
// the base checkpoint's own Hugging Face layout, loadable without PEFT (by stic and by transformers),
// with its own model card.
import path from 'node:path';

import type { CommandModule } from 'yargs';

import { THREADS_FLAG } from '../../lib/stic/cli_common.ts';
import { native } from '../../lib/native/index.ts';
import { checkThreads } from '../../lib/stic/options.ts';
import { flagPath, guardOutputs, modelInputs } from '../../lib/stic/output_guard.ts';
import { EXPORT_DTYPES, type ExportDtype, exportMerged } from '../../lib/train/merge_export.ts';
import { parseByteSize } from '../../lib/util/byte_size.ts';
import { progressFactory } from '../../lib/util/progress.ts';

interface ExportArgs {
  model: string;
  adapter: string;
  out: string;
  'max-shard-size': string;
  dtype: ExportDtype;
  threads?: number;
}

export const command: CommandModule<object, ExportArgs> = {
  command: 'export',
  describe: 'Merge a LoRA adapter (and its trained projector) into the base weights and write a full checkpoint',
  builder: (y) =>
    y
      .options({
        model: { type: 'string', demandOption: true, describe: 'Base model directory in Hugging Face layout (the one the adapter was trained on)' },
        adapter: { type: 'string', demandOption: true, describe: 'Adapter directory (adapter_config.json + adapter_model.safetensors, with the trained projector as PEFT modules_to_save when it trained)' },
        out: { type: 'string', demandOption: true, describe: 'New folder for the merged checkpoint: weights, the base\'s config, processor and tokenizer files, and a model card (README.md) of its own' },
        'max-shard-size': { type: 'string', default: '5GB', describe: 'Largest weight file, as for transformers\' save_pretrained: bytes or a size like 5GB, 500MB, 2GiB; above it the weights are sharded with model.safetensors.index.json' },
        dtype: { choices: EXPORT_DTYPES, default: 'stored' as ExportDtype, describe: 'Floating-point tensors\' dtype: stored = each as in the base checkpoint; bf16, f16 or fp32 = all in that one (config.json\'s torch_dtype follows)' },
        threads: THREADS_FLAG,
      })
      .example('$0 export --model models/llava --adapter runs/a/sft --out models/llava-stic', 'the STIC model as plain weights') as never,
  handler: async (args) => {
    const threads = checkThreads(args.threads);
    if (threads !== undefined) native().setThreads(threads);
    // The new folder itself is locked (as stic eval's): exports into other folders of one parent run side by side.
    const io = { inputs: modelInputs(args), outputs: [flagPath('out', args.out)], lock: [path.resolve(args.out)] };
    const maxShardBytes = parseByteSize(args['max-shard-size'], '--max-shard-size');
    const r = await guardOutputs(io, () => exportMerged({ model: args.model, adapter: args.adapter, out: args.out, maxShardBytes, dtype: args.dtype, progress: progressFactory() }));
    const projector = r.projector ? ', projector from the adapter folder' : '';
    process.stderr.write(`export: ${r.merged} linear layers merged, ${r.copied} tensors copied${projector}\n`);
    if (r.notCopied.length > 0) process.stderr.write(`export: not copied (not config, processor or tokenizer files of the model): ${r.notCopied.join(', ')}\n`);
    process.stdout.write(`${r.files.join('\n')}\n`);
  },
};
