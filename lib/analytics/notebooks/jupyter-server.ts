import type { ChildProcess } from 'node:child_process';
import * as http from 'node:http';
import * as net from 'node:net';
import { ZsdError } from '../../core/errors';

/** A Jupyter server started by a browser check (classic notebook or JupyterLab): a free port, readiness, shutdown. */

/** Stdout and stderr of a child, gathered for the error message when it fails. */
export function collectOutput(child: ChildProcess): { text: string } {
  const log = { text: '' };
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (log.text += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (log.text += chunk));
  return log;
}

/** A loopback port that was free a moment ago (the server is then started with --port-retries=0, so a race fails loudly). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address() as net.AddressInfo;
      probe.close(() => resolve(address.port));
    });
  });
}

/** Polls url until it answers 200; throws with the server's output if the server exits or the time runs out. */
export async function waitForServer(
  url: string,
  server: ChildProcess,
  serverLog: { text: string },
  timeoutMs: number,
  name = 'jupyter notebook',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (server.exitCode !== null) throw new ZsdError('internal', `${name} exited (${server.exitCode}) before serving:\n${serverLog.text}`);
    if ((await httpStatus(url)) === 200) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new ZsdError('internal', `${name} did not answer ${url.replace(/token=[^&]*/, 'token=…')} within ${timeoutMs / 1000} s:\n${serverLog.text}`);
}

function httpStatus(url: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const request = http.get(url, (response) => {
      response.resume();
      resolve(response.statusCode);
    });
    request.on('error', () => resolve(undefined));
    request.setTimeout(2000, () => request.destroy());
  });
}

/** SIGTERM lets the server shut its kernels down; SIGKILL if it has not exited after 10 s. */
export async function stopServer(server: ChildProcess): Promise<void> {
  if (server.exitCode !== null || server.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => server.once('exit', () => resolve()));
  server.kill('SIGTERM');
  const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 10_000).unref());
  if ((await Promise.race([exited, timer])) === 'timeout') {
    server.kill('SIGKILL');
    await exited;
  }
}
