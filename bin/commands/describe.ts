// `stic describe`: STIC stage 2a, the stage-1 model describes the images of instruction samples.
import type { CommandModule } from 'yargs';

import { MODEL_FLAG, PROMPTS_FLAG, THREADS_FLAG, commandEnv } from '../../lib/stic/cli_common.ts';
import { openImages, openInference } from '../../lib/stic/engines.ts';
import { cliProblem, pickOptions, yargsOptions } from '../../lib/stic/options.ts';
import { DESCRIBE_OPTIONS, validateDescribeOptions } from '../../lib/stic/stage_options.ts';
import { flagPath, guardOutputs, modelInputs } from '../../lib/stic/output_guard.ts';
import { startFresh } from '../../lib/stic/output_settings.ts';
import { executeDescribe } from '../../lib/stic/stages.ts';

interface DescribeArgs {
  model: string;
  out: string;
  adapter?: string;
  prompts?: string;
  threads?: number;
  fresh: boolean;
  [k: string]: unknown;
}

export const command: CommandModule<object, DescribeArgs> = {
  command: 'describe',
  describe: 'Stage 2a: describe the image of every instruction sample with the stage-1 model (descriptions JSONL)',
  builder: (y) =>
    y
      .options({
        model: MODEL_FLAG,
        adapter: { type: 'string', describe: 'The stage-1 adapter, the output folder of stic dpo (default: none, the base model alone; applied in memory at load)' },
        out: { type: 'string', demandOption: true, describe: 'Output JSONL {id, image, prompt, description} (appended per batch; re-running resumes)' },
        prompts: PROMPTS_FLAG,
        threads: THREADS_FLAG,
        fresh: { type: 'boolean', default: false, describe: 'Start --out over: delete the records, settings and skipped list an earlier run wrote there, instead of resuming' },
        ...yargsOptions(DESCRIBE_OPTIONS),
      })
      .example('$0 describe --model models/llava --adapter runs/a/dpo --instructions data/mixed_5k.json --image-root data/images --out runs/a/descriptions.jsonl', '') as never,
  handler: async (args) => {
    const o = validateDescribeOptions(pickOptions(DESCRIBE_OPTIONS, args), cliProblem);
    const env = await commandEnv(args, 'samples');
    const io = { inputs: [...modelInputs(args), flagPath('instructions', o.instructions), flagPath('image-root', o.imageRoot)], outputs: [flagPath('out', args.out)] };
    const r = await guardOutputs(io, async () => {
      if (args.fresh) await startFresh(args.out);
      return executeDescribe(env, o, args.out, args.adapter, { open: openInference, images: openImages });
    });
    process.stderr.write(r.report);
  },
};
