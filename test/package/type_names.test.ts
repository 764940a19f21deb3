// One type per concept: every exported type, interface, class or enum name is defined in one lib/
// file only, so a name means one thing wherever it is imported (a concept used at several layers is
// defined at the lowest of them and imported from there; two different concepts get two names).
// Exported functions and constants likewise (overloads are one definition). Re-exports
// (`export type { X } from ...`) name a definition and are not definitions. A name may be defined
// twice only when ALLOWED lists it with the reason.
import { expect } from 'chai';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const lib = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'lib');

/** Names that may be defined in more than one file, each with why. None today. */
const ALLOWED: Record<string, string> = {};

const TYPE = /^export\s+(?:declare\s+)?(?:abstract\s+)?(?:const\s+)?(?:type|interface|class|enum)\s+([A-Za-z_$][\w$]*)/gm;
const VALUE = /^export\s+(?:async\s+)?(?:function\s*\*?|const|let)\s+([A-Za-z_$][\w$]*)/gm;

/** name -> the lib/ files (relative to lib/) that define it as an export, for definitions matching `pattern`. */
function exportedDefinitions(pattern: RegExp): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts')) {
        for (const m of readFileSync(p, 'utf8').matchAll(pattern)) {
          out.set(m[1], [...(out.get(m[1]) ?? []), path.relative(lib, p).split(path.sep).join('/')]);
        }
      }
    }
  };
  walk(lib);
  return out;
}

/** The names of `defs` defined in more than one file and not ALLOWED, each with its files. */
function definedTwice(defs: Map<string, string[]>): string[] {
  return [...defs].filter(([name, files]) => new Set(files).size > 1 && !(name in ALLOWED)).map(([name, files]) => `${name}: ${files.join(', ')}`);
}

describe('exported names of lib/', () => {
  const defs = exportedDefinitions(TYPE);
  const values = exportedDefinitions(VALUE);

  it('finds the definitions it checks (interfaces, type aliases, classes)', () => {
    expect(defs.get('EngineConfig')).to.deep.equal(['model/engine_config.ts']);
    expect(defs.get('LlavaModel')).to.deep.equal(['engine/llava_model.ts']);
    expect(defs.get('FinishReason')).to.deep.equal(['generate/driver.ts']);
    expect(defs.size).to.be.greaterThan(200);
  });

  it('finds the exported functions and constants it checks', () => {
    expect(values.get('loadModel')).to.deep.equal(['engine/llava_model.ts']);
    expect(values.get('DEFAULT_SAMPLING')).to.deep.equal(['generate/sampling.ts']);
    expect(values.size).to.be.greaterThan(300);
  });

  it('defines each type name in one file, unless ALLOWED says why', () => {
    expect(definedTwice(defs)).to.deep.equal([]);
  });

  it('defines each exported function or constant name in one file, unless ALLOWED says why', () => {
    expect(definedTwice(values)).to.deep.equal([]);
  });

  it('allows only names that are still defined twice', () => {
    expect(Object.keys(ALLOWED).filter((name) => new Set(defs.get(name)).size < 2 && new Set(values.get(name)).size < 2)).to.deep.equal([]);
  });
});
