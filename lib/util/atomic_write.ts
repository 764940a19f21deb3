// Whole-file outputs (JSON datasets, manifests, charts) are written atomically: a temp file in the
// same directory, fsync'ed, then renamed over the target, and the directory fsync'ed so the rename
// itself survives a power cut. A kill at any point leaves either the old file or the new one,
// never half of one; a reader (e.g. `stic run` checking a stage manifest) never sees a torn file.
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rename, unlink } from 'node:fs/promises';
import path from 'node:path';

import { isAlive } from './output_lock.ts';
import { namingWriteErrors } from './write_error.ts';

/** Writes `data` to `file` atomically, creating the parent directory when needed. */
export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  await namingWriteErrors(file, () => writeAtomically(file, data), 'the file is unchanged');
}

async function writeAtomically(file: string, data: string | Uint8Array): Promise<void> {
  const dir = path.dirname(file);
  await mkdir(dir, { recursive: true });
  await removeAbandonedTemps(file);
  const tmp = tempNameFor(file);
  const fh = await open(tmp, 'wx');
  try {
    await fh.writeFile(data);
    await fh.sync();
    await fh.close();
    await rename(tmp, file);
  } catch (err) {
    await fh.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await syncDir(dir);
}

/** The temporary name a write of `file` by this process uses: `.<name>.<pid>.<8 hex>.tmp` beside it. */
export function tempNameFor(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

/**
 * Removes the temporary files of `file` left by writers that were killed mid-write (their pid no
 * longer runs); a live writer's are kept.
 */
export async function removeAbandonedTemps(file: string): Promise<void> {
  const base = `.${path.basename(file)}.`;
  let names: string[];
  try {
    names = await readdir(path.dirname(file));
  } catch {
    return;
  }
  for (const n of names) {
    if (!n.startsWith(base) || !n.endsWith('.tmp')) continue;
    const m = /^(\d+)\.[0-9a-f]{8}\.tmp$/.exec(n.slice(base.length));
    if (m && !isAlive(Number(m[1]))) await unlink(path.join(path.dirname(file), n)).catch(() => undefined);
  }
}

/** JSON.stringify(value, null, indent) + "\n", written atomically. */
export async function writeJsonAtomic(file: string, value: unknown, indent = 2): Promise<void> {
  await writeFileAtomic(file, `${JSON.stringify(value, null, indent)}\n`);
}

/** Makes a directory entry change (create, rename, truncate-by-rename) durable. */
export async function syncDir(dir: string): Promise<void> {
  const dh = await open(dir, 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}
