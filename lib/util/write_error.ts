// A failed write (disk full, I/O error, file too large, read-only file system) ends the stage with
// the file and the reason in words. Node's own messages for a write on an open file name neither
// ("ENOSPC: no space left on device, write"), so every writer wraps its writes with this.

/** The reason a file-system operation failed, in words, with its code. */
export function writeReason(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  switch (e?.code) {
    case 'ENOSPC':
      return 'no space left on the device (ENOSPC)';
    case 'EDQUOT':
      return 'the disk quota is used up (EDQUOT)';
    case 'EFBIG':
      return 'the file is larger than this process may write (EFBIG)';
    case 'EIO':
      return 'an input/output error from the device (EIO)';
    case 'EROFS':
      return 'the file system is read-only (EROFS)';
    case 'EACCES':
    case 'EPERM':
      return `permission denied (${e.code})`;
    default:
      return e?.code ? `${e.code}: ${e.message}` : String(e?.message ?? err);
  }
}

/** An Error for a write to `file` that failed with `err`; `kept` says what stays valid. */
export class WriteError extends Error {
  readonly code: string | undefined;
  constructor(
    readonly file: string,
    err: unknown,
    kept = '',
  ) {
    super(`${file}: cannot write (${writeReason(err)})${kept ? `; ${kept}` : ''}`);
    this.name = 'WriteError';
    this.code = (err as NodeJS.ErrnoException)?.code;
  }
}

/** Runs `op`; a file-system error becomes a WriteError naming `file` (other errors pass through). */
export async function namingWriteErrors<T>(file: string, op: () => Promise<T>, kept = ''): Promise<T> {
  try {
    return await op();
  } catch (err) {
    if (err instanceof WriteError || typeof (err as NodeJS.ErrnoException)?.code !== 'string') throw err;
    throw new WriteError(file, err, kept);
  }
}
