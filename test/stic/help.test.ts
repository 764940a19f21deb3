// `--help` of the pipeline commands: every flag is explained and says its default (yargs'
// "[default: ...]", a "(default: ...)" in its text) or that it is required ("[required]", or
// "(required: ...)" where a --config file may give it); the single-stage commands offer --config
// and --dry-run.
import { expect } from 'chai';
import yargs, { type CommandModule } from 'yargs';

import { command as corrupt } from '../../bin/commands/corrupt.ts';
import { command as demo } from '../../bin/commands/demo.ts';
import { command as describeCmd } from '../../bin/commands/describe.ts';
import { command as dpo } from '../../bin/commands/dpo.ts';
import { command as evalCmd } from '../../bin/commands/eval.ts';
import { command as generate } from '../../bin/commands/generate.ts';
import { command as infuse } from '../../bin/commands/infuse.ts';
import { command as pref } from '../../bin/commands/pref.ts';
import { command as run } from '../../bin/commands/run.ts';
import { command as sft } from '../../bin/commands/sft.ts';

/** The help text of one command, as `stic <name> --help` prints it (without exiting). */
function helpOf(cmd: CommandModule<object, never>, name: string): Promise<string> {
  return new Promise((resolve, reject) => {
    void yargs()
      .scriptName('stic')
      .exitProcess(false)
      .wrap(200)
      .command(cmd as CommandModule)
      .parseAsync([name, '--help'], {}, (err: Error | undefined, _argv: unknown, output: string) => (err ? reject(err) : resolve(output)));
  });
}

/** Each option of a help text with its text: "--flag" -> "explanation [type] [default: x]". */
export function helpOptions(help: string): Map<string, string> {
  const options = new Map<string, string>();
  let current: string | null = null;
  for (const line of help.split('\n')) {
    const m = /^\s+(?:-\w, )?--([\w-]+)\s*(.*)$/.exec(line);
    if (m) {
      current = m[1];
      options.set(current, m[2]);
    } else if (current !== null && /^\s{6,}\S/.test(line)) {
      options.set(current, `${options.get(current)} ${line.trim()}`);
    } else {
      current = null;
    }
  }
  return options;
}

const COMMANDS: [string, CommandModule<object, never>, number][] = [
  ['pref', pref as CommandModule<object, never>, 25],
  ['dpo', dpo as CommandModule<object, never>, 30],
  ['describe', describeCmd as CommandModule<object, never>, 14],
  ['infuse', infuse as CommandModule<object, never>, 6],
  ['sft', sft as CommandModule<object, never>, 22],
  ['run', run as CommandModule<object, never>, 2],
  ['demo', demo as CommandModule<object, never>, 6],
  ['corrupt', corrupt as CommandModule<object, never>, 19],
  ['eval', evalCmd as CommandModule<object, never>, 25],
];

/** Whether an option's help text states its default, or that it is required. */
export function statesDefault(text: string): boolean {
  return /\[default: [^\]]+\]|\(default[: ]|\[required\]|\(required: /.test(text);
}

const SINGLE_STAGE = ['pref', 'dpo', 'describe', 'infuse', 'sft', 'corrupt', 'eval'];

describe('--help of the pipeline commands', () => {
  for (const [name, cmd, atLeast] of COMMANDS) {
    it(`stic ${name}: every flag is explained and states its default or that it is required`, async () => {
      const options = helpOptions(await helpOf(cmd, name));
      options.delete('help');
      options.delete('version');
      expect(options.size).to.be.at.least(atLeast);
      for (const [flag, text] of options) {
        const words = text.replace(/\[[^\]]*\]/g, '').trim();
        expect(words.length, `--${flag} has no explanation`).to.be.above(10);
        expect(statesDefault(text), `--${flag}: "${text}" states no default`).to.equal(true);
      }
      if (SINGLE_STAGE.includes(name)) for (const flag of ['config', 'dry-run']) expect(options.has(flag), `stic ${name} --${flag}`).to.equal(true);
    });
  }

  it('one seed default: every command that takes --seed for its stages, sampling or corruption defaults to the same one', async () => {
    const commands: [string, CommandModule<object, never>][] = [['pref', pref], ['dpo', dpo], ['describe', describeCmd], ['sft', sft], ['corrupt', corrupt], ['generate', generate as CommandModule<object, never>]] as never;
    const seeds = [];
    for (const [name, cmd] of commands) seeds.push([name, /\[default: (\d+)\]/.exec(helpOptions(await helpOf(cmd, name)).get('seed') ?? '')?.[1]]);
    expect(seeds).to.deep.equal(commands.map(([name]) => [name, '42']));
  });
});
