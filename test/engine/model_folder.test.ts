// A model folder without config.json, or a --model that does not exist, is said first (issue 20):
// it used to surface as "tokenizer.json: ... the file does not exist", pointing at the wrong file.
import { expect } from 'chai';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { runCli } from '../stic/cli_helpers.ts';

describe('a --model that is not a model folder', () => {
  let dir: string;
  before(() => (dir = mkdtempSync(path.join(tmpdir(), 'stic-modeldir-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('names the folder and says what it lacks, before any tokenizer or weight file', async () => {
    const images = path.join(dir, 'images');
    mkdirSync(images);
    for (const n of ['a.png', 'b.png', 'tokenizer.json']) writeFileSync(path.join(images, n), '');
    const missing = path.join(dir, 'nowhere');
    const file = path.join(images, 'a.png');
    for (const [model, problem] of [
      [images, 'expected a model folder with a config.json (Hugging Face layout) but there is none: it holds a.png, b.png, tokenizer.json'],
      [missing, 'expected a model folder (config.json, *.safetensors, tokenizer.json) but it does not exist'],
      [file, 'expected a model folder (config.json, *.safetensors, tokenizer.json) but it is a file'],
    ]) {
      const r = await runCli(['generate', '--model', model, '--prompt', 'hi']);
      expect(r.code).to.equal(1);
      expect(r.stderr).to.equal(`stic: ${model}: ${problem}\n`);
    }
  });
});
