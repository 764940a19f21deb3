#!/usr/bin/env node
// The `stic` executable: registers the TypeScript loader (tsx) and runs the CLI. Kept in plain JS
// so `npm install -g` / `npx stic` work without a separate compile step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('./cli.ts');
process.exitCode = await main(process.argv.slice(2));
