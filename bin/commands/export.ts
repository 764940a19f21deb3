// `stic export`: base model + trained adapter (and the projector beside it) -> merged full weights in
// the base checkpoint's own Hugging Face layout, loadable without PEFT (by stic and by transformers).
import type { CommandModule } from 'yargs';

import { THREADS_FLAG } from '../../lib/stic/cli_common.ts';
import { native } from '../../lib/native/index.ts';
import { checkThreads } from '../../lib/stic/options.ts';
import { flagPath, guardOutputs, modelInputs } from '../../lib/stic/output_guard.ts';
import { exportMerged } from '../../lib/train/merge_export.ts';

interface ExportArgs {
  model: string;
  adapter: string;
  out: string;
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
        out: { type: 'string', demandOption: true, describe: 'New folder for the merged checkpoint (weights in the base dtype, configs and tokenizer copied)' },
        threads: THREADS_FLAG,
      })
      .example('$0 export --model models/llava --adapter runs/a/sft --out models/llava-stic', 'the STIC model as plain weights') as never,
  handler: async (args) => {
    const threads = checkThreads(args.threads);
    if (threads !== undefined) native().setThreads(threads);
    const io = { inputs: modelInputs(args), outputs: [flagPath('out', args.out)] };
    const r = await guardOutputs(io, () => exportMerged({ model: args.model, adapter: args.adapter, out: args.out }));
    const projector = r.projector ? ', projector from the adapter folder' : '';
    process.stderr.write(`export: ${r.merged} linear layers merged, ${r.copied} tensors copied${projector}\n`);
    process.stdout.write(`${r.files.join('\n')}\n`);
  },
};
