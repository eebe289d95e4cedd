import * as path from 'node:path';
import { parentPort, Worker, workerData } from 'node:worker_threads';
import { startFakeOpenAI, type FakeOpenAIOptions, type FakeOpenAIStats } from '../test-support/fake-openai/fake-openai-server';

/**
 * The fake OpenAI server on its own thread, for benchmarks: a real API does its work on another machine, so the
 * server's HTTP, validation and token counting should not be charged to zsd's event loop. Stats come over HTTP
 * (GET /fake/stats), as from any server.
 */

export interface FakeServerThread {
  url: string;
  stats(): Promise<FakeOpenAIStats>;
  close(): Promise<void>;
}

export async function startFakeServerThread(options: FakeOpenAIOptions): Promise<FakeServerThread> {
  // The benchmarks run from their TypeScript sources (package.json's bench script): so does the thread.
  const register = path.join(__dirname, '..', 'test-support', 'register-typescript.js');
  const worker = new Worker(`require(${JSON.stringify(register)}); require(${JSON.stringify(__filename)});`, { eval: true, workerData: options });
  const url = await new Promise<string>((resolve, reject) => {
    worker.once('message', (message: { url: string }) => resolve(message.url));
    worker.once('error', reject);
  });
  return {
    url,
    stats: async () => (await fetch(`${url.replace(/\/v1$/, '')}/fake/stats`)).json() as Promise<FakeOpenAIStats>,
    close: async () => {
      await worker.terminate();
    },
  };
}

if (parentPort && workerData) {
  const port = parentPort;
  void startFakeOpenAI(workerData as FakeOpenAIOptions).then((server) => port.postMessage({ url: server.url }));
}
