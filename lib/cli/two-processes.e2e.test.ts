import * as fs from 'node:fs';
import * as path from 'node:path';
import { readJsonLines } from '../core/jsonl';
import { startFakeOpenAI, type FakeOpenAIServer } from '../test-support/fake-openai/fake-openai-server';
import { responsesFile } from '../teacher/recorded-responses';
import { DATA_ROOT, spawnCli, temporaryDirectory, type CliResult } from '../test-support/fixtures';

// Two real `zsd query` processes on one workspace, against the loopback server, which counts what is paid: each
// prompt is paid once (a second process waits for the first's store lock, then finds its answers), and when the
// lock's holder is killed with SIGKILL the other takes the lock over and finishes, paying again at most what the
// killed process had paid for and not yet stored.

const CONCURRENCY = 4;

let server: FakeOpenAIServer;
afterEach(async () => server?.close());

const env = { OPENAI_API_KEY: '', OPENAI_BASE_URL: '' };

function queryArgs(workspace: string): string[] {
  return [
    'query',
    '--task',
    'svamp',
    '--split',
    'test',
    '--templates',
    '2',
    '--workspace',
    workspace,
    '--no-recorded',
    '--base-url',
    server.url,
    '--concurrency',
    String(CONCURRENCY),
  ];
}

function start(args: string[]): { child: ReturnType<typeof spawnCli>; done: Promise<CliResult & { signal: NodeJS.Signals | null }> } {
  const child = spawnCli(args, { env });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const done = new Promise<CliResult & { signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (status, signal) => resolve({ status, signal, stdout, stderr }));
  });
  return { child, done };
}

function storedKeys(workspace: string): string[] {
  const content = readJsonLines<{ key: string }>(responsesFile(workspace, 'svamp', 'test', 2));
  expect(content.tornTail).toBeUndefined();
  return content.lines.map(({ value }) => value.key);
}

test('two zsd query processes started together on one workspace pay each prompt once and write each line once', async () => {
  server = await startFakeOpenAI({ replay: [path.join(DATA_ROOT, 'zero-shot')], latencyMs: 15 });
  const workspace = temporaryDirectory();
  const [first, second] = [start(queryArgs(workspace)), start(queryArgs(workspace))];
  const results = await Promise.all([first.done, second.done]);
  for (const result of results) expect(result.status).toBe(0);

  const { completions, byPrompt } = server.stats();
  expect(completions).toBe(200);
  expect(Object.values(byPrompt).every((count) => count === 1)).toBe(true);
  const keys = storedKeys(workspace);
  expect(keys).toHaveLength(200);
  expect(new Set(keys).size).toBe(200);
  // One of them waited for the other and said whom for; between them, 200 fresh answers and 200 from the store.
  const waited = results.filter((result) =>
    /waiting: .*responses\.json is being written by another zsd process, pid \d+ \(zsd query --task svamp/.test(result.stderr),
  );
  expect(waited.length).toBeGreaterThanOrEqual(1);
  const spent = results.map((result) => Number(/spent: (\d+) queries/.exec(result.stderr)?.[1]));
  expect(spent[0] + spent[1]).toBe(200);
  expect(fs.existsSync(`${responsesFile(workspace, 'svamp', 'test', 2)}.lock`)).toBe(false);
}, 120_000);

test('the lock holder killed with SIGKILL: the waiting process takes the stale lock over, finishes, and pays again at most what was on the wire', async () => {
  server = await startFakeOpenAI({ replay: [path.join(DATA_ROOT, 'zero-shot')], latencyMs: 15 });
  const workspace = temporaryDirectory();
  const lockFile = `${responsesFile(workspace, 'svamp', 'test', 2)}.lock`;
  const runs = [start(queryArgs(workspace)), start(queryArgs(workspace))];
  // Kill whichever holds the lock once it has been paid for 40 answers.
  const holderPid = await new Promise<number>((resolve) => {
    const poll = setInterval(() => {
      if (server.stats().completions < 40 || !fs.existsSync(lockFile)) return;
      clearInterval(poll);
      resolve(JSON.parse(fs.readFileSync(lockFile, 'utf8')).pid as number);
    }, 2);
  });
  const killed = runs.find((run) => run.child.pid === holderPid);
  const survivor = runs.find((run) => run.child.pid !== holderPid);
  expect(killed).toBeDefined();
  killed?.child.kill('SIGKILL');
  const [killedResult, survivorResult] = await Promise.all([killed!.done, survivor!.done]);
  expect(killedResult.signal).toBe('SIGKILL');
  expect(survivorResult.status).toBe(0);

  const keys = storedKeys(workspace);
  expect(keys).toHaveLength(200);
  expect(new Set(keys).size).toBe(200);
  const { byPrompt, completions } = server.stats();
  expect(Object.keys(byPrompt)).toHaveLength(200);
  // What the kill cost: answers paid and not yet on disk, at most two per concurrency slot (one on the wire, one
  // arrived and waiting for its group's fsync while the slot's next request goes out).
  expect(completions - 200).toBeLessThanOrEqual(2 * CONCURRENCY);
  expect(fs.existsSync(lockFile)).toBe(false);
}, 120_000);
