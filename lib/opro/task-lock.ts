import * as fs from 'node:fs';
import * as path from 'node:path';
import { ZsdError } from '../core/errors';
import { writeFileAtomic } from '../core/paths';
import { oproRunsDirectory } from './run-log';

/**
 * One OPRO run per task and workspace at a time: runs add templates to the same `prompt-templates/<task>.yaml`
 * (each rewrite replaces the file), so two at once could drop each other's templates. The lock is
 * `results/opro/<task>/.lock` holding the owner's pid. A lock whose process is gone (a SIGKILL) is taken over,
 * so a killed run never blocks its own resumption.
 */

export function lockFileOf(workspaceRoot: string, task: string): string {
  return path.join(oproRunsDirectory(workspaceRoot, task), '.lock');
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes the task's lock (or throws, naming the process that holds it); returns its release. */
export function lockTask(workspaceRoot: string, task: string): () => void {
  const file = lockFileOf(workspaceRoot, task);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const mine = String(process.pid);
  try {
    fs.writeFileSync(file, mine, { flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const holder = Number(fs.readFileSync(file, 'utf8').trim());
    if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && isAlive(holder)) {
      throw new ZsdError(
        'usage',
        `another zsd opro (pid ${holder}) is running on task ${task} in this workspace; both would rewrite prompt-templates/${task}.yaml. Wait for it to finish, or delete the lock if that process is not zsd`,
        { file },
      );
    }
    writeFileAtomic(file, mine);
  }
  return () => {
    try {
      if (fs.readFileSync(file, 'utf8').trim() === mine) fs.unlinkSync(file);
    } catch {
      // already gone
    }
  };
}
