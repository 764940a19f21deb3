// `stic pref`: STIC stage 1a, unlabeled images -> preference pairs (JSONL).
import type { CommandModule } from 'yargs';

import { MODEL_FLAG, PROMPTS_FLAG, THREADS_FLAG, commandEnv } from '../../lib/stic/cli_common.ts';
import { openImages, openInference } from '../../lib/stic/engines.ts';
import { cliProblem, pickOptions, yargsOptions } from '../../lib/stic/options.ts';
import { PREF_OPTIONS, validatePrefOptions } from '../../lib/stic/stage_options.ts';
import { flagPath, guardOutputs, modelInputs } from '../../lib/stic/output_guard.ts';
import { startFresh } from '../../lib/stic/output_settings.ts';
import { executePref } from '../../lib/stic/stages.ts';

interface PrefArgs {
  model: string;
  out: string;
  adapter?: string;
  prompts?: string;
  threads?: number;
  fresh: boolean;
  [k: string]: unknown;
}

export const command: CommandModule<object, PrefArgs> = {
  command: 'pref',
  describe: 'Stage 1a: let the model write a preferred and a dispreferred description of each unlabeled image (preference JSONL)',
  builder: (y) =>
    y
      .options({
        model: MODEL_FLAG,
        out: { type: 'string', demandOption: true, describe: 'Output JSONL of preference pairs (appended per batch; re-running resumes)' },
        adapter: { type: 'string', describe: 'LoRA adapter to apply to the model, e.g. for a second STIC round (default: none, the base model alone; applied in memory at load)' },
        prompts: PROMPTS_FLAG,
        threads: THREADS_FLAG,
        fresh: { type: 'boolean', default: false, describe: 'Start --out over: delete the records, settings and skipped list an earlier run wrote there, instead of resuming' },
        ...yargsOptions(PREF_OPTIONS),
      })
      .example('$0 pref --model models/llava --images coco/train2014 --out runs/a/pref.jsonl', 'pairs for every image in the folder')
      .example('$0 pref ... --corruptions lowres,jitter,blur --ref-logps', 'three corruptions; store reference log-probs for training') as never,
  handler: async (args) => {
    const o = validatePrefOptions(pickOptions(PREF_OPTIONS, args), cliProblem);
    const env = await commandEnv(args, 'images');
    const io = { inputs: [...modelInputs(args), flagPath('images', o.images), flagPath('image-root', o.imageRoot)], outputs: [flagPath('out', args.out)] };
    const r = await guardOutputs(io, async () => {
      if (args.fresh) await startFresh(args.out);
      return executePref(env, o, args.out, { open: openInference, images: openImages }, args.adapter);
    });
    process.stderr.write(r.report);
  },
};
