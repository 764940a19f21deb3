// `stic run <config>`: every STIC stage from one JSON or YAML config, skipping complete stages and
// resuming partial ones.
import type { CommandModule } from 'yargs';

import { stageProgress } from '../../lib/stic/cli_common.ts';
import { openImages, openInference, openTraining } from '../../lib/stic/engines.ts';
import { checkOutputs, guardOutputs, pipelineIO } from '../../lib/stic/output_guard.ts';
import { runPipeline } from '../../lib/stic/pipeline.ts';
import { STAGES, type StageName, loadRunConfig, runOptionLines } from '../../lib/stic/run_config.ts';

const CONFIG_HELP = `A config (paths relative to the file; each section's keys are the flags of that stage's command, see stic <stage> --help for them and their defaults):

  model: models/llava            # required
  out: runs/a                    # required: the folder of every stage output
  seed: 42                       # default 42, the seed of every stage that has none of its own
  threads: 2                     # default: all cores
  prompts: prompts.json          # default: the built-in prompts
  stages: [pref, dpo, describe, infuse, sft]   # default: all five
  pref: {images: data/coco, batch-size: 8}
  dpo: {lr: 1.0e-7, beta: 0.1}
  describe: {instructions: data/mixed_5k.json, image-root: data/images}
  infuse: {missing: drop}
  sft: {lr: 2.0e-5, epochs: 1}

Inputs that come from the previous stage (dpo's pairs, describe's adapter, infuse's descriptions, sft's data and starting adapter) are wired by the pipeline and refused in the file.`;

interface RunArgs {
  config: string;
  dryRun: boolean;
  redo?: string;
  set?: string[];
}

export const command: CommandModule<object, RunArgs> = {
  command: 'run <config>',
  describe: 'Run the STIC stages (pref, dpo, describe, infuse, sft) from a JSON or YAML config; complete stages are skipped, partial ones resumed',
  builder: (y) =>
    y
      .positional('config', { type: 'string', demandOption: true, describe: 'Config file (.json, .yaml or .yml): model, out, and one section per stage whose keys are that command\'s flags' })
      .options({
        'dry-run': { type: 'boolean', default: false, describe: 'Print what each stage would do (skip, resume, run) and every option with its value and source (default, config, --set), and stop, writing nothing' },
        set: { type: 'string', array: true, describe: 'Override a config key, checked like the file\'s own: KEY=VALUE or SECTION.KEY=VALUE, repeatable, e.g. --set dpo.lr=1e-6 --set out=runs/b (paths, as in the file, are relative to the config file) (default: none)' },
        redo: { type: 'string', describe: `Comma-separated stages to make again from scratch, with every stage downstream of them (their outputs are deleted first): ${STAGES.join(', ')} (default: none)` },
      })
      .example('$0 run runs/a.yaml --dry-run', 'show the plan')
      .example('$0 run runs/a.yaml --set dpo.lr=1e-6 --set out=runs/a-lr1e-6', 'the same config with another DPO learning rate, into another folder')
      .example('$0 run runs/a.yaml --redo dpo', 'train stage 1 again, and the stages after it (describe, infuse, sft) with it')
      .epilog(CONFIG_HELP) as never,
  handler: async (args) => {
    const cfg = await loadRunConfig(args.config, args.set ?? []);
    const redo = parseRedo(args.redo);
    const io = pipelineIO(cfg);
    const pipeline = () =>
      runPipeline(cfg, { openInference, openImages, openTraining, progress: stageProgress(), log: (t) => process.stderr.write(t) }, { dryRun: args.dryRun, redo });
    // A dry run only reads, so it may look at a run in progress: it checks the paths but takes no lock.
    const planned = args.dryRun ? (checkOutputs(io), await pipeline()) : await guardOutputs(io, pipeline);
    if (args.dryRun) {
      for (const p of planned) process.stdout.write(`${p.stage.padEnd(9)} ${p.action}\n          -> ${p.output}\n`);
      process.stdout.write(`\n${runOptionLines(cfg)}`);
    }
  },
};

function parseRedo(v: string | undefined): StageName[] {
  if (v === undefined) return [];
  const items = v.split(',').map((s) => s.trim());
  for (const s of items) {
    if (!(STAGES as readonly string[]).includes(s)) throw new Error(`Expected a comma-separated list of ${STAGES.join(', ')} for --redo but received ${JSON.stringify(v)}`);
  }
  return items as StageName[];
}
