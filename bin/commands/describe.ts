// `stic describe`: STIC stage 2a, the stage-1 model describes the images of instruction samples.
import type { CommandModule } from 'yargs';

import { ADAPTER_OPTION, CONFIG_FLAGS, FRESH_OPTION, MODEL_OPTION, PROMPTS_OPTION, THREADS_OPTION, commandEnv, outOption, shownDryRun } from '../../lib/stic/cli_common.ts';
import { resolveOptions } from '../../lib/stic/command_options.ts';
import { openImages, openInference } from '../../lib/stic/engines.ts';
import { type OptionTable, tableValues, yargsOptions } from '../../lib/stic/options.ts';
import { DESCRIBE_OPTIONS, type DescribeOptions } from '../../lib/stic/stage_options.ts';
import { flagPath, guardOutputs, modelInputs } from '../../lib/stic/output_guard.ts';
import { startFresh } from '../../lib/stic/output_settings.ts';
import { executeDescribe } from '../../lib/stic/stages/describe.ts';

interface DescribeCommandOptions extends DescribeOptions {
  model: string;
  adapter?: string;
  out: string;
  prompts?: string;
  threads?: number;
  fresh: boolean;
}

const OPTIONS: OptionTable<DescribeCommandOptions> = {
  model: MODEL_OPTION,
  adapter: { ...ADAPTER_OPTION, describe: 'The stage-1 adapter, the output folder of stic dpo (default: none, the base model alone; applied in memory at load)' },
  out: outOption('Output JSONL {id, image, prompt, description} (appended per batch; re-running resumes)'),
  prompts: PROMPTS_OPTION,
  threads: THREADS_OPTION,
  fresh: FRESH_OPTION,
  ...DESCRIBE_OPTIONS,
};

export const command: CommandModule<object, Record<string, unknown>> = {
  command: 'describe',
  describe: 'Stage 2a: describe the image of every instruction sample with the stage-1 model (descriptions JSONL)',
  builder: (y) =>
    y
      .options({ ...CONFIG_FLAGS, ...yargsOptions(OPTIONS) })
      .example('$0 describe --model models/llava --adapter runs/a/dpo --instructions data/mixed_5k.json --image-root data/images --out runs/a/descriptions.jsonl', '') as never,
  handler: async (args) => {
    const r = await resolveOptions(OPTIONS, args);
    if (shownDryRun(args, OPTIONS, r)) return;
    const o = r.options;
    const env = await commandEnv(o, 'samples');
    const io = { inputs: [...modelInputs(o), flagPath('instructions', o.instructions), flagPath('image-root', o.imageRoot)], outputs: [flagPath('out', o.out)] };
    const rep = await guardOutputs(io, async () => {
      if (o.fresh) await startFresh(o.out);
      return executeDescribe(env, tableValues(DESCRIBE_OPTIONS, o), o.out, o.adapter, { open: openInference, images: openImages });
    });
    process.stderr.write(rep.report);
  },
};
