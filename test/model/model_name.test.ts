// base_model_name_or_path (issue 19): the hub id when the folder shows one, else the folder's name;
// never an absolute local path.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { expect } from 'chai';

import { baseModelName } from '../../lib/model/model_name.ts';

describe('the base model name an adapter records', () => {
  let dir: string;
  before(() => (dir = mkdtempSync(path.join(tmpdir(), 'stic-name-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  const folder = (rel: string, config?: unknown) => {
    const d = path.join(dir, rel);
    mkdirSync(d, { recursive: true });
    if (config !== undefined) writeFileSync(path.join(d, 'config.json'), JSON.stringify(config));
    return d;
  };

  it('a Hugging Face cache snapshot gives its hub id', () => {
    const d = folder('hub/models--llava-hf--llava-1.5-7b-hf/snapshots/8c85e9a4d626b7b908448be32c1ba5ad79b95e76', {});
    expect(baseModelName(d)).to.equal('llava-hf/llava-1.5-7b-hf');
    expect(baseModelName(`${d}/`)).to.equal('llava-hf/llava-1.5-7b-hf');
  });

  it('a top-level _name_or_path that is a hub id is used; a local one is not', () => {
    expect(baseModelName(folder('a/my-llava', { _name_or_path: 'liuhaotian/llava-v1.5-7b' }))).to.equal('liuhaotian/llava-v1.5-7b');
    expect(baseModelName(folder('b/my-llava', { _name_or_path: './checkpoints/vicuna-7b-v1-5' }))).to.equal('my-llava');
    expect(baseModelName(folder('c/other', { _name_or_path: '/home/me/llava' }))).to.equal('other');
  });

  it('otherwise the folder name, never an absolute path (also without a readable config)', () => {
    const d = folder('d/toy-llava');
    expect(baseModelName(d)).to.equal('toy-llava');
    expect(path.isAbsolute(baseModelName(d))).to.equal(false);
  });
});
