// `stic toy-bench`: small benchmark files in the official formats (POPE, TextVQA, ScienceQA, ChartQA,
// MMBench, MM-Vet) made from the toy world, for trying `stic eval` on the built-in model.
import path from 'node:path';

import type { CommandModule } from 'yargs';

import { writeToyBenchmarks } from '../../lib/eval/toy_bench.ts';
import { flagPath, guardOutputs } from '../../lib/stic/output_guard.ts';
import { TOY_PRETRAIN_DEFAULTS } from '../../lib/pretrain/toy_pretrain.ts';
import { modelImageSide } from '../../lib/model/config.ts';
import { BUILTIN_MODEL } from '../../lib/demo/options.ts';

interface ToyBenchArgs {
  out: string;
  count: number;
  seed: number;
  size: number;
}

export const command: CommandModule<object, ToyBenchArgs> = {
  command: 'toy-bench',
  describe: 'Write toy-world benchmark files in the official formats of POPE, TextVQA, ScienceQA, ChartQA, MMBench and MM-Vet',
  builder: (y) =>
    y
      .options({
        out: { type: 'string', demandOption: true, describe: 'Output folder (one subfolder per benchmark; files in it are replaced)' },
        count: { type: 'number', default: 20, describe: 'Toy scenes (each gives one to four questions per benchmark)' },
        seed: { type: 'number', default: TOY_PRETRAIN_DEFAULTS.evalSeed, describe: 'World seed (the built-in model was trained on seed 1; the default is the held-out seed of its evaluations)' },
        size: { type: 'number', default: modelImageSide(BUILTIN_MODEL), describe: 'Image side in pixels (default: the built-in model\'s input side)' },
      })
      .example('$0 toy-bench --out data/toy-bench', '') as never,
  handler: async (args) => {
    if (!Number.isInteger(args.count) || args.count < 1) throw new Error(`Expected an integer >= 1 for --count but received ${args.count}`);
    if (!Number.isInteger(args.seed) || args.seed < 0) throw new Error(`Expected an integer >= 0 for --seed but received ${args.seed}`);
    if (!Number.isInteger(args.size) || args.size < 16) throw new Error(`Expected an integer >= 16 for --size but received ${args.size}`);
    const files = await guardOutputs({ inputs: [], outputs: [flagPath('out', args.out)], lock: [path.resolve(args.out)] }, () => writeToyBenchmarks({ out: args.out, count: args.count, seed: args.seed, size: args.size }));
    for (const [bench, data] of Object.entries(files)) process.stdout.write(`${bench}: --data ${data}\n`);
  },
};
