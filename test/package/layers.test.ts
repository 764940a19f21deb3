// The library's layers import only downward (bin -> demo -> stic/pretrain -> eval -> toy -> train -> engine ->
// generate -> model/data -> native/util): every relative import of every lib/ file is read and checked
// against the folders its own folder may use. lib/generate (batching, sampling, the generation driver)
// sits under lib/engine, whose model object drives it; the toy world (lib/toy) sits under the
// evaluation (lib/eval scores toy models), and the toy pretraining run (lib/pretrain), which evaluates
// as it trains, above both; lib/demo (`stic demo`) sits above lib/stic.
// Inside lib/stic, the stages (lib/stic/stages/) sit under the commands and the pipeline: of lib/stic's
// own files they read only the option tables, the output settings and the engine types.
import { expect } from 'chai';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const lib = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'lib');

const BELOW: Record<string, string[]> = {
  util: [],
  native: ['util'],
  model: ['util', 'native'],
  data: ['util', 'native', 'model'],
  dist: ['util', 'native'],
  generate: ['util', 'native', 'model', 'data'],
  engine: ['util', 'native', 'model', 'data', 'generate'],
  train: ['util', 'native', 'model', 'data', 'dist', 'engine', 'generate'],
  toy: ['util', 'native', 'model', 'data', 'dist', 'engine', 'generate', 'train'],
  eval: ['util', 'native', 'model', 'data', 'dist', 'engine', 'generate', 'train', 'toy'],
  stic: ['util', 'native', 'model', 'data', 'dist', 'engine', 'generate', 'train', 'eval'],
  pretrain: ['util', 'native', 'model', 'data', 'dist', 'engine', 'generate', 'train', 'toy', 'eval'],
  demo: ['util', 'native', 'model', 'data', 'dist', 'engine', 'generate', 'train', 'toy', 'eval', 'stic'],
};

/** The lib/ files of lib/stic outside stages/ that lib/stic/stages may import. */
const STAGES_READ = ['engine_api.ts', 'options.ts', 'output_settings.ts', 'stage_options.ts', 'train_options.ts'].map((f) => `stic/${f}`);

/** The lib/ folders each file of `folder` imports from (relative imports only), with the file. */
function importsOf(folder: string): { file: string; target: string; path: string }[] {
  const out: { file: string; target: string; path: string }[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts')) {
        for (const m of readFileSync(p, 'utf8').matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)) {
          const rel = path.relative(lib, path.resolve(path.dirname(p), m[1]));
          if (!rel.startsWith('..')) out.push({ file: path.relative(lib, p), target: rel.split(path.sep)[0], path: rel.split(path.sep).join('/') });
        }
      }
    }
  };
  walk(path.join(lib, folder));
  return out;
}

describe('layers of lib/', () => {
  for (const [folder, allowed] of Object.entries(BELOW)) {
    it(`lib/${folder} imports only from ${allowed.length ? allowed.map((f) => `lib/${f}`).join(', ') : 'itself'}`, () => {
      const wrong = importsOf(folder).filter((i) => i.target !== folder && !allowed.includes(i.target));
      expect(wrong.map((i) => `${i.file} -> lib/${i.target}`)).to.deep.equal([]);
    });
  }

  it('lib/stic/stages imports of lib/stic only its own files and the option tables, output settings and engine types', () => {
    const stic = importsOf(path.join('stic', 'stages')).filter((i) => i.target === 'stic' && !i.path.startsWith('stic/stages/'));
    expect(stic.length).to.be.greaterThan(0);
    expect(stic.filter((i) => !STAGES_READ.includes(i.path)).map((i) => `${i.file} -> lib/${i.path}`)).to.deep.equal([]);
  });
});
