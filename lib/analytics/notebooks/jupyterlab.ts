import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ZsdError } from '../../core/errors';
import { packageRoot } from '../../core/paths';
import { jupyterEnvironment } from './jupyter';
import { collectOutput, freePort, waitForServer } from './jupyter-server';

/**
 * JupyterLab 4 from the project-local environment `.venv-jupyter/` (install-jupyterlab.sh puts JupyterLab and plotly,
 * whose wheel carries the jupyterlab-plotly renderer, there from pip's configured index), and a JupyterLab server on
 * loopback with a token, as `npm run jupyter` and the browser check start it.
 */

export function installScript(): string {
  return path.join(packageRoot(), 'lib', 'analytics', 'notebooks', 'install-jupyterlab.sh');
}

export interface InstalledJupyterLab {
  /** The environment's `jupyter` executable. */
  jupyter: string;
  seconds: number;
}

/**
 * Installs JupyterLab into .venv-jupyter/ unless it is there (idempotent; about 45 s to 90 s from a local index on 2
 * cores). Its progress lines go to log; a failure throws with the installer's message, which names what is missing.
 */
export function ensureJupyterLab(options: { log?: (line: string) => void; env?: NodeJS.ProcessEnv } = {}): Promise<InstalledJupyterLab> {
  const started = Date.now();
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const child = spawn('sh', [installScript()], { env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    let pending = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) log(line);
    });
    child.on('error', (error) => reject(new ZsdError('not-found', `cannot run ${installScript()} with sh: ${error.message}`)));
    child.on('close', (status) => {
      if (pending) log(pending);
      const jupyter = stdout.trim().split('\n').pop() ?? '';
      if (status !== 0 || !fs.existsSync(jupyter)) {
        reject(
          new ZsdError('not-found', `JupyterLab is not installed and could not be (install-jupyterlab.sh exit ${status}): ${stderr.trim() || 'no message'}`),
        );
        return;
      }
      resolve({ jupyter, seconds: (Date.now() - started) / 1000 });
    });
  });
}

export interface JupyterLabServer {
  process: ChildProcess;
  /** http://127.0.0.1:PORT */
  base: string;
  token: string;
  log: { text: string };
}

export interface JupyterLabServerOptions {
  jupyter: string;
  /** The folder JupyterLab serves (its file browser's root). */
  rootDirectory: string;
  token: string;
  /** Jupyter's config, data and runtime directories go here, so the user's settings and extensions stay out. */
  scratch: string;
  /** User settings to write before the start, by plugin id (e.g. `@jupyterlab/notebook-extension:tracker`). */
  settings?: Record<string, Record<string, unknown>>;
  timeoutMs?: number;
}

/** Starts `jupyter lab` on a free loopback port with the zsd kernel on JUPYTER_PATH and waits until it answers. */
export async function startJupyterLab(options: JupyterLabServerOptions): Promise<JupyterLabServer> {
  const configDirectory = path.join(options.scratch, 'jupyter-config');
  for (const [plugin, values] of Object.entries(options.settings ?? {})) {
    const [packageName, pluginName] = plugin.split(':');
    if (!packageName || !pluginName) throw new ZsdError('usage', `JupyterLab setting "${plugin}" is not of the form @scope/package:plugin`);
    const file = path.join(configDirectory, 'lab', 'user-settings', packageName, `${pluginName}.jupyterlab-settings`);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, `${JSON.stringify(values, null, 2)}\n`);
  }
  const env = jupyterEnvironment({
    JUPYTER_CONFIG_DIR: configDirectory,
    JUPYTER_DATA_DIR: path.join(options.scratch, 'jupyter-data'),
    JUPYTER_RUNTIME_DIR: path.join(options.scratch, 'jupyter-runtime'),
  });
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const server = spawn(
    options.jupyter,
    [
      'lab',
      '--no-browser',
      '--ip=127.0.0.1',
      `--port=${port}`,
      '--port-retries=0',
      `--ServerApp.root_dir=${options.rootDirectory}`,
      `--IdentityProvider.token=${options.token}`,
      // Nothing reaches for the network: no update check, no news, no extension manager listing.
      '--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate',
      '--LabApp.extension_manager=readonly',
      ...(process.getuid?.() === 0 ? ['--allow-root'] : []),
    ],
    { env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const log = collectOutput(server);
  await waitForServer(`${base}/api/status?token=${options.token}`, server, log, options.timeoutMs ?? 60_000, 'jupyter lab');
  return { process: server, base, token: options.token, log };
}
