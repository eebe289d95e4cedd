import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { isZsdError } from '../core/errors';
import { temporaryDirectory, thrownBy, writeFile } from '../test-support/fixtures';
import { lockFileOf, lockTask } from './task-lock';

test('one run per task: a live holder blocks, a dead one (SIGKILL) is taken over, release removes only our own lock', async () => {
  const root = temporaryDirectory();
  const release = lockTask(root, 'cqa');
  expect(fs.readFileSync(lockFileOf(root, 'cqa'), 'utf8')).toBe(String(process.pid));
  lockTask(root, 'svamp')();
  release();
  expect(fs.existsSync(lockFileOf(root, 'cqa'))).toBe(false);

  const sleeper = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
  try {
    writeFile(lockFileOf(root, 'cqa'), String(sleeper.pid));
    const error = thrownBy(() => lockTask(root, 'cqa'));
    expect(isZsdError(error) && error.kind).toBe('usage');
    expect((error as Error).message).toMatch(new RegExp(`another zsd opro \\(pid ${sleeper.pid}\\) is running on task cqa`));
  } finally {
    sleeper.kill('SIGKILL');
    await new Promise((resolve) => sleeper.once('exit', resolve));
  }
  const takeOver = lockTask(root, 'cqa');
  expect(fs.readFileSync(lockFileOf(root, 'cqa'), 'utf8')).toBe(String(process.pid));
  writeFile(lockFileOf(root, 'cqa'), '999999999');
  takeOver();
  expect(fs.readFileSync(lockFileOf(root, 'cqa'), 'utf8')).toBe('999999999');
});
