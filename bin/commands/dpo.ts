// `stic dpo`: STIC stage 1b, DPO with the preferred-response regulariser on the preference pairs.
import type { CommandModule } from 'yargs';

import { MODEL_FLAG, THREADS_FLAG, commandEnv } from '../../lib/stic/cli_common.ts';
import { openTraining } from '../../lib/stic/engines.ts';
import { cliProblem, pickOptions, yargsOptions } from '../../lib/stic/options.ts';
import { flagPath, guardOutputs, modelInputs } from '../../lib/stic/output_guard.ts';
import { executeDpo } from '../../lib/stic/stages.ts';
import { DPO_OPTIONS, validateDpoOptions } from '../../lib/stic/train_options.ts';

interface DpoArgs {
  model: string;
  out: string;
  threads?: number;
  [k: string]: unknown;
}

export const command: CommandModule<object, DpoArgs> = {
  command: 'dpo',
  describe: 'Stage 1b: train a LoRA adapter (and the projector) with DPO + the preferred-response regulariser',
  builder: (y) =>
    y
      .options({
        model: MODEL_FLAG,
        out: { type: 'string', demandOption: true, describe: 'Output folder: PEFT adapter, projector, metrics.jsonl, training.svg/png, summary.txt' },
        threads: THREADS_FLAG,
        ...yargsOptions(DPO_OPTIONS),
      })
      .example('$0 dpo --model models/llava --prefs runs/a/pref.jsonl --out runs/a/dpo', 'the paper\'s recipe (every default below)')
      .example('$0 dpo ... --rejected-logp top-alt --sft-norm mean --loss ipo', 'variants')
      .example('$0 dpo ... --eval-prefs runs/a/heldout.jsonl --eval-every 50', 'held-out loss, reward accuracy and margin every 50 steps') as never,
  handler: async (args) => {
    const o = validateDpoOptions(pickOptions(DPO_OPTIONS, args), cliProblem);
    const env = await commandEnv(args, 'steps');
    const io = { inputs: [...modelInputs(args), flagPath('prefs', o.prefs), flagPath('eval-prefs', o.evalPrefs), flagPath('image-root', o.imageRoot)], outputs: [flagPath('out', args.out)] };
    const r = await guardOutputs(io, () => executeDpo(env, o, args.out, openTraining));
    process.stdout.write(r.report);
  },
};
