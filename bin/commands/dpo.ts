// `stic dpo`: STIC stage 1b, DPO with the preferred-response regulariser on the preference pairs.
import type { CommandModule } from 'yargs';

import { CONFIG_FLAGS, MODEL_OPTION, THREADS_OPTION, commandEnv, outOption, shownDryRun } from '../../lib/stic/cli_common.ts';
import { resolveOptions } from '../../lib/stic/command_options.ts';
import { openTraining } from '../../lib/stic/engines.ts';
import { type OptionTable, tableValues, yargsOptions } from '../../lib/stic/options.ts';
import { flagPath, guardOutputs, modelInputs } from '../../lib/stic/output_guard.ts';
import { executeDpo } from '../../lib/stic/stages/dpo.ts';
import { DPO_OPTIONS, type DpoOptions, checkTrainOptions } from '../../lib/stic/train_options.ts';

interface DpoCommandOptions extends DpoOptions {
  model: string;
  out: string;
  threads?: number;
}

const OPTIONS: OptionTable<DpoCommandOptions> = {
  model: MODEL_OPTION,
  out: outOption('Output folder: PEFT adapter, projector, metrics.jsonl, training.svg/png, summary.txt'),
  threads: THREADS_OPTION,
  ...DPO_OPTIONS,
};

export const command: CommandModule<object, Record<string, unknown>> = {
  command: 'dpo',
  describe: 'Stage 1b: train a LoRA adapter (and the projector) with DPO + the preferred-response regulariser',
  builder: (y) =>
    y
      .options({ ...CONFIG_FLAGS, ...yargsOptions(OPTIONS) })
      .example('$0 dpo --model models/llava --prefs runs/a/pref.jsonl --out runs/a/dpo', 'the paper\'s recipe (every default below)')
      .example('$0 dpo ... --rejected-logp top-alt --sft-norm mean --loss ipo', 'variants')
      .example('$0 dpo ... --eval-prefs runs/a/heldout.jsonl --eval-every 50', 'held-out loss, reward accuracy and margin every 50 steps')
      .example('$0 dpo --config dpo.yaml --lr 1e-6 --dry-run', 'the file\'s options with another learning rate, listed with their sources') as never,
  handler: async (args) => {
    const r = await resolveOptions(OPTIONS, args, checkTrainOptions);
    if (shownDryRun(args, OPTIONS, r)) return;
    const o = r.options;
    const env = await commandEnv(o, 'steps');
    const io = { inputs: [...modelInputs(o), flagPath('prefs', o.prefs), flagPath('eval-prefs', o.evalPrefs), flagPath('image-root', o.imageRoot)], outputs: [flagPath('out', o.out)] };
    const rep = await guardOutputs(io, () => executeDpo(env, tableValues(DPO_OPTIONS, o), o.out, openTraining));
    process.stdout.write(rep.report);
  },
};
