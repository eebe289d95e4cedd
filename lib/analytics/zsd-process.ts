import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { ZsdError } from '../core/errors';
import { packageRoot } from '../core/paths';

/**
 * Runs the zsd CLI (`node lib/cli/zsd.js ...`, the compiled CLI: `npm run build`, which `npm ci` runs too) as a child
 * process and collects its output, for notebooks that drive the pipeline (06-distill). A child process rather than
 * the commands' run functions in the kernel, because tslab compiles every file a cell imports with TypeScript 5.0
 * and without strict checks, which lib/teacher/batch.ts (narrowing on `!attempt.ok` needs strictNullChecks) and
 * parts of lib/student do not pass; the CLI runs what the project's own `tsc` built. Asynchronous, so that a loopback
 * teacher started in the kernel keeps answering while the child runs.
 */

export interface ZsdRun {
  /** `zsd <args>` as a person would type it (arguments with spaces quoted). */
  command: string;
  /** exit status (null when killed by a signal) */
  status: number | null;
  stdout: string;
  stderr: string;
  seconds: number;
}

export interface ZsdRunOptions {
  /** working directory of the child (default: the zsd package root) */
  cwd?: string;
  /** extra environment variables */
  env?: Readonly<Record<string, string>>;
  /** reject when the exit status is not 0 (default true), with the end of stderr in the message */
  check?: boolean;
}

export function zsdCommandLine(args: readonly string[]): string {
  return ['zsd', ...args.map((arg) => (/^[A-Za-z0-9_./:=,+-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`))].join(' ');
}

export function runZsd(args: readonly string[], options: ZsdRunOptions = {}): Promise<ZsdRun> {
  const started = Date.now();
  const command = zsdCommandLine(args);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(packageRoot(), 'lib', 'cli', 'zsd.js'), ...args], {
      cwd: options.cwd ?? packageRoot(),
      env: { ...process.env, ...(options.env ?? {}) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.on('error', reject);
    child.on('close', (status) => {
      const run: ZsdRun = { command, status, stdout: Buffer.concat(stdout).toString('utf8'), stderr: Buffer.concat(stderr).toString('utf8'), seconds: (Date.now() - started) / 1000 };
      if (status !== 0 && options.check !== false) {
        reject(new ZsdError('incomplete', `${command} exited with ${status ?? 'a signal'}:\n${lastLines(run.stderr || run.stdout, 20)}`));
        return;
      }
      resolve(run);
    });
  });
}

/** The template `zsd experiment` named best (its line `best template: <id> (...)`). */
export function bestTemplateOf(experiment: Pick<ZsdRun, 'command' | 'stdout'>): number {
  const match = /^best template: (\d+)\b/m.exec(experiment.stdout);
  if (!match) throw new ZsdError('incomplete', `${experiment.command} named no best template (no "best template: <id>" line in its output)`);
  return Number(match[1]);
}

/** The last `count` non-empty lines of a text (progress lines on stderr are many). */
export function lastLines(text: string, count: number): string {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .slice(-count)
    .join('\n');
}
