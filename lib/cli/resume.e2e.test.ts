import * as path from 'node:path';
import { readJsonLines } from '../core/jsonl';
import { mulberry32, startFakeOpenAI, type FakeOpenAIServer } from '../test-support/fake-openai/fake-openai-server';
import { responsesFile } from '../teacher/recorded-responses';
import { DATA_ROOT, runCliAsync, spawnCli, temporaryDirectory } from '../test-support/fixtures';

// The crash test of the teacher: `zsd query` under injected faults, killed with SIGKILL at random moments, resumed
// until done. What the design guarantees, and what is asserted:
// - every row ends answered, every store file parses (no torn line survives), each request is stored exactly once;
// - an answer once stored is never asked for again (a final re-run sends nothing);
// - a prompt is paid twice only when its answer was on the wire at a kill: with a synchronous API an answer the
//   server sent to a process that died before storing it is paid and lost; no client can prevent that (the
//   Batch API path can). Each concurrency slot holds at most one answer on the wire and one arrived but waiting for
//   its group's fsync, so extra payments are at most 2 x concurrency x kills.

const CONCURRENCY = 8;
const KILLED_RUNS = 8;

let server: FakeOpenAIServer;
afterAll(async () => server?.close());

test('SIGKILL at random points under faults: resumes end with every row answered once, stores intact, nothing re-asked', async () => {
  server = await startFakeOpenAI({
    replay: [path.join(DATA_ROOT, 'zero-shot')],
    latencyMs: 10,
    faults: 'server-error:0.05,unavailable:0.03,reset:0.03,malformed:0.03,empty:0.02,hang:0.02,seed:11',
    hangMs: 400,
  });
  const workspace = temporaryDirectory();
  const env = { OPENAI_API_KEY: '', OPENAI_BASE_URL: '' };
  const args = ['query', '--task', 'svamp', '--split', 'test', '--templates', '1,2', '--workspace', workspace, '--no-recorded', '--base-url', server.url];
  const flags = ['--timeout', '0.2', '--concurrency', String(CONCURRENCY), '--max-attempts', '50'];
  const random = mulberry32(2026);

  let kills = 0;
  let finishedEarly = false;
  for (let run = 0; run < KILLED_RUNS && !finishedEarly; run++) {
    const child = spawnCli([...args, ...flags], { env });
    // Killed after a random number (1..60) of new answers: random points of the work, not of start-up time.
    const target = server.stats().completions + 1 + Math.floor(random() * 60);
    const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      const poll = setInterval(() => {
        if (server.stats().completions >= target) child.kill('SIGKILL');
      }, 2);
      child.on('exit', (code, signal) => {
        clearInterval(poll);
        resolve({ code, signal });
      });
    });
    if (exit.signal === 'SIGKILL') kills++;
    else {
      expect(exit.code).toBe(0);
      finishedEarly = true;
    }
  }
  expect(kills).toBeGreaterThanOrEqual(3);
  const paidBeforeLastRun = server.stats().completions;
  expect(paidBeforeLastRun).toBeGreaterThan(0);

  const last = await runCliAsync([...args, ...flags], { env });
  expect(last.stderr).toMatch(/spent: \d+ queries/);
  expect(last.status).toBe(0);

  for (const templateId of [1, 2]) {
    const content = readJsonLines<{ idx: number; key: string }>(responsesFile(workspace, 'svamp', 'test', templateId));
    expect(content.tornTail).toBeUndefined();
    expect(content.lines).toHaveLength(200);
    expect(new Set(content.lines.map(({ value }) => value.idx)).size).toBe(200);
    expect(new Set(content.lines.map(({ value }) => value.key)).size).toBe(200);
  }
  const { byPrompt, completions } = server.stats();
  const counts = Object.values(byPrompt);
  expect(counts).toHaveLength(400);
  const extraPayments = counts.reduce((sum, count) => sum + (count - 1), 0);
  expect(extraPayments).toBeLessThanOrEqual(2 * kills * CONCURRENCY);

  // Everything is stored now: another run sends nothing.
  const again = await runCliAsync([...args, ...flags], { env });
  expect(again.status).toBe(0);
  expect(again.stderr).toContain('saved by the store: 400 answers');
  expect(server.stats().completions).toBe(completions);
}, 180_000); // ten zsd processes in a row: 50-100 s on two busy cores
