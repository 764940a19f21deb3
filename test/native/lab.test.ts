// The kernel lab (stic_lab.node, test/helpers/lab.ts) is apart from the shipped addon: stic.node
// exports none of its names and holds none of its code, and the lab runs on the one stic.node the
// process loaded (so a tile set it selects is the one the engine runs).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';

import { expect } from 'chai';

import { addonPath, native } from '../../lib/native/index.ts';
import { LAB_EXPORTS, lab, labPath } from '../helpers/lab.ts';

/** Dynamic symbols of a shared object, demangled: `kind` is nm's letter (T: code, U: undefined...). */
function dynamicSymbols(file: string): { kind: string; name: string }[] {
  const out = execFileSync('nm', ['-D', '-C', file], { encoding: 'utf8', maxBuffer: 64 << 20 });
  return out.split('\n').flatMap((line) => {
    const m = /^(?:[0-9a-f]+)?\s+([A-Za-z])\s+(.+)$/.exec(line);
    return m ? [{ kind: m[1], name: m[2] }] : [];
  });
}

// Module entry points every Node-API module defines.
const ENTRY_POINTS = new Set(['napi_register_module_v1', 'node_api_module_get_api_version_v1']);

describe('the kernel lab is apart from the shipped addon', () => {
  it("stic.node exports none of the lab's names; the lab exports only those", () => {
    const shipped = Object.keys(native());
    const labNames = Object.keys(lab());
    for (const name of LAB_EXPORTS) expect(shipped, `stic.node exports ${name}`).to.not.include(name);
    expect(labNames.filter((n) => shipped.includes(n)), 'names in both').to.deep.equal([]);
    // No function of the lab is a shipped export under its own name either, but the DPO loss: the
    // shipped dpoLoss (held-out evaluation) and the lab's kernel twins run the same native code.
    const labFunctions = new Set(Object.values(lab()).flatMap((o: object) => Object.keys(o)));
    expect(shipped.filter((n) => labFunctions.has(n)), 'lab functions among the shipped exports').to.deep.equal(['dpoLoss']);
    const expected = ['kernels', 'pretrainKernels', 'trainKernels', ...(native().buildInfo().cuda ? ['cuda'] : [])].sort();
    expect(labNames.sort()).to.deep.equal(expected);
  });

  it("stic.node holds none of the lab's code: no symbol the lab defines, no name it registers", () => {
    const shipped = addonPath();
    const labFile = labPath();
    // Strong definitions of the lab's own (code, data): each must be the lab's alone. Inline and
    // template functions (W, V) are legitimately in both.
    const own = dynamicSymbols(labFile).filter((s) => /^[TDBR]$/.test(s.kind) && !ENTRY_POINTS.has(s.name)).map((s) => s.name);
    expect(own.length, 'symbols the lab defines').to.be.above(0);
    const shippedDefined = new Set(dynamicSymbols(shipped).filter((s) => /^[TDBR]$/.test(s.kind)).map((s) => s.name));
    expect(own.filter((n) => shippedDefined.has(n)), 'lab symbols defined in stic.node').to.deep.equal([]);
    // The names the lab binding files register (string literals of its code) appear in the lab only.
    const [shippedBytes, labBytes] = [readFileSync(shipped), readFileSync(labFile)];
    for (const name of ['trainKernels', 'pretrainKernels', 'gemmKernelsSupported', 'fusedHeadBackwardSaved', 'attentionForwardLse']) {
      expect(labBytes.includes(name), `${name} in ${path.basename(labFile)}`).to.equal(true);
      expect(shippedBytes.includes(name), `${name} in ${path.basename(shipped)}`).to.equal(false);
    }
  });

  it('runs on the stic.node this process loaded: its kernels are imported from it, and it is mapped once', () => {
    const undefinedInLab = new Set(dynamicSymbols(labPath()).filter((s) => s.kind === 'U').map((s) => s.name));
    for (const fn of ['stic::cpu::set_gemm_kernels(char const*)', 'stic::cpu::gemm_kernels_name()']) {
      expect(undefinedInLab.has(fn), `${fn} imported by the lab`).to.equal(true);
    }
    lab();
    if (process.platform !== 'linux') return;
    const mapped = new Set(
      readFileSync('/proc/self/maps', 'utf8')
        .split('\n')
        .map((l) => l.split(/\s+/).slice(5).join(' '))
        .filter((f) => path.basename(f) === 'stic.node'),
    );
    expect([...mapped]).to.deep.equal([addonPath()]);
  });
});
