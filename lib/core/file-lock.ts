import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { redactSecrets } from './secrets';

/**
 * A lock file beside what it guards (`<target>.lock`), so that two zsd processes never write the same file at once.
 * - Taking it is atomic: the holder's record is written to a private file and hard-linked to the lock name
 *   (`link` fails when the name exists), so a reader never sees a half-written record.
 * - The record names the holder: pid, host, command line (secrets redacted) and start time, for messages.
 * - A lock whose holder died (SIGKILL, power loss) is stale: on the same host, a pid that no longer runs (or runs a
 *   process started at another time: a reused pid) is dead, and the next process takes the lock over. Breaking a
 *   stale lock happens under a second, short-lived lock (`<target>.lock.break`), so two processes that both find it
 *   stale cannot each remove the other's fresh lock. A holder on another host is never presumed dead.
 * - A process releases its locks when it exits normally or calls `process.exit` (an 'exit' hook); only SIGKILL
 *   leaves a stale lock behind, which the next taker recovers at once.
 */

export interface LockHolder {
  pid: number;
  host: string;
  command: string;
  started_at: string;
  /** Linux: the process's start time in clock ticks after boot (/proc/<pid>/stat field 22), to detect a reused pid. */
  process_start?: string;
}

export type LockAttempt = { acquired: true; lock: HeldLock } | { acquired: false; holder: LockHolder; file: string };

/** A break lock older than this was left by a process killed inside the (microseconds long) break. */
const BREAK_LOCK_STALE_MS = 10_000;

const heldLocks = new Set<HeldLock>();
let exitHookInstalled = false;

export class HeldLock {
  private released = false;

  constructor(
    readonly file: string,
    private readonly content: string,
  ) {}

  get held(): boolean {
    return !this.released;
  }

  /** Removes the lock file if it is still ours (idempotent). */
  release(): void {
    if (this.released) return;
    this.released = true;
    heldLocks.delete(this);
    try {
      if (fs.readFileSync(this.file, 'utf8') === this.content) fs.unlinkSync(this.file);
    } catch {
      // Already gone: nothing to release.
    }
  }
}

export function lockFileOf(target: string): string {
  return `${target}.lock`;
}

/** Takes the lock of `target` if no live process holds it (a dead holder's lock is taken over). Never waits. */
export function tryLock(target: string, command = thisCommand()): LockAttempt {
  const file = lockFileOf(target);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const record: LockHolder = {
    pid: process.pid,
    host: os.hostname(),
    command: redactSecrets(command),
    started_at: new Date().toISOString(),
    process_start: processStart(process.pid),
  };
  const content = `${JSON.stringify(record)}\n`;
  for (let attempt = 0; attempt < 5; attempt++) {
    const temporary = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    fs.writeFileSync(temporary, content);
    try {
      fs.linkSync(temporary, file);
      const lock = new HeldLock(file, content);
      heldLocks.add(lock);
      installExitHook();
      return { acquired: true, lock };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    } finally {
      fs.rmSync(temporary, { force: true });
    }
    const holder = readHolder(file);
    if (holder === 'gone') continue;
    if (holder !== 'unreadable' && isAlive(holder)) return { acquired: false, holder, file };
    if (!breakStaleLock(file, holder)) {
      // Another process is breaking it right now, or it could not be read: report it as held this time.
      return { acquired: false, holder: holder === 'unreadable' ? unknownHolder() : holder, file };
    }
  }
  const holder = readHolder(file);
  return { acquired: false, holder: typeof holder === 'string' ? unknownHolder() : holder, file };
}

/** "pid 123 on host (zsd query --task svamp ..., since 2026-...)": the holder, for a message. */
export function describeHolder(holder: LockHolder): string {
  return `pid ${holder.pid}${holder.host === os.hostname() ? '' : ` on ${holder.host}`} (${holder.command}, since ${holder.started_at})`;
}

/** Whether the holder still runs. Another host's process cannot be checked: it counts as alive. */
export function isAlive(holder: LockHolder): boolean {
  if (holder.host !== os.hostname()) return true;
  try {
    process.kill(holder.pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  // The pid runs; if it is a later process that reused the pid, it is not the holder.
  if (holder.process_start !== undefined) {
    const start = processStart(holder.pid);
    if (start !== undefined && start !== holder.process_start) return false;
  }
  return true;
}

/** The command line of this process, for lock records (secrets are redacted when the record is written). */
export function thisCommand(): string {
  const [script, ...args] = process.argv.slice(1);
  const name = script ? (/zsd(\.js)?$/.test(script) ? 'zsd' : path.basename(script)) : 'node';
  return [name, ...args].join(' ').slice(0, 300);
}

function readHolder(file: string): LockHolder | 'gone' | 'unreadable' {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'gone';
    throw error;
  }
  try {
    const value = JSON.parse(text) as LockHolder;
    if (typeof value.pid === 'number' && typeof value.host === 'string') return value;
  } catch {
    // fall through: not a lock record
  }
  return 'unreadable';
}

function unknownHolder(): LockHolder {
  return { pid: 0, host: '?', command: 'unknown', started_at: '?' };
}

/** Removes a stale lock under the break lock; true when the caller may try again. */
function breakStaleLock(file: string, stale: LockHolder | 'unreadable'): boolean {
  const breakFile = `${file}.break`;
  let handle: number;
  try {
    handle = fs.openSync(breakFile, 'wx');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    try {
      if (Date.now() - fs.statSync(breakFile).mtimeMs > BREAK_LOCK_STALE_MS) fs.rmSync(breakFile, { force: true });
    } catch {
      // gone meanwhile
    }
    return false;
  }
  try {
    fs.closeSync(handle);
    // Still the same dead holder's record? (Another process may have broken it and taken the lock meanwhile.)
    const current = readHolder(file);
    if (current === 'gone') return true;
    if (current === 'unreadable' || stale === 'unreadable') {
      // Records are linked whole, so an unreadable lock file is not zsd's: leave it to the user.
      return false;
    }
    if (current.pid !== stale.pid || current.started_at !== stale.started_at || current.host !== stale.host) return true;
    fs.rmSync(file, { force: true });
    return true;
  } finally {
    fs.rmSync(breakFile, { force: true });
  }
}

function processStart(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: count fields after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19];
  } catch {
    return undefined;
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const lock of [...heldLocks]) lock.release();
  });
}
