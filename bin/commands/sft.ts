// `stic sft`: STIC stage 2b, supervised fine-tuning on description-infused samples.
import type { CommandModule } from 'yargs';

import { MODEL_FLAG, THREADS_FLAG, commandEnv } from '../../lib/stic/cli_common.ts';
import { openTraining } from '../../lib/stic/engines.ts';
import { cliProblem, pickOptions, yargsOptions } from '../../lib/stic/options.ts';
import { flagPath, guardOutputs, modelInputs } from '../../lib/stic/output_guard.ts';
import { executeSft } from '../../lib/stic/stages.ts';
import { SFT_OPTIONS, validateSftOptions } from '../../lib/stic/train_options.ts';

interface SftArgs {
  model: string;
  out: string;
  threads?: number;
  [k: string]: unknown;
}

export const command: CommandModule<object, SftArgs> = {
  command: 'sft',
  describe: 'Stage 2b: fine-tune on the description-infused instruction data, continuing the stage-1 adapter',
  builder: (y) =>
    y
      .options({
        model: MODEL_FLAG,
        out: { type: 'string', demandOption: true, describe: 'Output folder: PEFT adapter, projector, metrics.jsonl, training.svg/png, summary.txt' },
        threads: THREADS_FLAG,
        ...yargsOptions(SFT_OPTIONS),
      })
      .example('$0 sft --model models/llava --init-adapter runs/a/dpo --data runs/a/infused.json --image-root data/images --out runs/a/sft', '') as never,
  handler: async (args) => {
    const o = validateSftOptions(pickOptions(SFT_OPTIONS, args), cliProblem);
    const env = await commandEnv(args, 'steps');
    const io = { inputs: [...modelInputs(args), flagPath('data', o.data), flagPath('image-root', o.imageRoot), flagPath('init-adapter', o.initAdapter)], outputs: [flagPath('out', args.out)] };
    const r = await guardOutputs(io, () => executeSft(env, o, args.out, openTraining));
    process.stdout.write(r.report);
  },
};
