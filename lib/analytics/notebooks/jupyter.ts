import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ZsdError } from '../../core/errors';
import { packageRoot } from '../../core/paths';

/**
 * The Jupyter side of the notebooks, from TypeScript: Debian's Jupyter on /usr/bin/python3 (not a pyenv python on
 * PATH), the kernelspec kept in the repo, and the Python runner (run_notebooks.py) that `npm run notebooks` calls.
 */

export const SYSTEM_PYTHON = '/usr/bin/python3';
export const SYSTEM_JUPYTER = '/usr/bin/jupyter';
export const JUPYTER_APT_PACKAGES = 'jupyter-nbconvert python3-nbclient python3-ipykernel jupyter-client jupyter-notebook';

export function runnerScript(): string {
  return path.join(packageRoot(), 'lib', 'analytics', 'notebooks', 'run_notebooks.py');
}

/** notebooks/.jupyter: put on JUPYTER_PATH so Jupyter finds the zsd kernel without a global install. */
export function kernelsDirectory(): string {
  return path.join(packageRoot(), 'notebooks', '.jupyter');
}

/** The environment with the repo's kernelspec first on JUPYTER_PATH. */
export function jupyterEnvironment(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const base = { ...process.env, ...extra };
  return { ...base, JUPYTER_PATH: [kernelsDirectory(), base.JUPYTER_PATH].filter(Boolean).join(path.delimiter) };
}

/** Throws a ZsdError that says what to install when Debian's Jupyter (nbclient, the classic notebook) is missing. */
export function assertJupyterInstalled(options: { notebookServer?: boolean } = {}): void {
  const hint = `install it with \`apt-get install -y --no-install-recommends ${JUPYTER_APT_PACKAGES}\` (\`npm run test:prepare\` does)`;
  if (!fs.existsSync(SYSTEM_PYTHON)) throw new ZsdError('not-found', `${SYSTEM_PYTHON} not found: Jupyter runs on Debian's python; ${hint}`);
  const modules = options.notebookServer ? 'nbclient, nbformat, jupyter_client, notebook' : 'nbclient, nbformat, jupyter_client';
  const probe = spawnSync(SYSTEM_PYTHON, ['-c', `import ${modules}`], { encoding: 'utf8' });
  if (probe.status !== 0) {
    throw new ZsdError('not-found', `${SYSTEM_PYTHON} cannot import ${modules} (${(probe.stderr || '').trim().split('\n').pop()}): ${hint}`);
  }
}

export interface ProcessResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs run_notebooks.py with the given arguments, without blocking the event loop. */
export function runNotebooksProcess(args: readonly string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<ProcessResult> {
  const child = spawn(SYSTEM_PYTHON, [runnerScript(), ...args], {
    cwd: options.cwd ?? packageRoot(),
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}
