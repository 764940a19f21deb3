// Whole-file outputs (JSON datasets, manifests, charts) are written atomically: a temp file in the
// same directory, fsync'ed, then renamed over the target, and the directory fsync'ed so the rename
// itself survives a power cut. A kill at any point leaves either the old file or the new one,
// never half of one; a reader (e.g. `stic run` checking a stage manifest) never sees a torn file.
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import path from 'node:path';

import { namingWriteErrors } from './write_error.ts';

/** Writes `data` to `file` atomically, creating the parent directory when needed. */
export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  await namingWriteErrors(file, () => writeAtomically(file, data), 'the file is unchanged');
}

async function writeAtomically(file: string, data: string | Uint8Array): Promise<void> {
  const dir = path.dirname(file);
  await mkdir(dir, { recursive: true });
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
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
