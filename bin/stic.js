#!/usr/bin/env node
// The `stic` executable, in plain JS. `stic --version` reads package.json and loads nothing else.
// An installed package (npm install, npx stic, npm pack) runs the compiled JavaScript in dist/
// (built by `npm run build:js`, which `npm pack`/`npm publish` run first): no transpiling at start-up.
// A git checkout (a linked `stic` included) runs the TypeScript sources through tsx, so what you edit
// is what runs; `STIC_COMPILED=1` makes it use dist/ too.
import { existsSync, readFileSync } from 'node:fs';

const root = new URL('../', import.meta.url);
const argv = process.argv.slice(2);

if (argv.length === 1 && argv[0] === '--version') {
  process.stdout.write(`${JSON.parse(readFileSync(new URL('package.json', root), 'utf8')).version}\n`);
} else {
  const compiled = new URL('dist/bin/cli.js', root);
  const checkout = existsSync(new URL('.git', root)) && process.env.STIC_COMPILED !== '1';
  let main;
  if (!checkout && existsSync(compiled)) {
    ({ main } = await import(compiled.href));
  } else {
    const { register } = await import('tsx/esm/api');
    register();
    ({ main } = await import('./cli.ts'));
  }
  process.exitCode = await main(argv);
}
