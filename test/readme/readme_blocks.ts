// The fenced blocks of README.md that the README test runs, parsed at test time so a block added
// later is picked up without editing the test:
//   ```sh / ```bash / ```shell   commands, run as written (one bash process per block, `set -e`)
//   ```yaml / ```json whose first line is a comment naming a file ("# stic.yaml ...")
//                                a file the commands after it read: written there first
// Other blocks (tables, output samples) are not commands.
export interface ReadmeBlock {
  kind: 'commands' | 'file';
  /** 1-based line of the opening fence in README.md. */
  line: number;
  /** The section heading the block is under. */
  section: string;
  text: string;
  /** For a file block: the path it is written to (relative to the working folder). */
  file?: string;
}

const SHELL_LANGS = new Set(['sh', 'bash', 'shell']);
const FILE_LANGS = new Set(['yaml', 'yml', 'json']);
const FILE_NAME = /^#\s*([\w./-]+\.(?:ya?ml|json))\b/;

export function readmeBlocks(markdown: string): ReadmeBlock[] {
  const lines = markdown.split(/\r?\n/);
  const blocks: ReadmeBlock[] = [];
  let section = '(top)';
  for (let i = 0; i < lines.length; i++) {
    const heading = /^#{1,6}\s+(.*)$/.exec(lines[i]);
    if (heading) section = heading[1].trim();
    const open = /^(`{3,})\s*([\w-]*)\s*$/.exec(lines[i]);
    if (!open) continue;
    const fence = open[1];
    const lang = open[2].toLowerCase();
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !lines[i].startsWith(fence); i++) body.push(lines[i]);
    if (i >= lines.length) throw new Error(`README.md:${start + 1}: code block opened here is never closed`);
    const text = `${body.join('\n')}\n`;
    if (SHELL_LANGS.has(lang)) blocks.push({ kind: 'commands', line: start + 1, section, text });
    else if (FILE_LANGS.has(lang)) {
      const name = FILE_NAME.exec(body[0] ?? '');
      if (name) blocks.push({ kind: 'file', line: start + 1, section, text, file: name[1] });
    }
  }
  return blocks;
}

/**
 * The project's own npm commands in a block (`npm install`, `npm test`, `npm run demo`, ...): they
 * install, test or rebuild this very checkout, so the test checks that each names a script that
 * exists instead of running it inside the test suite. Returns [npm lines, the other lines].
 */
export function splitNpmLines(text: string): { npm: string[]; rest: string } {
  const npm: string[] = [];
  const rest = text
    .split('\n')
    .filter((l) => {
      if (/^\s*npm\s/.test(l)) {
        npm.push(l.replace(/\s+#.*$/, '').trim());
        return false;
      }
      return true;
    })
    .join('\n');
  return { npm, rest };
}

/** The package.json script an npm command line runs ("install" for npm install/ci). */
export function npmScriptOf(line: string): string {
  const words = line.split(/\s+/).slice(1);
  const cmd = words[0];
  if (cmd === 'run' || cmd === 'run-script') return words[1];
  if (cmd === 'ci' || cmd === 'i') return 'install';
  return cmd;
}
