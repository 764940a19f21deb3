// lab(): stic_lab.node, the kernel-lab bindings of tests and benchmarks (./lab_contract.ts). It is
// built beside stic.node when CMake's STIC_LAB is on (scripts/build_lab.sh, which `npm test`,
// `npm run bench` and `npm run test:gpu` run first), and links against that stic.node: the lab's
// kernels are the shipped addon's own code and state (a tile set chosen with kernels.gemmKernels
// is the one the engine then runs). So stic.node is loaded first (native()), and the lab is the
// stic_lab.node beside the file it came from (STIC_ADDON_PATH included).
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

import { addonPath } from '../../lib/native/index.ts';
import type { LabBinding } from './lab_contract.ts';

export type * from './lab_contract.ts';

const require = createRequire(import.meta.url);

/** The export names of stic_lab.node; the shipped stic.node has none of them. */
export const LAB_EXPORTS = ['kernels', 'trainKernels', 'pretrainKernels', 'cuda'] as const;

/** Where the lab for the loaded stic.node is (the same folder). */
export function labPath(): string {
  return path.join(path.dirname(addonPath()), 'stic_lab.node');
}

let cached: LabBinding | undefined;

/** The kernel lab, loaded on first use; a clear error when it was not built. */
export function lab(): LabBinding {
  if (cached === undefined) {
    const file = labPath();
    if (!existsSync(file)) {
      throw new Error(
        `the kernel lab ${file} does not exist: it is built for tests and benchmarks only (CMake option STIC_LAB); ` +
          'run `bash scripts/build_lab.sh` (npm test and npm run bench run it first)',
      );
    }
    cached = require(file) as LabBinding;
  }
  return cached;
}
