import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { temporaryDirectory } from '../test-support/fixtures';
import { describeHolder, isAlive, lockFileOf, tryLock, type LockHolder } from './file-lock';
import { clearSecrets, registerSecret } from './secrets';

/** The pid of a process that has exited (as after a SIGKILL). */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(child.stdout);
}

function writeRecord(target: string, holder: Partial<LockHolder>): void {
  const record: LockHolder = { pid: 1, host: os.hostname(), command: 'zsd query', started_at: '2026-01-01T00:00:00.000Z', ...holder };
  fs.writeFileSync(lockFileOf(target), `${JSON.stringify(record)}\n`);
}

test('a lock is taken once: a second taker learns who holds it; released, it can be taken again', () => {
  const target = path.join(temporaryDirectory(), 'responses.json');
  const first = tryLock(target, 'zsd query --task svamp');
  expect(first.acquired).toBe(true);
  const second = tryLock(target, 'zsd generate');
  expect(second).toMatchObject({ acquired: false, holder: { pid: process.pid, command: 'zsd query --task svamp' } });
  if (second.acquired || !first.acquired) throw new Error('unreachable');
  expect(describeHolder(second.holder)).toMatch(new RegExp(`^pid ${process.pid} \\(zsd query --task svamp, since \\d{4}-`));
  first.lock.release();
  expect(fs.existsSync(lockFileOf(target))).toBe(false);
  const third = tryLock(target);
  expect(third.acquired).toBe(true);
  if (third.acquired) third.lock.release();
});

test('the lock of a process killed with SIGKILL (a pid that no longer runs) is taken over', () => {
  const target = path.join(temporaryDirectory(), 'responses.json');
  const pid = deadPid();
  writeRecord(target, { pid });
  expect(isAlive({ pid, host: os.hostname(), command: '', started_at: '' })).toBe(false);
  const attempt = tryLock(target);
  expect(attempt.acquired).toBe(true);
  expect(JSON.parse(fs.readFileSync(lockFileOf(target), 'utf8')).pid).toBe(process.pid);
  if (attempt.acquired) attempt.lock.release();
});

test('a reused pid (alive, but started at another time than the holder) is not the holder', () => {
  const target = path.join(temporaryDirectory(), 'responses.json');
  writeRecord(target, { pid: process.pid, process_start: '1' });
  const attempt = tryLock(target);
  // On Linux the start time tells; elsewhere a live pid counts as the holder.
  expect(attempt.acquired).toBe(fs.existsSync('/proc/self/stat'));
  if (attempt.acquired) attempt.lock.release();
});

test("a holder on another host is never presumed dead; release never removes another holder's lock", () => {
  const target = path.join(temporaryDirectory(), 'responses.json');
  writeRecord(target, { pid: deadPid(), host: 'another-host' });
  expect(tryLock(target).acquired).toBe(false);
  fs.rmSync(lockFileOf(target));
  const ours = tryLock(target);
  if (!ours.acquired) throw new Error('expected to take the lock');
  writeRecord(target, { pid: 4242, host: 'another-host' });
  ours.lock.release();
  expect(fs.existsSync(lockFileOf(target))).toBe(true);
});

test('the command line in a lock record never holds a registered secret', () => {
  registerSecret('sk-secret-in-argv-1234');
  const target = path.join(temporaryDirectory(), 'responses.json');
  const attempt = tryLock(target, 'zsd query --api-key sk-secret-in-argv-1234');
  expect(fs.readFileSync(lockFileOf(target), 'utf8')).toContain('zsd query --api-key [redacted]');
  if (attempt.acquired) attempt.lock.release();
  clearSecrets();
});
