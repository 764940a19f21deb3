// `stic infuse`: STIC stage 2b data, descriptions written into the instruction samples' prompts.
import type { CommandModule } from 'yargs';

import { CONFIG_FLAGS, PROMPTS_OPTION, commandEnv, outOption, shownDryRun } from '../../lib/stic/cli_common.ts';
import { resolveOptions } from '../../lib/stic/command_options.ts';
import { type OptionTable, tableValues, yargsOptions } from '../../lib/stic/options.ts';
import { INFUSE_OPTIONS, type InfuseOptions } from '../../lib/stic/stage_options.ts';
import { flagPath, guardOutputs } from '../../lib/stic/output_guard.ts';
import { executeInfuse } from '../../lib/stic/stages/infuse.ts';

interface InfuseCommandOptions extends InfuseOptions {
  out: string;
  prompts?: string;
}

const OPTIONS: OptionTable<InfuseCommandOptions> = {
  out: outOption('Output JSON array in LLaVA format (written atomically)'),
  prompts: { ...PROMPTS_OPTION, describe: `${PROMPTS_OPTION.describe}; "infusion" sets the inserted text` },
  ...INFUSE_OPTIONS,
};

export const command: CommandModule<object, Record<string, unknown>> = {
  command: 'infuse',
  describe: 'Stage 2b data: insert each sample\'s description after the image token of its first question (LLaVA JSON)',
  builder: (y) =>
    y
      .options({ ...CONFIG_FLAGS, ...yargsOptions(OPTIONS) })
      .example('$0 infuse --instructions data/mixed_5k.json --descriptions runs/a/descriptions.jsonl --out runs/a/infused.json', '') as never,
  handler: async (args) => {
    const r = await resolveOptions(OPTIONS, args);
    if (shownDryRun(args, OPTIONS, r)) return;
    const o = r.options;
    const env = await commandEnv({ prompts: o.prompts }, 'samples');
    const io = { inputs: [flagPath('instructions', o.instructions), flagPath('descriptions', o.descriptions), flagPath('prompts', o.prompts)], outputs: [flagPath('out', o.out)] };
    const rep = await guardOutputs(io, () => executeInfuse(env, tableValues(INFUSE_OPTIONS, o), o.out));
    process.stderr.write(rep.report);
  },
};
