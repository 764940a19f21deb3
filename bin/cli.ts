// The CLI's only entry point. Each command lives in bin/commands/<name>.ts and exports a yargs
// CommandModule as `command`; they are discovered here so adding one never edits this file.
// Only this file decides the exit code; commands throw and return.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import yargs, { type CommandModule } from 'yargs';

import { failWorld, finishWorld, startWorld } from '../lib/dist/launch.ts';

const here = fileURLToPath(import.meta.url);
const commandsDir = path.join(path.dirname(here), 'commands');
// .ts from the sources (tsx), .js when run compiled (dist/bin/), never the .d.ts beside them.
const commandExt = path.extname(here);

async function loadCommands(): Promise<CommandModule[]> {
  const files = readdirSync(commandsDir).filter((f) => f.endsWith(commandExt) && !f.endsWith('.d.ts')).sort();
  const mods = await Promise.all(files.map((f) => import(pathToFileURL(path.join(commandsDir, f)).href)));
  return mods.map((m, i) => {
    if (!m.command) throw new Error(`internal: ${files[i]} does not export a yargs \`command\``);
    return m.command as CommandModule;
  });
}

/** Runs the CLI with argv (without node and script) and returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  let parser = yargs(argv)
    .scriptName('stic')
    .usage('$0 <command> [options]\n\nSelf-Training on Image Comprehension (STIC) for LLaVA-family models.')
    .strict()
    .demandCommand(1, 'Name a command (see the list above).')
    .recommendCommands()
    .wrap(Math.min(110, process.stdout.columns ?? 100))
    .help()
    .alias('h', 'help')
    .version()
    .fail((msg, err, y) => {
      if (err) throw err;
      // No command at all: the command list is the help. Otherwise the problem and one hint, not the
      // whole --help of the command.
      if (argv.filter((a) => !a.startsWith('-')).length === 0) {
        y.showHelp();
        throw new UsageError(msg);
      }
      throw new UsageError(`${msg}\nRun \`stic ${argv.find((a) => !a.startsWith('-'))} --help\` for its options.`);
    });
  for (const c of await loadCommands()) parser = parser.command(c);
  try {
    await startWorld(); // mpirun / srun: join the other ranks (lib/dist)
    await parser.parseAsync();
    await finishWorld();
    return 0;
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`\nstic: ${err.message}\n`);
      await finishWorld(); // every rank parsed the same argv
      return 2;
    }
    const e = err as Error & { code?: string };
    if (process.env.STIC_DEBUG && e.stack) process.stderr.write(`${e.stack}\n`);
    failWorld(e.message); // several ranks: names this rank and stops them all; does not return
    process.stderr.write(`stic: ${e.message}\n`);
    return 1;
  }
}

class UsageError extends Error {}
