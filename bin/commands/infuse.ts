// `stic infuse`: STIC stage 2b data, descriptions written into the instruction samples' prompts.
import type { CommandModule } from 'yargs';

import { PROMPTS_FLAG, commandEnv } from '../../lib/stic/cli_common.ts';
import { cliProblem, pickOptions, yargsOptions } from '../../lib/stic/options.ts';
import { INFUSE_OPTIONS, validateInfuseOptions } from '../../lib/stic/stage_options.ts';
import { flagPath, guardOutputs } from '../../lib/stic/output_guard.ts';
import { executeInfuse } from '../../lib/stic/stages.ts';

interface InfuseArgs {
  out: string;
  prompts?: string;
  [k: string]: unknown;
}

export const command: CommandModule<object, InfuseArgs> = {
  command: 'infuse',
  describe: 'Stage 2b data: insert each sample\'s description after the image token of its first question (LLaVA JSON)',
  builder: (y) =>
    y
      .options({
        out: { type: 'string', demandOption: true, describe: 'Output JSON array in LLaVA format (written atomically)' },
        prompts: { ...PROMPTS_FLAG, describe: `${PROMPTS_FLAG.describe as string}; "infusion" sets the inserted text` },
        ...yargsOptions(INFUSE_OPTIONS),
      })
      .example('$0 infuse --instructions data/mixed_5k.json --descriptions runs/a/descriptions.jsonl --out runs/a/infused.json', '') as never,
  handler: async (args) => {
    const o = validateInfuseOptions(pickOptions(INFUSE_OPTIONS, args), cliProblem);
    const env = await commandEnv({ prompts: args.prompts }, 'samples');
    const io = { inputs: [flagPath('instructions', o.instructions), flagPath('descriptions', o.descriptions), flagPath('prompts', args.prompts)], outputs: [flagPath('out', args.out)] };
    const r = await guardOutputs(io, () => executeInfuse(env, o, args.out));
    process.stderr.write(r.report);
  },
};
