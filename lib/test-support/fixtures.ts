import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { resolveWorkspace, type Workspace } from '../core/paths';

/** The real shared data the tests read (never copied): $ZSD_DATA or ../shared/data beside the repository. */
export const DATA_ROOT = path.resolve(process.env.ZSD_DATA ?? path.join(__dirname, '..', '..', '..', 'shared', 'data'));
export const REPO_ROOT = path.resolve(__dirname, '..', '..');

const createdDirectories: string[] = [];
// Tests leave nothing behind in the system's temporary directory: each test file removes its directories when done.
if (typeof afterAll === 'function') {
  afterAll(() => {
    for (const directory of createdDirectories.splice(0)) fs.rmSync(directory, { recursive: true, force: true });
  });
}

export function temporaryDirectory(prefix = 'zsd-test-'): string {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  createdDirectories.push(directory);
  return directory;
}

/** A fresh, empty workspace with the recorded study as its read-only layer. */
export function studyWorkspace(root = temporaryDirectory()): Workspace {
  return resolveWorkspace(DATA_ROOT, root);
}

/** Every file below a directory, relative, sorted: to prove a failed command wrote nothing. */
export function listFiles(directory: string): string[] {
  if (!fs.existsSync(directory)) return [];
  return fs
    .readdirSync(directory, { recursive: true, encoding: 'utf8' })
    .filter((entry) => fs.statSync(path.join(directory, entry)).isFile())
    .sort();
}

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built `zsd` command (lib/cli/zsd.js over dist/) as a user would. */
export function runCli(args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): CliResult {
  const result = spawnSync(process.execPath, [path.join(REPO_ROOT, 'lib', 'cli', 'zsd.js'), ...args], {
    cwd: options.cwd ?? REPO_ROOT,
    env: { ...process.env, ZSD_DATA: DATA_ROOT, ...options.env },
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** The built `zsd` as a child process, for tests that need the event loop meanwhile (an in-process fake server) or kill it. */
export function spawnCli(args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): ChildProcess {
  return spawn(process.execPath, [path.join(REPO_ROOT, 'lib', 'cli', 'zsd.js'), ...args], {
    cwd: options.cwd ?? REPO_ROOT,
    env: { ...process.env, ZSD_DATA: DATA_ROOT, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Runs `zsd` without blocking the test's event loop; resolves when it exits. */
export function runCliAsync(args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  const child = spawnCli(args, options);
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

export function writeFile(file: string, content: string): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content);
  return file;
}

/** The error a call throws (fails the test when it does not throw), to assert on its fields. */
export function thrownBy(action: () => unknown): unknown {
  try {
    action();
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to throw');
}
