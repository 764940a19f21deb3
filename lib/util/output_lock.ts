// One writer per output folder. Two processes appending to the same stage output, or one marking the
// other's half-written stage stale, lose data; so every command that writes takes an exclusive lock
// on the folder its outputs live in: `<folder>/.stic.lock`, holding the pid, host and command of the
// holder. The file appears whole or not at all (written under a temporary name, then hard-linked
// into place, which fails when a lock is already there). It is removed when the command ends, on
// success, error, SIGINT, SIGTERM or SIGHUP; a lock left by a process that was killed outright
// (SIGKILL, a power cut) names a pid that no longer runs on this host and is taken over with a
// message. A lock held by a live process, or by one on another host (whose liveness this host
// cannot see), stops the second command at once, naming the holder.
import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';

export const LOCK_FILE = '.stic.lock';

/** What a lock file holds. */
export interface LockHolder {
  pid: number;
  host: string;
  command: string;
  since: string;
}

/** A held lock; release() is idempotent. */
export interface OutputLock {
  file: string;
  release(): void;
}

const held = new Map<string, number>(); // lock file -> how many holders in this process
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * Takes the lock of `folder` (created when absent) for this process, or throws naming the holder.
 * `log` receives the message about a stale lock taken over. Nested takes of the same folder by
 * this process (stic run calling a stage) share the lock.
 */
export function lockOutputFolder(folder: string, log: (text: string) => void = (t) => process.stderr.write(t)): OutputLock {
  const file = path.join(path.resolve(folder), LOCK_FILE);
  const count = held.get(file);
  if (count !== undefined) {
    held.set(file, count + 1);
    return releaser(file);
  }
  mkdirSync(path.dirname(file), { recursive: true });
  const me: LockHolder = { pid: process.pid, host: hostname(), command: commandLine(), since: new Date().toISOString() };
  // Registered (and the handlers installed) before the file exists, so a signal that arrives just
  // after it is created still removes it; removeIfOurs never touches another process's lock.
  held.set(file, 1);
  if (held.size === 1) installHandlers();
  try {
    acquire(file, me, log);
  } catch (err) {
    held.delete(file);
    if (held.size === 0) removeHandlers();
    throw err;
  }
  return releaser(file);
}

function acquire(file: string, me: LockHolder, log: (text: string) => void): void {
  removeAbandonedLockTemps(file);
  for (let attempt = 0; ; attempt++) {
    if (tryCreate(file, me)) break;
    const holder = readHolder(file);
    if (holder === 'gone') continue; // released between our two looks
    if (holder === 'unreadable') {
      throw new Error(`${file}: the output lock of ${path.dirname(file)} cannot be read; if no stic command is writing there, delete ${file}`);
    }
    if (holder.host !== me.host || isAlive(holder.pid) || attempt > 3) {
      throw new Error(
        `${path.dirname(file)} is in use by another stic process (pid ${holder.pid} on ${holder.host}, since ${holder.since}: ${holder.command}); ` +
          `wait for it to finish, or write to another output. If that process no longer runs, delete ${file}`,
      );
    }
    // Renaming the stale file away first means that of two processes taking over at once, exactly
    // one removes it and both then race on the exclusive create.
    const aside = `${file}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
    try {
      renameSync(file, aside);
      rmSync(aside, { force: true });
      log(`note: took over the lock of ${path.dirname(file)} left by process ${holder.pid} (${holder.command}), which no longer runs\n`);
    } catch {
      // another process took it over first; try again
    }
  }
}

function releaser(file: string): OutputLock {
  let done = false;
  return {
    file,
    release() {
      if (done) return;
      done = true;
      const n = (held.get(file) ?? 1) - 1;
      if (n > 0) {
        held.set(file, n);
        return;
      }
      held.delete(file);
      removeIfOurs(file);
      if (held.size === 0) removeHandlers();
    },
  };
}

/** Runs `body` holding the locks of `folders` (duplicates are taken once), releasing them after. */
export async function withOutputLocks<T>(folders: readonly string[], body: () => Promise<T>, log?: (text: string) => void): Promise<T> {
  const locks: OutputLock[] = [];
  try {
    for (const f of [...new Set(folders.map((x) => path.resolve(x)))]) locks.push(lockOutputFolder(f, log));
    return await body();
  } finally {
    for (const l of locks.reverse()) l.release();
  }
}

// A process killed while taking a lock can leave `.stic.lock.<pid>-<hex>.tmp` or
// `.stic.lock.stale-<pid>-<hex>`; those of processes that no longer run are removed.
function removeAbandonedLockTemps(file: string): void {
  const base = `${path.basename(file)}.`;
  for (const n of readdirSync(path.dirname(file))) {
    const m = n.startsWith(base) ? /^(?:stale-)?(\d+)-[0-9a-f]{8}(?:\.tmp)?$/.exec(n.slice(base.length)) : null;
    if (m && !isAlive(Number(m[1]))) rmSync(path.join(path.dirname(file), n), { force: true });
  }
}

function tryCreate(file: string, me: LockHolder): boolean {
  const tmp = `${file}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(me)}\n`, { flag: 'wx' });
  try {
    linkSync(tmp, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new Error(`${file}: cannot create the output lock (${(err as Error).message})`);
  } finally {
    unlinkSync(tmp);
  }
}

function readHolder(file: string): LockHolder | 'gone' | 'unreadable' {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'gone' : 'unreadable';
  }
  try {
    const h = JSON.parse(text) as LockHolder;
    if (Number.isSafeInteger(h.pid) && h.pid > 0 && typeof h.host === 'string') return { ...h, command: String(h.command ?? '?'), since: String(h.since ?? '?') };
  } catch {
    // fall through
  }
  return 'unreadable';
}

/** Whether a process with this pid runs on this host (EPERM: it runs, as another user). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

// Only our own lock is removed: a lock another process took over after ours was (wrongly) judged
// stale is theirs.
function removeIfOurs(file: string): void {
  const h = readHolder(file);
  if (typeof h === 'object' && h.pid === process.pid && h.host === hostname()) rmSync(file, { force: true });
}

function commandLine(): string {
  const args = process.argv.slice(2).join(' ');
  const s = `stic ${args}`.trim();
  return s.length > 120 ? `${s.slice(0, 117)}...` : s;
}

// Exit and signal handlers exist only while this process holds a lock, so an in-process caller
// (a test, a library user) keeps Node's default behaviour otherwise.
function releaseAll(): void {
  for (const file of held.keys()) removeIfOurs(file);
  held.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  // Every output is append-only or written atomically: what is on disk is whole and resumable.
  if (signal !== 'SIGHUP') process.stderr.write(`\nstic: stopped by ${signal === 'SIGINT' ? 'Ctrl-C' : signal}; what was written so far is kept: run the same command again to resume\n`);
  releaseAll();
  removeHandlers();
  // Ending by the same signal keeps the exit status a shell or a supervisor expects (130 for ^C).
  process.kill(process.pid, signal);
}

function installHandlers(): void {
  process.on('exit', releaseAll);
  for (const s of SIGNALS) process.on(s, onSignal);
}

function removeHandlers(): void {
  process.off('exit', releaseAll);
  for (const s of SIGNALS) process.off(s, onSignal);
}
