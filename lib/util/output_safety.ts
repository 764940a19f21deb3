// An output can never destroy an input. Every command names its inputs and outputs here before it
// writes anything; an output that is an input, contains one (an output folder around an input) or
// lies inside one (an output inside an input folder, whose listing or hash it would change) is
// refused with both names. Paths are compared after resolving symbolic links, so a link (or a
// "../" detour) to an input is caught too. Paths that do not exist yet are resolved through their
// nearest existing parent.
// Output files that are symbolic links are refused: appending or writing through a link would
// change the file it points at, which may be anything (atomic writes replace a link instead, see
// atomic_write.ts, and need no check).
import { lstatSync, readlinkSync, realpathSync } from 'node:fs';
import path from 'node:path';

/** A path a command reads or writes, with the flag or key that named it (for messages). */
export interface NamedPath {
  /** e.g. "--instructions" or "runs/a.yaml: describe.instructions". */
  name: string;
  path: string;
}

/** The canonical absolute form of `p`: symbolic links resolved, even when `p` does not exist yet. */
export function canonicalPath(p: string, depth = 0): string {
  const abs = path.resolve(p);
  const rest: string[] = [];
  for (let cur = abs; ; cur = path.dirname(cur)) {
    try {
      return path.join(realpathSync(cur), ...rest.reverse());
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // A dangling link resolves to where it points (it would be written through).
      if (code === 'ENOENT' && depth < 40 && isLink(cur)) return canonicalPath(path.join(path.resolve(path.dirname(cur), readLinkTarget(cur)), ...rest.reverse()), depth + 1);
      if (path.dirname(cur) === cur) return abs;
      rest.push(path.basename(cur));
    }
  }
}

function isLink(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

function readLinkTarget(p: string): string {
  return readlinkSync(p, 'utf8');
}

/** True when `inner` is `outer` or lies inside it (both canonical). */
function within(inner: string, outer: string): boolean {
  const rel = path.relative(outer, inner);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/**
 * Throws when an output is, contains or lies inside an input, naming both:
 *   "--out runs/x.json is the same file as --instructions data/x.json: choose another output path"
 */
export function assertOutputSafe(inputs: readonly (NamedPath | undefined)[], outputs: readonly (NamedPath | undefined)[]): void {
  const ins = inputs.filter((x): x is NamedPath => x !== undefined && x.path !== '').map((x) => ({ ...x, real: canonicalPath(x.path) }));
  for (const o of outputs) {
    if (o === undefined || o.path === '') continue;
    const real = canonicalPath(o.path);
    for (const i of ins) {
      let how: string | undefined;
      if (real === i.real) how = i.path === o.path ? 'is' : `is (after resolving links, ${real})`;
      else if (within(i.real, real)) how = 'contains';
      else if (within(real, i.real)) how = 'lies inside';
      if (how === undefined) continue;
      const what = how === 'contains' ? 'the input' : how === 'lies inside' ? 'the input folder' : 'the same path as the input';
      throw new Error(`${o.name} ${o.path} ${how} ${what} ${i.name} ${i.path}: an output must never overwrite or change an input; choose another output path`);
    }
  }
}

/** Throws when `file` is a symbolic link (an output that would be written through it). */
export function refuseSymlinkOutput(file: string): void {
  if (isLink(file)) {
    throw new Error(`${file}: the output is a symbolic link; stic does not write through links (it would change the file the link points at): remove the link or choose another output path`);
  }
}
