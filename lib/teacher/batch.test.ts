import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { readJsonLines } from '../core/jsonl';
import { resolveWorkspace, type Workspace } from '../core/paths';
import { loadSplit } from '../data/datasets';
import { getTask } from '../data/tasks';
import { getTemplate, loadTemplates } from '../prompts/templates';
import { DATA_ROOT, listFiles, studyWorkspace, temporaryDirectory } from '../test-support/fixtures';
import { runBatchQueries, type BatchOptions, type BatchState } from './batch';
import { createOpenAI, TeacherClient } from './client';
import { startFakeOpenAI, type FakeOpenAIServer } from '../test-support/fake-openai/fake-openai-server';
import { costOf } from './prices';
import { buildQueryJobs, StoreRegistry } from './query-jobs';
import { tryLock } from '../core/file-lock';
import { requestKey } from './request-key';
import { runQueries, type QueryJob } from './scheduler';

const price = { prompt: 0.0015, completion: 0.002 };
const template = getTemplate(loadTemplates(studyWorkspace(), 'svamp'), 1);
const rows = loadSplit(getTask('svamp'), 'test', [DATA_ROOT]).rows;
const teacher = { model: 'gpt-3.5-turbo', endpoint: 'chat' as const, parameters: {} };

let server: FakeOpenAIServer;
let proxy: Proxy | undefined;
afterEach(async () => {
  await proxy?.close();
  proxy = undefined;
  await server?.close();
});

function freshWorkspace(): Workspace {
  // No recorded layer: every answer must come from the (fake) Batch API and be stored here.
  return resolveWorkspace(DATA_ROOT, temporaryDirectory(), { recordedResponses: false });
}

/** Jobs as a new process builds them: a new registry reads the stores from disk. */
function jobsFor(workspace: Workspace, count: number): QueryJob[] {
  return buildQueryJobs('svamp', 'test', template, rows.slice(0, count), teacher, new StoreRegistry(workspace));
}

function stateDirOf(workspace: Workspace): string {
  return path.join(workspace.root, 'query-results', '.batches');
}

function batchOptions(workspace: Workspace, overrides: Partial<BatchOptions> = {}, url = server.url): BatchOptions {
  return {
    client: { baseURL: url, apiKey: 'test', timeoutMs: 5000 },
    price,
    stateDir: stateDirOf(workspace),
    pollIntervalMs: 1,
    retryDelayMs: 1,
    ...overrides,
  };
}

async function serverBatches(): Promise<Array<{ id: string; status: string; input_file_id: string; request_counts: { total: number } }>> {
  const response = await fetch(`${server.url}/batches`);
  return ((await response.json()) as { data: never[] }).data;
}

function stateFiles(workspace: Workspace): { pending: string[]; done: string[] } {
  const entries = fs.existsSync(stateDirOf(workspace)) ? fs.readdirSync(stateDirOf(workspace)).sort() : [];
  return {
    pending: entries.filter((entry) => entry.endsWith('.json') && !entry.endsWith('.done.json')),
    done: entries.filter((entry) => entry.endsWith('.done.json')),
  };
}

function readState(workspace: Workspace, entry: string): BatchState {
  return JSON.parse(fs.readFileSync(path.join(stateDirOf(workspace), entry), 'utf8')) as BatchState;
}

interface StoredLine {
  idx: number;
  key: string;
  response: string;
  batch_id?: string;
  cost_usd: number;
  usage: { prompt_tokens: number; completion_tokens: number };
}

function storedLines(jobs: readonly QueryJob[]): StoredLine[] {
  const file = jobs[0].store.path;
  return fs.existsSync(file) ? (readJsonLines(file).lines.map(({ value }) => value) as StoredLine[]) : [];
}

function expectEachPromptAnsweredOnce(count: number): void {
  const counts = Object.values(server.stats().byPrompt);
  expect(counts).toHaveLength(count);
  expect(counts.every((answered) => answered === 1)).toBe(true);
}

/** Aborts at the first wait between two polls: the batch exists, nothing is answered yet. */
async function runAbortedAfterFirstPoll(workspace: Workspace, count: number, overrides: Partial<BatchOptions> = {}) {
  const controller = new AbortController();
  return runBatchQueries(
    jobsFor(workspace, count),
    batchOptions(workspace, { ...overrides, signal: controller.signal, sleep: async () => controller.abort() }),
  );
}

test('a batch run answers every row at half price, stores each with its batch id, and a re-run is all cache', async () => {
  server = await startFakeOpenAI({ replay: [path.join(DATA_ROOT, 'zero-shot')], batchCompletionPolls: 3 });
  const workspace = freshWorkspace();
  const jobs = jobsFor(workspace, rows.length);
  const progressSeen: number[] = [];
  const run = await runBatchQueries(jobs, batchOptions(workspace, { onProgress: (progress) => progressSeen.push(progress.fresh) }));
  expect(run.stoppedBecause).toBeUndefined();
  expect(run.progress).toMatchObject({ total: 200, fresh: 200, cached: 0, failed: 0, skipped: 0 });
  expect(progressSeen).toHaveLength(200);
  expect(progressSeen[199]).toBe(200);
  expectEachPromptAnsweredOnce(200);

  const batches = await serverBatches();
  expect(batches).toHaveLength(1);
  expect(batches[0].request_counts.total).toBe(200);
  const lines = storedLines(jobs);
  expect(lines).toHaveLength(200);
  expect(new Set(lines.map((line) => line.idx)).size).toBe(200);
  for (const line of lines) {
    expect(line.batch_id).toBe(batches[0].id);
    expect(line.usage.prompt_tokens).toBeGreaterThan(10);
    expect(line.cost_usd).toBe(costOf(line.usage, price) / 2);
  }
  expect(run.progress.costUsd).toBeCloseTo(
    lines.reduce((sum, line) => sum + line.cost_usd, 0),
    12,
  );
  const files = stateFiles(workspace);
  expect(files.pending).toEqual([]);
  expect(files.done).toHaveLength(1);
  expect(readState(workspace, files.done[0])).toMatchObject({ status: 'done', batch_id: batches[0].id, batch_status: 'completed' });

  // The same usage bought directly costs twice as much.
  const direct = freshWorkspace();
  const directJobs = jobsFor(direct, 20);
  await runQueries(directJobs, new TeacherClient({ baseURL: server.url, apiKey: 'test', timeoutMs: 5000 }), { concurrency: 4, price });
  const batchByKey = new Map(lines.map((line) => [line.key, line]));
  for (const line of storedLines(directJobs)) {
    const batched = batchByKey.get(line.key);
    expect(batched?.usage).toEqual(line.usage);
    expect(batched?.response).toBe(line.response);
    expect((batched?.cost_usd ?? 0) * 2).toBe(line.cost_usd);
  }

  server.resetStats();
  const again = await runBatchQueries(jobsFor(workspace, rows.length), batchOptions(workspace));
  expect(again.progress).toMatchObject({ cached: 200, fresh: 0 });
  expect(server.stats().requests).toBe(0);
  expect(await serverBatches()).toHaveLength(1);
});

test('an interrupted run leaves its batch on disk; the next run ingests that batch without sending anything again', async () => {
  server = await startFakeOpenAI({ replay: [path.join(DATA_ROOT, 'zero-shot')], batchCompletionPolls: 3 });
  const workspace = freshWorkspace();
  const interrupted = await runAbortedAfterFirstPoll(workspace, 12);
  expect(interrupted.stoppedBecause).toBe('interrupted');
  expect(interrupted.progress).toMatchObject({ skipped: 12, fresh: 0 });
  expect(interrupted.outcomes.every((outcome) => outcome.kind === 'skipped' && outcome.reason === 'aborted')).toBe(true);
  expect(fs.existsSync(jobsFor(workspace, 1)[0].store.path)).toBe(false);
  const files = stateFiles(workspace);
  expect(files.pending).toHaveLength(1);
  const state = readState(workspace, files.pending[0]);
  const [batch] = await serverBatches();
  expect(state).toMatchObject({ status: 'submitted', batch_id: batch.id, input_file_id: batch.input_file_id, endpoint: '/v1/chat/completions' });
  expect(Object.keys(state.requests)).toEqual(jobsFor(workspace, 12).map((job) => job.key));
  expect(server.stats().completions).toBe(0);

  const resumed = await runBatchQueries(jobsFor(workspace, 12), batchOptions(workspace));
  expect(resumed.progress).toMatchObject({ fresh: 12, failed: 0, skipped: 0 });
  expect(await serverBatches()).toHaveLength(1);
  expectEachPromptAnsweredOnce(12);
  expect(storedLines(jobsFor(workspace, 1)).map((line) => line.batch_id)).toEqual(new Array(12).fill(batch.id));
  expect(stateFiles(workspace)).toEqual({ pending: [], done: [`${files.pending[0].slice(0, -'.json'.length)}.done.json`] });
});

test('two batch runs on one workspace: the second refuses while the first holds .batches, naming it, and submits nothing', async () => {
  server = await startFakeOpenAI({ replay: [path.join(DATA_ROOT, 'zero-shot')], batchCompletionPolls: 2 });
  const workspace = freshWorkspace();
  const other = tryLock(stateDirOf(workspace), 'zsd query --task svamp --batch (the first run)');
  if (!other.acquired) throw new Error('expected to take the lock');
  await expect(runBatchQueries(jobsFor(workspace, 5), batchOptions(workspace))).rejects.toThrow(
    new RegExp(`\\.batches is in use by another zsd process, pid ${process.pid} \\(zsd query --task svamp --batch \\(the first run\\)`),
  );
  expect(await serverBatches()).toHaveLength(0);
  expect(stateFiles(workspace).pending).toHaveLength(0);
  other.lock.release();

  // A store another process is writing: refused as well (it might be sending these very prompts).
  const storeHolder = tryLock(jobsFor(workspace, 1)[0].store.path, 'zsd query --task svamp');
  if (!storeHolder.acquired) throw new Error('expected to take the lock');
  await expect(runBatchQueries(jobsFor(workspace, 5), batchOptions(workspace))).rejects.toThrow(/responses\.json is in use by another zsd process/);
  storeHolder.lock.release();
  expect(await serverBatches()).toHaveLength(0);

  const run = await runBatchQueries(jobsFor(workspace, 5), batchOptions(workspace));
  expect(run.progress.fresh).toBe(5);
  expect(fs.existsSync(`${stateDirOf(workspace)}.lock`)).toBe(false);
});

test('a process that died after storing the answers but before marking its batch done: the next run stores nothing twice', async () => {
  server = await startFakeOpenAI({ replay: [path.join(DATA_ROOT, 'zero-shot')] });
  const workspace = freshWorkspace();
  await runBatchQueries(jobsFor(workspace, 6), batchOptions(workspace));
  const [done] = stateFiles(workspace).done;
  const pendingName = done.replace(/\.done\.json$/, '.json');
  fs.renameSync(path.join(stateDirOf(workspace), done), path.join(stateDirOf(workspace), pendingName));
  server.resetStats();

  // The store was read before the state: every job is cached, the batch is looked at once and tidied up.
  const again = await runBatchQueries(jobsFor(workspace, 6), batchOptions(workspace));
  expect(again.progress).toMatchObject({ cached: 6, fresh: 0 });
  expect(storedLines(jobsFor(workspace, 1))).toHaveLength(6);
  expect(server.stats().completions).toBe(0);
  expect(await serverBatches()).toHaveLength(1);
  expect(stateFiles(workspace)).toEqual({ pending: [], done: [done] });
});

test('answers for requests of no job in this run are kept pending, or stored through storeFor', async () => {
  server = await startFakeOpenAI({ replay: [path.join(DATA_ROOT, 'zero-shot')], batchCompletionPolls: 3 });
  const workspace = freshWorkspace();
  await runAbortedAfterFirstPoll(workspace, 6);
  const [pending] = stateFiles(workspace).pending;

  const part = await runBatchQueries(jobsFor(workspace, 3), batchOptions(workspace));
  expect(part.progress).toMatchObject({ fresh: 3 });
  expect(storedLines(jobsFor(workspace, 1))).toHaveLength(3);
  expect(stateFiles(workspace).pending).toEqual([pending]);

  const registry = new StoreRegistry(workspace);
  const rest = await runBatchQueries(
    jobsFor(workspace, 3),
    batchOptions(workspace, { storeFor: (task, split, templateId) => registry.get(task, split, templateId) }),
  );
  expect(rest.progress).toMatchObject({ cached: 3, fresh: 0 });
  const lines = storedLines(jobsFor(workspace, 1));
  expect(lines.map((line) => line.idx).sort((a, b) => a - b)).toEqual(
    rows
      .slice(0, 6)
      .map((row) => row.index)
      .sort((a, b) => a - b),
  );
  expect(stateFiles(workspace).pending).toEqual([]);
  expect(await serverBatches()).toHaveLength(1);
  expectEachPromptAnsweredOnce(6);
});

test('a process that died between creating the batch and recording its id: the next run adopts that batch', async () => {
  server = await startFakeOpenAI({ replay: [path.join(DATA_ROOT, 'zero-shot')], batchCompletionPolls: 3 });
  const workspace = freshWorkspace();
  await runAbortedAfterFirstPoll(workspace, 8);
  const [entry] = stateFiles(workspace).pending;
  const { batch_id: batchId, ...withoutId } = readState(workspace, entry);
  // What the disk holds when the process dies right after batches.create returns.
  fs.writeFileSync(path.join(stateDirOf(workspace), entry), JSON.stringify({ ...withoutId, status: 'creating' }));

  const adopted = await runBatchQueries(jobsFor(workspace, 8), batchOptions(workspace));
  expect(adopted.progress).toMatchObject({ fresh: 8, failed: 0 });
  expect(await serverBatches()).toHaveLength(1);
  expectEachPromptAnsweredOnce(8);
  expect(new Set(storedLines(jobsFor(workspace, 1)).map((line) => line.batch_id))).toEqual(new Set([batchId]));
});

test('a create whose answer is lost is adopted, not sent twice; a create that never arrived is made by the next run', async () => {
  server = await startFakeOpenAI({ replay: [path.join(DATA_ROOT, 'zero-shot')] });
  let creates = 0;
  proxy = await startProxy(server.url, (method, pathname) =>
    method === 'POST' && pathname === '/v1/batches' && ++creates === 1 ? 'drop-after-forward' : 'forward',
  );
  const lost = freshWorkspace();
  const run = await runBatchQueries(jobsFor(lost, 6), batchOptions(lost, {}, proxy.url));
  expect(run.progress).toMatchObject({ fresh: 6, failed: 0 });
  expect(run.progress.retries).toBeGreaterThanOrEqual(1);
  expect(creates).toBe(1);
  expect(await serverBatches()).toHaveLength(1);
  expectEachPromptAnsweredOnce(6);
  await proxy.close();

  proxy = await startProxy(server.url, (method, pathname) => (method === 'POST' && pathname === '/v1/batches' ? { status: 503 } : 'forward'));
  const never = freshWorkspace();
  const refused = await runBatchQueries(jobsFor(never, 6), batchOptions(never, { maxAttempts: 2 }, proxy.url));
  expect(refused.progress).toMatchObject({ failed: 6, fresh: 0 });
  expect(refused.outcomes.every((outcome) => outcome.kind === 'failed' && outcome.error.kind === 'server')).toBe(true);
  const [entry] = stateFiles(never).pending;
  expect(readState(never, entry)).toMatchObject({ status: 'creating', input_file_id: expect.stringMatching(/^file-/) });
  expect(readState(never, entry).batch_id).toBeUndefined();
  expect(await serverBatches()).toHaveLength(1);

  server.resetStats();
  const made = await runBatchQueries(jobsFor(never, 6), batchOptions(never));
  expect(made.progress).toMatchObject({ fresh: 6 });
  const batches = await serverBatches();
  expect(batches).toHaveLength(2);
  expect(batches[0].input_file_id).toBe(readState(never, stateFiles(never).done[0]).input_file_id);
  await proxy.close();

  // A refusal after a create that may have arrived proves nothing about that one: the state stays.
  let attempts = 0;
  proxy = await startProxy(server.url, (method, pathname) =>
    method === 'POST' && pathname === '/v1/batches' ? { status: ++attempts === 1 ? 503 : 400 } : 'forward',
  );
  const refusedLater = freshWorkspace();
  const later = await runBatchQueries(jobsFor(refusedLater, 6), batchOptions(refusedLater, {}, proxy.url));
  expect(attempts).toBe(2);
  expect(later.outcomes.every((outcome) => outcome.kind === 'failed' && outcome.error.kind === 'bad-request')).toBe(true);
  expect(stateFiles(refusedLater).pending).toHaveLength(1);
});

test('a request the batch answers with an error fails its row only; the next run sends just that one again', async () => {
  server = await startFakeOpenAI({ replay: [path.join(DATA_ROOT, 'zero-shot')] });
  const workspace = freshWorkspace();
  const withUnrecorded = (jobs: QueryJob[]): QueryJob[] =>
    jobs.map((job, index) => {
      if (index !== 2) return job;
      const request = { ...job.request, user: `${job.request.user} (a prompt nobody recorded)` };
      return { ...job, request, key: requestKey(request) };
    });
  const run = await runBatchQueries(withUnrecorded(jobsFor(workspace, 6)), batchOptions(workspace));
  expect(run.progress).toMatchObject({ fresh: 5, failed: 1 });
  const failed = run.outcomes[2];
  expect(failed.kind).toBe('failed');
  if (failed.kind === 'failed') {
    expect(failed.error).toMatchObject({ kind: 'not-found', status: 404, retryable: false });
    expect(failed.error.message).toMatch(/no recorded response/);
  }
  expect(
    storedLines(jobsFor(workspace, 1))
      .map((line) => line.idx)
      .sort((a, b) => a - b),
  ).toEqual([0, 1, 3, 4, 5].map((index) => rows[index].index));
  expect(stateFiles(workspace).pending).toEqual([]);

  const again = await runBatchQueries(withUnrecorded(jobsFor(workspace, 6)), batchOptions(workspace));
  expect(again.progress).toMatchObject({ cached: 5, failed: 1 });
  const batches = await serverBatches();
  expect(batches.map((batch) => batch.request_counts.total)).toEqual([1, 6]);
});

test('equal keys are sent once; the duplicates share the first answer', async () => {
  server = await startFakeOpenAI({ replay: [path.join(DATA_ROOT, 'zero-shot')] });
  const workspace = freshWorkspace();
  const jobs = jobsFor(workspace, 5);
  const run = await runBatchQueries([...jobs, ...jobs], batchOptions(workspace));
  expect(run.progress).toMatchObject({ fresh: 5, cached: 5 });
  expect(
    run.outcomes.slice(5).every((outcome, index) => outcome.kind === 'cached' && outcome.record === (run.outcomes[index] as { record: unknown }).record),
  ).toBe(true);
  expectEachPromptAnsweredOnce(5);
  expect((await serverBatches())[0].request_counts.total).toBe(5);
  expect(storedLines(jobs)).toHaveLength(5);
});

test('more jobs than maxRequestsPerBatch make several batches', async () => {
  server = await startFakeOpenAI({ replay: [path.join(DATA_ROOT, 'zero-shot')] });
  const workspace = freshWorkspace();
  const run = await runBatchQueries(jobsFor(workspace, 10), batchOptions(workspace, { maxRequestsPerBatch: 4 }));
  expect(run.progress).toMatchObject({ fresh: 10 });
  expect((await serverBatches()).map((batch) => batch.request_counts.total).sort()).toEqual([2, 4, 4]);
  expect(stateFiles(workspace).done).toHaveLength(3);
  expectEachPromptAnsweredOnce(10);
});

test("a batch the server refuses fails its rows with the server's reasons and stores nothing", async () => {
  server = await startFakeOpenAI({ replay: [path.join(DATA_ROOT, 'zero-shot')] });
  // Leave a 'creating' state behind, then point it at an input file whose line 2 the server refuses.
  proxy = await startProxy(server.url, (method, pathname) => (method === 'POST' && pathname === '/v1/batches' ? { status: 503 } : 'forward'));
  const workspace = freshWorkspace();
  await runBatchQueries(jobsFor(workspace, 4), batchOptions(workspace, { maxAttempts: 1 }, proxy.url));
  const [entry] = stateFiles(workspace).pending;
  const state = readState(workspace, entry);
  const openai = createOpenAI({ baseURL: server.url, timeoutMs: 5000 });
  const lines = (await (await openai.files.content(state.input_file_id as string)).text()).trim().split('\n');
  lines[1] = lines[1].replace('"url":"/v1/chat/completions"', '"url":"/v1/embeddings"');
  const { toFile } = await import('openai');
  const broken = await openai.files.create({ file: await toFile(Buffer.from(`${lines.join('\n')}\n`), 'broken.jsonl'), purpose: 'batch' });
  fs.writeFileSync(path.join(stateDirOf(workspace), entry), JSON.stringify({ ...state, input_file_id: broken.id }));

  const run = await runBatchQueries(jobsFor(workspace, 4), batchOptions(workspace));
  expect(run.progress).toMatchObject({ failed: 4, fresh: 0 });
  const messages = run.outcomes.map((outcome) => (outcome.kind === 'failed' ? `${outcome.error.kind}: ${outcome.error.message}` : outcome.kind));
  expect(messages[1]).toMatch(/^bad-request: .*line 2 .*differs from the batch endpoint/);
  for (const index of [0, 2, 3]) expect(messages[index]).toMatch(/^bad-request: .*failed .*not answered/);
  expect(storedLines(jobsFor(workspace, 1))).toEqual([]);
  expect(stateFiles(workspace).pending).toEqual([]);
  expect(readState(workspace, stateFiles(workspace).done[0])).toMatchObject({ batch_status: 'failed' });
});

test('server errors while polling are retried; an auth error stops the run and keeps the batch for the next one', async () => {
  server = await startFakeOpenAI({ replay: [path.join(DATA_ROOT, 'zero-shot')], batchCompletionPolls: 2 });
  let polls = 0;
  proxy = await startProxy(server.url, (method, pathname) =>
    method === 'GET' && pathname.startsWith('/v1/batches/') && ++polls <= 2 ? { status: 500 } : 'forward',
  );
  const flaky = freshWorkspace();
  const run = await runBatchQueries(jobsFor(flaky, 5), batchOptions(flaky, {}, proxy.url));
  expect(run.progress).toMatchObject({ fresh: 5, failed: 0 });
  expect(run.progress.retries).toBe(2);
  await proxy.close();

  proxy = await startProxy(server.url, (method, pathname) =>
    method === 'GET' && pathname.startsWith('/v1/batches/') ? { status: 401, code: 'invalid_api_key' } : 'forward',
  );
  const unauthorised = freshWorkspace();
  const stopped = await runBatchQueries(jobsFor(unauthorised, 5), batchOptions(unauthorised, {}, proxy.url));
  expect(stopped.stoppedBecause).toMatch(/not authorised \(401\)/);
  expect(stopped.outcomes.every((outcome) => outcome.kind === 'skipped' && outcome.reason === 'stopped')).toBe(true);
  expect(stateFiles(unauthorised).pending).toHaveLength(1);

  const resumed = await runBatchQueries(jobsFor(unauthorised, 5), batchOptions(unauthorised));
  expect(resumed.progress).toMatchObject({ fresh: 5 });
  expect(await serverBatches()).toHaveLength(2);
});

test('state files and stored answers never hold the API key', async () => {
  server = await startFakeOpenAI({ replay: [path.join(DATA_ROOT, 'zero-shot')], batchCompletionPolls: 3 });
  const secret = 'zsd-test-secret-4f1c9a7e0b2d';
  const workspace = freshWorkspace();
  const withSecret = { client: { baseURL: server.url, apiKey: secret, timeoutMs: 5000 } };
  const contents = () => listFiles(workspace.root).map((file) => fs.readFileSync(path.join(workspace.root, file), 'utf8'));

  await runAbortedAfterFirstPoll(workspace, 5, withSecret);
  const pending = contents();
  expect(pending).toHaveLength(1);
  expect(pending[0]).toMatch(/"batch_id": "batch_fake/);
  expect(pending.some((content) => content.includes(secret))).toBe(false);

  const resumed = await runBatchQueries(jobsFor(workspace, 5), batchOptions(workspace, withSecret));
  expect(resumed.progress.fresh).toBe(5);
  const done = contents();
  expect(done).toHaveLength(2); // the done state and responses.json
  expect(done.some((content) => content.includes(secret))).toBe(false);
  expect(done.some((content) => content.includes('zsd-test-secret'))).toBe(false);
});

test('a state file that does not parse stops the run before anything is sent', async () => {
  server = await startFakeOpenAI({ replay: [path.join(DATA_ROOT, 'zero-shot')] });
  const workspace = freshWorkspace();
  fs.mkdirSync(stateDirOf(workspace), { recursive: true });
  const file = path.join(stateDirOf(workspace), 'broken.json');
  fs.writeFileSync(file, '{"version": 1, "status": "submitted"');
  await expect(runBatchQueries(jobsFor(workspace, 3), batchOptions(workspace))).rejects.toMatchObject({ kind: 'invalid-file', location: { file } });
  expect(server.stats().requests).toBe(0);
});

// ---------------------------------------------------------------------------------------------------------------
// A loopback proxy in front of the fake server, to lose answers and inject errors on the batch routes.

type Interception = 'forward' | 'drop-after-forward' | { status: number; code?: string };

interface Proxy {
  url: string;
  close(): Promise<void>;
}

async function startProxy(upstream: string, intercept: (method: string, pathname: string) => Interception): Promise<Proxy> {
  const origin = new URL(upstream).origin;
  const hopByHop = new Set(['host', 'connection', 'content-length', 'transfer-encoding', 'keep-alive']);
  const proxyServer = http.createServer(async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const method = request.method ?? 'GET';
    const action = intercept(method, new URL(request.url ?? '/', origin).pathname.replace(/\/+$/, ''));
    if (typeof action === 'object') {
      response.writeHead(action.status, { 'content-type': 'application/json' });
      response.end(
        JSON.stringify({ error: { message: `injected by the test proxy (${action.status})`, type: 'server_error', param: null, code: action.code ?? null } }),
      );
      return;
    }
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(request.headers)) if (typeof value === 'string' && !hopByHop.has(name)) headers[name] = value;
    const forwarded = await fetch(`${origin}${request.url}`, { method, headers, body: chunks.length > 0 ? new Uint8Array(Buffer.concat(chunks)) : undefined });
    const data = Buffer.from(await forwarded.arrayBuffer());
    if (action === 'drop-after-forward') {
      request.socket.destroy();
      return;
    }
    response.writeHead(forwarded.status, { 'content-type': forwarded.headers.get('content-type') ?? 'application/json' });
    response.end(data);
  });
  await new Promise<void>((resolve) => proxyServer.listen(0, '127.0.0.1', resolve));
  const { port } = proxyServer.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    close: () =>
      new Promise<void>((resolve) => {
        proxyServer.close(() => resolve());
        proxyServer.closeAllConnections();
      }),
  };
}
