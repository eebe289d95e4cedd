import * as http from 'node:http';
import { TeacherClient, TeacherError } from '../teacher/client';
import { startStudentServer, type StudentServer, type StudentServerOptions } from './server';
import { InputTooLongError, type Answerer, type StudentAnswer, type StudentQuestion } from './student-answerer';

// The server with a fake student (no TensorFlow): the API's shapes, batching, the queue bound, disconnects and
// shutdown. lib/cli/serve-command.e2e.test.ts runs `zsd serve` on a trained student.

/** Labels are the input upper-cased; a rationale is "because <input>"; one token per word. Can be held at a gate. */
class FakeStudent implements Answerer {
  readonly prefixes: { predict: string; explain: string };
  readonly maxInputTokens = 12;
  readonly batches: StudentQuestion[][] = [];
  private gate: Promise<void> | null = null;
  private openGate: () => void = () => undefined;
  private startedWaiters: (() => void)[] = [];

  constructor(readonly canExplain = true) {
    this.prefixes = canExplain ? { predict: 'predict: ', explain: 'explain: ' } : { predict: '', explain: '' };
  }

  hold(): void {
    this.gate = new Promise((resolve) => (this.openGate = resolve));
  }

  release(): void {
    this.gate = null;
    this.openGate();
  }

  /** Resolves when a batch has started (so the next requests queue behind it). */
  batchStarted(): Promise<void> {
    return new Promise((resolve) => this.startedWaiters.push(resolve));
  }

  countInputTokens(input: string, explain: boolean): number {
    const tokens = input.split(/\s+/).length + 2;
    if (tokens > this.maxInputTokens) throw new InputTooLongError(tokens, this.maxInputTokens);
    return explain ? 2 * tokens : tokens;
  }

  async answer(questions: readonly StudentQuestion[]): Promise<StudentAnswer[]> {
    this.batches.push([...questions]);
    for (const waiter of this.startedWaiters.splice(0)) waiter();
    if (this.gate) await this.gate;
    return questions.map((question) => ({
      label: question.input.toUpperCase(),
      rationale: question.explain ? `because ${question.input}` : null,
      promptTokens: this.countInputTokens(question.input, question.explain),
      completionTokens: Math.min(question.maxNewTokens, 3),
      finishReason: question.maxNewTokens < 3 ? 'length' : 'stop',
    }));
  }

  dispose(): void {}
}

const servers: StudentServer[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close();
});

async function serve(student: Answerer, options: Partial<StudentServerOptions> = {}): Promise<StudentServer> {
  const server = await startStudentServer({
    answerer: student,
    modelId: 'tiny-student',
    port: 0,
    maxBatchSize: 8,
    batchWaitMs: 5,
    maxQueue: 16,
    maxNewTokens: 8,
    ...options,
  });
  servers.push(server);
  return server;
}

async function post(
  server: StudentServer,
  route: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: any; headers: Headers }> {
  const response = await fetch(`${server.baseUrl}${route}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.status, body: await response.json(), headers: response.headers };
}

const chat = (content: string, extra: Record<string, unknown> = {}) => ({
  model: 'tiny-student',
  messages: [
    { role: 'system', content: 'ignored' },
    { role: 'user', content },
  ],
  ...extra,
});

test("zsd's teacher client gets the student's answers on both endpoints, with usage and the served model's name", async () => {
  const server = await serve(new FakeStudent());
  const client = new TeacherClient({ baseURL: server.baseUrl, timeoutMs: 10_000 });
  const parameters = { temperature: 0.7, max_tokens: 50 };
  const answer = await client.complete({ model: 'tiny-student', endpoint: 'chat', system: 'You are a teacher.', user: 'how many apples', parameters });
  expect(answer).toEqual({ text: 'HOW MANY APPLES', usage: { prompt_tokens: 5, completion_tokens: 3 }, model: 'tiny-student' });
  const completion = await client.complete({ model: 'tiny-student', endpoint: 'completion', system: '', user: 'two pears', parameters });
  expect(completion.text).toBe(' TWO PEARS'); // the legacy prompt is system + " " + user, answered as sent
  // an unknown model is the API's 404, which the teacher machinery classifies as not-found (the row fails, no retry)
  const refused = await client.complete({ model: 'gpt-4o', endpoint: 'chat', system: '', user: 'x', parameters }).catch((error: unknown) => error);
  expect(refused).toBeInstanceOf(TeacherError);
  expect(refused).toMatchObject({ kind: 'not-found', status: 404 });
});

test('explain mode (an "explain: " input or explain: true) answers with the rationale, then the label; structured fields ride along', async () => {
  const server = await serve(new FakeStudent());
  const byPrefix = await post(server, '/chat/completions', chat('explain: three cats'));
  expect(byPrefix.status).toBe(200);
  expect(byPrefix.body.choices[0]).toMatchObject({
    index: 0,
    message: { role: 'assistant', content: 'because three cats\n\nSo the answer is THREE CATS' },
    finish_reason: 'stop',
    zsd: { label: 'THREE CATS', rationale: 'because three cats' },
  });
  expect(byPrefix.body.usage).toEqual({ prompt_tokens: 8, completion_tokens: 3, total_tokens: 11 });
  const byFlag = await post(server, '/chat/completions', { model: 'tiny-student', input: 'three cats', explain: true });
  expect(byFlag.body.choices[0].message.content).toBe(byPrefix.body.choices[0].message.content);
  const predictPrefix = await post(server, '/chat/completions', chat('predict: three cats'));
  expect(predictPrefix.body.choices[0].message.content).toBe('THREE CATS');
  // max_tokens lowers the server's cap; running out of tokens is finish_reason "length"
  const short = await post(server, '/chat/completions', chat('three cats', { max_tokens: 2 }));
  expect(short.body.choices[0].finish_reason).toBe('length');
  // completions: an array of prompts gets one choice each, and the usage of all
  const completions = await post(server, '/completions', { model: 'tiny-student', prompt: ['one', 'two dogs'] });
  expect(completions.body.object).toBe('text_completion');
  expect(completions.body.choices.map((choice: { index: number; text: string }) => [choice.index, choice.text])).toEqual([
    [0, 'ONE'],
    [1, 'TWO DOGS'],
  ]);
  expect(completions.body.usage).toEqual({ prompt_tokens: 7, completion_tokens: 6, total_tokens: 13 });
});

test('/v1/models lists the one model', async () => {
  const server = await serve(new FakeStudent(), { modelDetails: { parameters: 1234 } });
  const list = await (await fetch(`${server.baseUrl}/models`)).json();
  expect(list).toEqual({ object: 'list', data: [{ id: 'tiny-student', object: 'model', created: expect.any(Number), owned_by: 'zsd', parameters: 1234 }] });
  expect((await fetch(`${server.baseUrl}/models/tiny-student`)).status).toBe(200);
  expect((await fetch(`${server.baseUrl}/models/other`)).status).toBe(404);
});

test('concurrent requests share one generation call; --max-batch-size 1 answers them one by one', async () => {
  const student = new FakeStudent();
  const batched = await serve(student, { batchWaitMs: 30 });
  const inputs = ['a', 'b', 'c', 'd', 'e'];
  const answers = await Promise.all(inputs.map((input) => post(batched, '/chat/completions', chat(input))));
  expect(answers.map((answer) => answer.body.choices[0].message.content)).toEqual(['A', 'B', 'C', 'D', 'E']);
  expect(student.batches.map((batch) => batch.length)).toEqual([5]);

  const single = new FakeStudent();
  const unbatched = await serve(single, { maxBatchSize: 1 });
  await Promise.all(inputs.map((input) => post(unbatched, '/chat/completions', chat(input))));
  expect(single.batches.map((batch) => batch.length)).toEqual([1, 1, 1, 1, 1]);

  // requests with different max_tokens need different generation settings: never one batch
  const mixed = new FakeStudent();
  const grouped = await serve(mixed, { batchWaitMs: 30 });
  await Promise.all([chat('a', { max_tokens: 2 }), chat('b'), chat('c', { max_tokens: 2 })].map((body) => post(grouped, '/chat/completions', body)));
  expect(mixed.batches.map((batch) => batch.map((question) => `${question.input}${question.maxNewTokens}`)).sort()).toEqual([['a2', 'c2'], ['b8']].sort());
});

describe('bad requests get the OpenAI error shape and a 4xx', () => {
  const cases: [string, string, unknown, number, string | null, string | null][] = [
    ['no messages', '/chat/completions', { model: 'tiny-student' }, 400, 'messages', 'missing_required_parameter'],
    ['messages of the wrong type', '/chat/completions', { model: 'tiny-student', messages: 'hello' }, 400, 'messages', 'invalid_type'],
    [
      'a message content of the wrong type',
      '/chat/completions',
      { model: 'tiny-student', messages: [{ role: 'user', content: 42 }] },
      400,
      'messages[0].content',
      'invalid_type',
    ],
    ['no user message', '/chat/completions', { model: 'tiny-student', messages: [{ role: 'system', content: 'x' }] }, 400, 'messages', 'invalid_value'],
    ['max_tokens of the wrong type', '/chat/completions', chat('x', { max_tokens: 'ten' }), 400, 'max_tokens', 'invalid_type'],
    ['no model', '/chat/completions', { messages: [{ role: 'user', content: 'x' }] }, 400, 'model', 'invalid_type'],
    ['an unknown model', '/chat/completions', { ...chat('x'), model: 'gpt-4o' }, 404, 'model', 'model_not_found'],
    ['too long an input', '/chat/completions', chat('one two three four five six seven eight nine ten eleven'), 400, 'messages', 'context_length_exceeded'],
    ['an empty input', '/chat/completions', chat('  '), 400, 'messages', 'invalid_value'],
    ['streaming', '/chat/completions', chat('x', { stream: true }), 400, 'stream', 'unsupported_parameter'],
    ['n above 1', '/chat/completions', chat('x', { n: 3 }), 400, 'n', 'unsupported_parameter'],
    ['a body that is not JSON', '/chat/completions', '{"model": ', 400, null, 'invalid_json'],
    ['a JSON array body', '/chat/completions', '[1, 2]', 400, null, null],
    ['no prompt', '/completions', { model: 'tiny-student' }, 400, 'prompt', 'missing_required_parameter'],
    ['a prompt of the wrong type', '/completions', { model: 'tiny-student', prompt: 7 }, 400, 'prompt', 'invalid_type'],
    ['too long a prompt', '/completions', { model: 'tiny-student', prompt: ['ok', 'a b c d e f g h i j k l m'] }, 400, 'prompt', 'context_length_exceeded'],
    ['an unknown route', '/embeddings', { model: 'tiny-student', input: 'x' }, 404, null, 'unknown_url'],
  ];
  test.each(cases)('%s', async (_name, route, body, status, param, code) => {
    const student = new FakeStudent();
    const server = await serve(student);
    const response = await post(server, route, body);
    expect(response.status).toBe(status);
    expect(Object.keys(response.body)).toEqual(['error']);
    expect(response.body.error).toEqual({ message: expect.any(String), type: 'invalid_request_error', param, code });
    expect(response.body.error.message.length).toBeGreaterThan(10);
    expect(student.batches).toEqual([]); // nothing bad reaches the model
  });

  test('the wrong method is 405, an oversized body 413, explain on a standard-mode student 400', async () => {
    const server = await serve(new FakeStudent(false), { maxBodyBytes: 1000 });
    const get = await fetch(`${server.baseUrl}/chat/completions`);
    expect(get.status).toBe(405);
    expect(((await get.json()) as { error: { code: string } }).error.code).toBe('method_not_allowed');
    const large = await post(server, '/chat/completions', chat('x'.repeat(2000)));
    expect(large.status).toBe(413);
    expect(large.body.error.code).toBe('request_too_large');
    const explain = await post(server, '/chat/completions', { ...chat('x'), explain: true });
    expect(explain.status).toBe(400);
    expect(explain.body.error).toMatchObject({ param: 'explain', code: 'unsupported_parameter' });
  });
});

test('--api-key: no key or a wrong one is 401 invalid_api_key; the right one is served', async () => {
  const server = await serve(new FakeStudent(), { apiKey: 'sk-student' });
  const missing = await post(server, '/chat/completions', chat('x'));
  expect(missing.status).toBe(401);
  expect(missing.body.error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_api_key' });
  expect((await post(server, '/chat/completions', chat('x'), { authorization: 'Bearer sk-studenT' })).status).toBe(401);
  expect((await fetch(`${server.baseUrl}/models`)).status).toBe(401);
  const allowed = await post(server, '/chat/completions', chat('x'), { authorization: 'Bearer sk-student' });
  expect(allowed.status).toBe(200);
  const client = new TeacherClient({ baseURL: server.baseUrl, apiKey: 'wrong', timeoutMs: 10_000 });
  await expect(client.complete({ model: 'tiny-student', endpoint: 'chat', system: '', user: 'x', parameters: {} })).rejects.toMatchObject({ kind: 'auth' });
});

test('a full queue answers 429 with Retry-After at once; what was queued is still answered', async () => {
  const student = new FakeStudent();
  const server = await serve(student, { maxBatchSize: 1, maxQueue: 2 });
  student.hold();
  const started = student.batchStarted();
  const first = post(server, '/chat/completions', chat('first'));
  await started; // running, held
  const queued = [post(server, '/chat/completions', chat('second')), post(server, '/chat/completions', chat('third'))];
  await waitFor(() => server.stats().queued === 2);
  const refused = await post(server, '/chat/completions', chat('fourth'));
  expect(refused.status).toBe(429);
  expect(refused.body.error).toMatchObject({ type: 'requests', code: 'rate_limit_exceeded', param: null });
  expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  // the teacher machinery reads it as a retryable rate limit with the server's wait
  const client = new TeacherClient({ baseURL: server.baseUrl, timeoutMs: 10_000 });
  const error = await client
    .complete({ model: 'tiny-student', endpoint: 'chat', system: '', user: 'fifth', parameters: {} })
    .catch((caught: unknown) => caught);
  expect(error).toMatchObject({ kind: 'rate-limit', retryable: true, retryAfterMs: expect.any(Number) });
  student.release();
  const answers = await Promise.all([first, ...queued]);
  expect(answers.map((answer) => answer.body.choices[0].message.content)).toEqual(['FIRST', 'SECOND', 'THIRD']);
  expect(server.stats()).toMatchObject({ refused: 2, answered: 3 });
});

test('a client that disconnects mid-request: its queued question is never computed, a running one is dropped, the server goes on', async () => {
  const student = new FakeStudent();
  const server = await serve(student, { maxBatchSize: 1 });
  student.hold();
  const started = student.batchStarted();
  const running = rawPost(server, chat('running'));
  await started;
  const queued = rawPost(server, chat('queued'));
  await waitFor(() => server.stats().queued === 1);
  queued.request.destroy();
  await waitFor(() => server.stats().abandoned === 1);
  expect(server.stats().queued).toBe(0);
  running.request.destroy(); // while its batch runs
  await new Promise((resolve) => setTimeout(resolve, 20));
  student.release();
  const after = await post(server, '/chat/completions', chat('after'));
  expect(after.status).toBe(200);
  expect(after.body.choices[0].message.content).toBe('AFTER');
  expect(student.batches.map((batch) => batch[0].input)).toEqual(['running', 'after']);
  await expect(running.done).resolves.toBe('closed');
  await expect(queued.done).resolves.toBe('closed');
});

test('close() answers what is queued, refuses what comes after, and resolves', async () => {
  const student = new FakeStudent();
  const server = await startStudentServer({
    answerer: student,
    modelId: 'tiny-student',
    port: 0,
    maxBatchSize: 1,
    batchWaitMs: 0,
    maxQueue: 8,
    maxNewTokens: 8,
  });
  student.hold();
  const started = student.batchStarted();
  const pending = ['a', 'b', 'c'].map((input) => post(server, '/chat/completions', chat(input)));
  await started;
  await waitFor(() => server.stats().queued === 2);
  const closed = server.close();
  student.release();
  const answers = await Promise.all(pending);
  expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200]);
  await closed;
  await expect(fetch(`${server.baseUrl}/models`)).rejects.toThrow();
});

function rawPost(server: StudentServer, body: unknown): { request: http.ClientRequest; done: Promise<string> } {
  const text = JSON.stringify(body);
  const request = http.request(`${server.baseUrl}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) },
  });
  const done = new Promise<string>((resolve) => {
    request.on('response', () => resolve('answered'));
    request.on('error', () => resolve('closed'));
    request.on('close', () => resolve('closed'));
  });
  request.end(text);
  return { request, done };
}

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for the condition');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
