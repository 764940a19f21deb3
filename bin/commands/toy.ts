// `stic toy ...`: the built-in toy world. `stic toy world` renders a dataset of scenes with their
// ground truth, captions, questions and LLaVA instruction samples (layout in lib/toy/dataset.ts).
import type { Argv, CommandModule } from 'yargs';

import { writeToyDataset } from '../../lib/toy/dataset.ts';
import { TOY_IMAGE_SIZE } from '../../lib/toy/render.ts';
import { MAX_SHAPES, MIN_SHAPES } from '../../lib/toy/vocab.ts';

interface WorldArgs {
  out: string;
  count: number;
  seed: number;
  start: number;
  size: number;
  'extra-size': number[];
  'min-shapes': number;
  'max-shapes': number;
}

const world: CommandModule<object, WorldArgs> = {
  command: 'world',
  describe: 'Render toy scenes: images, truth.jsonl, captions.jsonl, qa.jsonl, instructions.jsonl',
  builder: (y) =>
    y
      .options({
        out: { type: 'string', demandOption: true, describe: 'Output folder (created; files in it are replaced)' },
        count: { type: 'number', demandOption: true, describe: 'Number of scenes' },
        seed: { type: 'number', default: 0, describe: 'World seed: scene i of a seed is always the same scene' },
        start: { type: 'number', default: 0, describe: 'Index of the first scene (disjoint ranges give disjoint sets)' },
        size: { type: 'number', default: TOY_IMAGE_SIZE, describe: 'Image side in pixels' },
        'extra-size': { type: 'number', array: true, default: [], describe: 'Also render at these sides, into images_<S>px/' },
        'min-shapes': { type: 'number', default: MIN_SHAPES, describe: 'Fewest shapes per scene' },
        'max-shapes': { type: 'number', default: MAX_SHAPES, describe: 'Most shapes per scene' },
      })
      .example('$0 toy world --out data/toy --count 200 --seed 1', '') as never,
  handler: async (args) => {
    const r = await writeToyDataset({
      outDir: args.out,
      seed: args.seed,
      count: args.count,
      start: args.start,
      size: args.size,
      extraSizes: args['extra-size'],
      minShapes: args['min-shapes'],
      maxShapes: args['max-shapes'],
    });
    process.stdout.write(`wrote ${r.scenes} scenes and ${r.questions} questions to ${args.out} (${r.files.join(', ')}, images/)\n`);
  },
};

export const command: CommandModule = {
  command: 'toy <command>',
  describe: 'The built-in toy world (procedural shapes with exact ground truth)',
  builder: (y: Argv) => y.command(world).demandCommand(1, 'Name a toy command (see the list above).'),
  handler: () => undefined,
};
