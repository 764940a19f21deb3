// `stic pref`: STIC stage 1a, unlabeled images -> preference pairs (JSONL).
import type { CommandModule } from 'yargs';

import { ADAPTER_OPTION, CONFIG_FLAGS, FRESH_OPTION, MODEL_OPTION, PROMPTS_OPTION, THREADS_OPTION, commandEnv, outOption, shownDryRun } from '../../lib/stic/cli_common.ts';
import { resolveOptions } from '../../lib/stic/command_options.ts';
import { openImages, openInference } from '../../lib/stic/engines.ts';
import { type OptionTable, tableValues, yargsOptions } from '../../lib/stic/options.ts';
import { PREF_OPTIONS, type PrefOptions } from '../../lib/stic/stage_options.ts';
import { flagPath, guardOutputs, modelInputs } from '../../lib/stic/output_guard.ts';
import { startFresh } from '../../lib/stic/output_settings.ts';
import { executePref } from '../../lib/stic/stages/pref.ts';

interface PrefCommandOptions extends PrefOptions {
  model: string;
  out: string;
  adapter?: string;
  prompts?: string;
  threads?: number;
  fresh: boolean;
}

const OPTIONS: OptionTable<PrefCommandOptions> = {
  model: MODEL_OPTION,
  out: outOption('Output JSONL of preference pairs (appended per batch; re-running resumes)'),
  adapter: { ...ADAPTER_OPTION, describe: 'LoRA adapter to apply to the model, e.g. for a second STIC round (default: none, the base model alone; applied in memory at load)' },
  prompts: PROMPTS_OPTION,
  threads: THREADS_OPTION,
  fresh: FRESH_OPTION,
  ...PREF_OPTIONS,
};

export const command: CommandModule<object, Record<string, unknown>> = {
  command: 'pref',
  describe: 'Stage 1a: let the model write a preferred and a dispreferred description of each unlabeled image (preference JSONL)',
  builder: (y) =>
    y
      .options({ ...CONFIG_FLAGS, ...yargsOptions(OPTIONS) })
      .example('$0 pref --model models/llava --images coco/train2014 --out runs/a/pref.jsonl', 'pairs for every image in the folder')
      .example('$0 pref ... --corruptions lowres,jitter,blur --ref-logps', 'three corruptions; store reference log-probs for training')
      .example('$0 pref --config pref.yaml --temperature 0.7 --dry-run', 'the file\'s options, one overridden, listed with their sources') as never,
  handler: async (args) => {
    const r = await resolveOptions(OPTIONS, args);
    if (shownDryRun(args, OPTIONS, r)) return;
    const o = r.options;
    const env = await commandEnv(o, 'images');
    const io = { inputs: [...modelInputs(o), flagPath('images', o.images), flagPath('image-root', o.imageRoot)], outputs: [flagPath('out', o.out)] };
    const rep = await guardOutputs(io, async () => {
      if (o.fresh) await startFresh(o.out);
      return executePref(env, tableValues(PREF_OPTIONS, o), o.out, { open: openInference, images: openImages }, o.adapter);
    });
    process.stderr.write(rep.report);
  },
};
