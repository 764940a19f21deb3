// `stic sft`: STIC stage 2b, supervised fine-tuning on description-infused samples.
import type { CommandModule } from 'yargs';

import { CONFIG_FLAGS, MODEL_OPTION, THREADS_OPTION, commandEnv, outOption, shownDryRun } from '../../lib/stic/cli_common.ts';
import { resolveOptions } from '../../lib/stic/command_options.ts';
import { openTraining } from '../../lib/stic/engines.ts';
import { type OptionTable, tableValues, yargsOptions } from '../../lib/stic/options.ts';
import { flagPath, guardOutputs, modelInputs } from '../../lib/stic/output_guard.ts';
import { executeSft } from '../../lib/stic/stages/sft.ts';
import { SFT_OPTIONS, type SftOptions, checkTrainOptions } from '../../lib/stic/train_options.ts';

interface SftCommandOptions extends SftOptions {
  model: string;
  out: string;
  threads?: number;
}

const OPTIONS: OptionTable<SftCommandOptions> = {
  model: MODEL_OPTION,
  out: outOption('Output folder: PEFT adapter, projector, metrics.jsonl, training.svg/png, summary.txt'),
  threads: THREADS_OPTION,
  ...SFT_OPTIONS,
};

export const command: CommandModule<object, Record<string, unknown>> = {
  command: 'sft',
  describe: 'Stage 2b: fine-tune on the description-infused instruction data, continuing the stage-1 adapter',
  builder: (y) =>
    y
      .options({ ...CONFIG_FLAGS, ...yargsOptions(OPTIONS) })
      .example('$0 sft --model models/llava --init-adapter runs/a/dpo --data runs/a/infused.json --image-root data/images --out runs/a/sft', '') as never,
  handler: async (args) => {
    const r = await resolveOptions(OPTIONS, args, checkTrainOptions);
    if (shownDryRun(args, OPTIONS, r)) return;
    const o = r.options;
    const env = await commandEnv(o, 'steps');
    const io = { inputs: [...modelInputs(o), flagPath('data', o.data), flagPath('image-root', o.imageRoot), flagPath('init-adapter', o.initAdapter)], outputs: [flagPath('out', o.out)] };
    const rep = await guardOutputs(io, () => executeSft(env, tableValues(SFT_OPTIONS, o), o.out, openTraining));
    process.stdout.write(rep.report);
  },
};
