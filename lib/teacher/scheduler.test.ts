import * as fs from 'node:fs';
import * as path from 'node:path';
import { resolveWorkspace } from '../core/paths';
import { readJsonLines } from '../core/jsonl';
import { loadSplit } from '../data/datasets';
import { getTask } from '../data/tasks';
import { getTemplate, loadTemplates } from '../prompts/templates';
import { DATA_ROOT, studyWorkspace, temporaryDirectory } from '../test-support/fixtures';
import { TeacherClient } from './client';
import { startFakeOpenAI, type FakeOpenAIServer } from '../test-support/fake-openai/fake-openai-server';
import { buildQueryJobs, StoreRegistry } from './query-jobs';
import { runQueries, type WaitEvent } from './scheduler';
import { tryLock } from '../core/file-lock';

const price = { prompt: 0.0015, completion: 0.002 };
const template = getTemplate(loadTemplates(studyWorkspace(), 'svamp'), 1);
const rows = loadSplit(getTask('svamp'), 'test', [DATA_ROOT]).rows;
const teacher = { model: 'gpt-3.5-turbo', endpoint: 'chat' as const, parameters: {} };

let server: FakeOpenAIServer;
afterEach(async () => server?.close());

function freshWorkspace() {
  // No recorded layer: every answer must come from the (fake) API and be stored here.
  return resolveWorkspace(DATA_ROOT, temporaryDirectory(), { recordedResponses: false });
}

test('under injected faults every row is answered, each distinct prompt paid once, and a re-run is all cache', async () => {
  server = await startFakeOpenAI({
    replay: [path.join(DATA_ROOT, 'zero-shot')],
    faults: 'rate-limit:0.08,server-error:0.08,unavailable:0.04,reset:0.04,malformed:0.04,empty:0.04,hang:0.02,seed:3',
    hangMs: 200,
  });
  const workspace = freshWorkspace();
  const client = new TeacherClient({ baseURL: server.url, apiKey: 'test', timeoutMs: 5000 });
  const jobs = buildQueryJobs('svamp', 'test', template, rows, teacher, new StoreRegistry(workspace));
  const first = await runQueries(jobs, client, { concurrency: 16, price, baseDelayMs: 5, maxDelayMs: 50, maxAttempts: 30 });
  expect(first.progress).toMatchObject({ total: 200, fresh: 200, failed: 0, skipped: 0 });
  expect(first.progress.retries).toBeGreaterThan(10);
  const stats = server.stats();
  expect(Object.keys(stats.byPrompt)).toHaveLength(200);
  expect(Object.values(stats.byPrompt).every((count) => count === 1)).toBe(true);

  const file = jobs[0].store.path;
  const content = readJsonLines(file);
  expect(content.tornTail).toBeUndefined();
  expect(content.lines).toHaveLength(200);
  // Recorded answers come back verbatim: the study's responses for these prompts.
  const recorded = new Map(
    fs
      .readFileSync(path.join(DATA_ROOT, 'zero-shot', 'query-results', 'svamp', 'test', '1', 'responses.json'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => {
        const value = JSON.parse(line);
        return [value.idx as number, value.response as string];
      }),
  );
  for (const { value } of content.lines as { value: { idx: number; response: string; key: string; usage: { prompt_tokens: number } } }[]) {
    expect(value.response).toBe(recorded.get(value.idx));
    expect(value.key).toMatch(/^[0-9a-f]{64}$/);
    expect(value.usage.prompt_tokens).toBeGreaterThan(10);
  }

  server.resetStats();
  const again = await runQueries(buildQueryJobs('svamp', 'test', template, rows, teacher, new StoreRegistry(workspace)), client, { concurrency: 16, price });
  expect(again.progress).toMatchObject({ cached: 200, fresh: 0 });
  expect(server.stats().completions).toBe(0);
});

test('recorded study responses are cache hits: nothing is sent', async () => {
  server = await startFakeOpenAI({ replay: [] });
  const client = new TeacherClient({ baseURL: server.url, apiKey: 'test', timeoutMs: 5000 });
  const jobs = buildQueryJobs('svamp', 'test', template, rows, teacher, new StoreRegistry(studyWorkspace()));
  const run = await runQueries(jobs, client, { concurrency: 8, price });
  expect(run.progress).toMatchObject({ cached: 200, fresh: 0 });
  expect(server.stats().requests).toBe(0);
});

test('a quota error stops the run and says why; the budget stops before it is passed', async () => {
  server = await startFakeOpenAI({ replay: [path.join(DATA_ROOT, 'zero-shot')], faults: 'quota:1' });
  const client = new TeacherClient({ baseURL: server.url, apiKey: 'test', timeoutMs: 5000 });
  const quota = await runQueries(buildQueryJobs('svamp', 'test', template, rows.slice(0, 20), teacher, new StoreRegistry(freshWorkspace())), client, {
    concurrency: 2,
    price,
  });
  expect(quota.stoppedBecause).toMatch(/out of quota/);
  expect(quota.progress.fresh).toBe(0);
  expect(quota.progress.skipped).toBeGreaterThan(10);
  await server.close();

  server = await startFakeOpenAI({ replay: [path.join(DATA_ROOT, 'zero-shot')] });
  const budgetClient = new TeacherClient({ baseURL: server.url, apiKey: 'test', timeoutMs: 500 });
  const budget = await runQueries(buildQueryJobs('svamp', 'test', template, rows, teacher, new StoreRegistry(freshWorkspace())), budgetClient, {
    concurrency: 4,
    price,
    maxCostUsd: 0.002,
    estimateCostUsd: () => 0.0003,
  });
  expect(budget.stoppedBecause).toMatch(/budget/);
  expect(budget.progress.costUsd).toBeLessThanOrEqual(0.002);
  expect(budget.progress.fresh).toBeGreaterThan(0);
});

test('changing the template text, the model or the temperature changes the key', () => {
  const store = new StoreRegistry(freshWorkspace());
  const base = buildQueryJobs('svamp', 'test', template, rows.slice(0, 1), teacher, store)[0].key;
  const edited = buildQueryJobs('svamp', 'test', { ...template, userMessage: `${template.userMessage} ` }, rows.slice(0, 1), teacher, store)[0].key;
  const otherModel = buildQueryJobs('svamp', 'test', template, rows.slice(0, 1), { ...teacher, model: 'gpt-4o-mini' }, store)[0].key;
  const warmer = buildQueryJobs('svamp', 'test', template, rows.slice(0, 1), { ...teacher, parameters: { temperature: 0.7 } }, store)[0].key;
  expect(new Set([base, edited, otherModel, warmer]).size).toBe(4);
  expect(buildQueryJobs('svamp', 'test', template, rows.slice(0, 1), teacher, store)[0].key).toBe(base);
});

test('a job counts as done only once its answer is on disk, though its slot is reused while the fsync runs', async () => {
  const workspace = freshWorkspace();
  const jobs = buildQueryJobs('svamp', 'test', template, rows.slice(0, 40), teacher, new StoreRegistry(workspace));
  const instant = { complete: async () => ({ text: 'The answer is 4.', usage: { prompt_tokens: 10, completion_tokens: 5 }, model: teacher.model }) };
  const onDisk = () => (fs.existsSync(jobs[0].store.path) ? fs.readFileSync(jobs[0].store.path, 'utf8').split('\n').length - 1 : 0);
  const behind: number[] = [];
  const run = await runQueries(jobs, instant, { concurrency: 4, price, onProgress: (progress) => behind.push(progress.fresh - onDisk()) });
  expect(run.progress.fresh).toBe(40);
  expect(Math.max(...behind)).toBeLessThanOrEqual(0);
  expect(onDisk()).toBe(40);
});

test('a failed write stops the run with its error and is not retried as a request (that would pay again)', async () => {
  const workspace = freshWorkspace();
  const jobs = buildQueryJobs('svamp', 'test', template, rows.slice(0, 6), teacher, new StoreRegistry(workspace));
  let requests = 0;
  const client = { complete: async () => (requests++, { text: 'The answer is 4.', usage: { prompt_tokens: 10, completion_tokens: 5 }, model: teacher.model }) };
  jest.spyOn(jobs[0].store, 'commit').mockRejectedValue(Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' }));
  await expect(runQueries(jobs, client, { concurrency: 1, price })).rejects.toThrow(/ENOSPC/);
  // The failed answer is never asked again; at most the one request already in flight when the write failed went out.
  expect(requests).toBeLessThanOrEqual(2);
});

describe('waits: Retry-After capped and reported, every wait cut short by the signal', () => {
  test('a server asking for an hour (Retry-After: 3600) is asked again after --max-retry-wait, and the wait says why', async () => {
    server = await startFakeOpenAI({
      replay: [path.join(DATA_ROOT, 'zero-shot')],
      faults: 'rate-limit:0.5,seed:2',
      rateLimitHeaders: { 'retry-after': '3600' },
    });
    const client = new TeacherClient({ baseURL: server.url, apiKey: 'test', timeoutMs: 5000 });
    const jobs = buildQueryJobs('svamp', 'test', template, rows.slice(0, 8), teacher, new StoreRegistry(freshWorkspace()));
    const slept: number[] = [];
    const waits: WaitEvent[] = [];
    const run = await runQueries(jobs, client, {
      concurrency: 2,
      price,
      maxAttempts: 20,
      maxRetryWaitMs: 2000,
      sleep: async (milliseconds) => void slept.push(milliseconds),
      onWait: (event) => waits.push(event),
    });
    expect(run.progress).toMatchObject({ fresh: 8, failed: 0 });
    expect(slept.length).toBeGreaterThan(0);
    expect(Math.max(...slept)).toBe(2000);
    expect(waits[0]).toMatchObject({ kind: 'retry', delayMs: 2000, requestedMs: 3_600_000, cappedAtMs: 2000 });
  });

  test('Ctrl-C ends a Retry-After wait at once: the run returns, nothing more is sent', async () => {
    server = await startFakeOpenAI({ replay: [path.join(DATA_ROOT, 'zero-shot')], faults: 'rate-limit:1', rateLimitHeaders: { 'retry-after': '3600' } });
    const client = new TeacherClient({ baseURL: server.url, apiKey: 'test', timeoutMs: 5000 });
    const jobs = buildQueryJobs('svamp', 'test', template, rows.slice(0, 4), teacher, new StoreRegistry(freshWorkspace()));
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 300);
    const started = Date.now();
    const run = await runQueries(jobs, client, { concurrency: 2, price, maxRetryWaitMs: 3_600_000, signal: controller.signal });
    expect(Date.now() - started).toBeLessThan(5000);
    expect(run.stoppedBecause).toBe('interrupted');
    expect(run.progress).toMatchObject({ fresh: 0, skipped: 4 });
    expect(server.stats().faults['rate-limit']).toBe(2);
  }, 15_000);
});

describe('another process holding the store', () => {
  test('a live holder: jobs wait (reported once, naming it) and Ctrl-C ends the wait; nothing is sent', async () => {
    server = await startFakeOpenAI({ replay: [path.join(DATA_ROOT, 'zero-shot')] });
    const client = new TeacherClient({ baseURL: server.url, apiKey: 'test', timeoutMs: 5000 });
    const jobs = buildQueryJobs('svamp', 'test', template, rows.slice(0, 6), teacher, new StoreRegistry(freshWorkspace()));
    const other = tryLock(jobs[0].store.path, 'zsd query --task svamp (the other process)');
    if (!other.acquired) throw new Error('expected to take the lock');
    const controller = new AbortController();
    const waits: WaitEvent[] = [];
    setTimeout(() => controller.abort(), 400);
    const run = await runQueries(jobs, client, { concurrency: 2, price, signal: controller.signal, lockPollMs: 50, onWait: (event) => waits.push(event) });
    other.lock.release();
    expect(run.progress).toMatchObject({ fresh: 0, skipped: 6 });
    expect(server.stats().requests).toBe(0);
    expect(waits).toHaveLength(1);
    expect(waits[0]).toMatchObject({
      kind: 'store-lock',
      file: jobs[0].store.path,
      holder: { pid: process.pid, command: 'zsd query --task svamp (the other process)' },
    });
  });

  test('answers the holder stored meanwhile are found when the lock is free: each prompt paid once', async () => {
    server = await startFakeOpenAI({ replay: [path.join(DATA_ROOT, 'zero-shot')] });
    const client = new TeacherClient({ baseURL: server.url, apiKey: 'test', timeoutMs: 5000 });
    const workspace = freshWorkspace();
    // Both "processes" read the (empty) store before either sends anything.
    const first = buildQueryJobs('svamp', 'test', template, rows.slice(0, 30), teacher, new StoreRegistry(workspace));
    const second = buildQueryJobs('svamp', 'test', template, rows.slice(0, 30), teacher, new StoreRegistry(workspace));
    const [a, b] = await Promise.all([
      runQueries(first, client, { concurrency: 4, price, lockPollMs: 20 }),
      runQueries(second, client, { concurrency: 4, price, lockPollMs: 20 }),
    ]);
    expect(a.progress.fresh + b.progress.fresh).toBe(30);
    expect(a.progress.cached + b.progress.cached).toBe(30);
    expect(server.stats().completions).toBe(30);
    expect(readJsonLines(first[0].store.path).lines).toHaveLength(30);
    expect(fs.existsSync(`${first[0].store.path}.lock`)).toBe(false);
  });
});

test('the completion endpoint stores the prompt it sent (system and user joined by a space), so the line and its key agree', async () => {
  server = await startFakeOpenAI({ fallback: 'echo' });
  const client = new TeacherClient({ baseURL: server.url, apiKey: 'test', timeoutMs: 5000 });
  const instruct = { model: 'gpt-3.5-turbo-instruct', endpoint: 'completion' as const, parameters: {} };
  const withSystem = { ...template, systemMessage: 'You are a careful math tutor.' };
  const jobs = buildQueryJobs('svamp', 'test', withSystem, rows.slice(0, 3), instruct, new StoreRegistry(freshWorkspace()));
  const run = await runQueries(jobs, client, { concurrency: 1, price });
  expect(run.progress.fresh).toBe(3);
  const sent = Object.keys(server.stats().byPrompt).sort();
  const stored = readJsonLines<{ complete_prompt: string }>(jobs[0].store.path)
    .lines.map(({ value }) => value.complete_prompt)
    .sort();
  expect(stored).toEqual(sent);
  expect(stored[0].startsWith('You are a careful math tutor. ')).toBe(true);
});
