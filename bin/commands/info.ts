// `stic info`: what this installation can do (backends, threads, SIMD).
import type { CommandModule } from 'yargs';

import { native } from '../../lib/native/index.ts';

interface InfoArgs {
  json: boolean;
}

export const command: CommandModule<object, InfoArgs> = {
  command: 'info',
  describe: 'Show the native build, backends and threads of this installation',
  builder: (y) =>
    y.option('json', { type: 'boolean', default: false, describe: 'Print machine-readable JSON instead of a table' }) as never,
  handler: (args) => {
    const info = native().buildInfo();
    if (args.json) {
      process.stdout.write(`${JSON.stringify(info, null, 2)}\n`);
      return;
    }
    const rows: [string, string][] = [
      ['backends', info.backends.join(', ')],
      ['cuda', info.cuda ? 'built' : 'not built (no CUDA toolkit with cuBLASLt at build time)'],
      ['cpu threads', `${info.threads} of ${info.maxThreads} (set STIC_THREADS to change)`],
      ['simd', info.simd],
      ['compiler', info.compiler],
      ['node-api', String(info.napiVersion)],
    ];
    for (const [k, v] of rows) process.stdout.write(`${k.padEnd(12)} ${v}\n`);
  },
};
