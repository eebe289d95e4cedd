import * as path from 'node:path';
import OpenAI, { APIConnectionError, APIConnectionTimeoutError, APIError, toFile } from 'openai';
import { isZsdError } from '../../core/errors';
import { readJsonLines } from '../../core/jsonl';
import { DATA_ROOT, temporaryDirectory, writeFile } from '../fixtures';
import { FAULT_KINDS, parseFakeScript, parseFaultSpec, startFakeOpenAI, type FakeOpenAIOptions, type FakeOpenAIServer } from './fake-openai-server';
import type { ChatMessage } from '../../teacher/tokens';

interface StudyLine {
  idx: number;
  complete_prompt: string;
  response: string;
}

const STUDY = path.join(DATA_ROOT, 'zero-shot');
const CQA_TEST_3 = path.join(STUDY, 'query-results', 'cqa', 'test', '3', 'responses.json');
const recorded = readJsonLines<StudyLine>(CQA_TEST_3).lines.map((line) => line.value);
const UNKNOWN_PROMPT = '\nThis prompt was never sent to gpt-3.5-turbo in the study.';

/** The recorded complete_prompt split at its first "\n" into the system and user message. */
function messagesOf(completePrompt: string): ChatMessage[] {
  const cut = completePrompt.indexOf('\n');
  return [
    { role: 'system', content: completePrompt.slice(0, cut) },
    { role: 'user', content: completePrompt.slice(cut + 1) },
  ];
}

function clientFor(server: FakeOpenAIServer, options: { timeout?: number } = {}): OpenAI {
  return new OpenAI({ apiKey: 'test', baseURL: server.url, maxRetries: 0, ...options });
}

/** A raw chat request (no SDK), for the fault schedule: the HTTP status, or 'reset' for a dropped connection. */
async function rawChatStatus(server: FakeOpenAIServer, content: string): Promise<number | 'reset'> {
  try {
    const response = await fetch(`${server.url}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-3.5-turbo', messages: [{ role: 'user', content }] }),
    });
    await response.arrayBuffer();
    return response.status;
  } catch {
    return 'reset';
  }
}

const servers: FakeOpenAIServer[] = [];
async function start(options: FakeOpenAIOptions): Promise<FakeOpenAIServer> {
  const server = await startFakeOpenAI(options);
  servers.push(server);
  return server;
}

let study: FakeOpenAIServer;
let client: OpenAI;

beforeAll(async () => {
  study = await start({ replay: [STUDY] });
  client = clientFor(study);
});

afterAll(async () => {
  await Promise.all(servers.map((server) => server.close()));
});

beforeEach(() => study.resetStats());

describe('replay with stats and echo', () => {
  test('byPrompt counts successful completions per complete_prompt; /fake/stats and /fake/reset-stats serve the same', async () => {
    const [first, second] = recorded;
    for (const line of [first, first, second]) await client.chat.completions.create({ model: 'gpt-3.5-turbo', messages: messagesOf(line.complete_prompt) });
    await client.chat.completions.create({ model: 'gpt-3.5-turbo', messages: messagesOf(UNKNOWN_PROMPT) }).catch(() => undefined);
    const expected = { requests: 4, completions: 3, misses: 1, faults: {}, byPrompt: { [first.complete_prompt]: 2, [second.complete_prompt]: 1 } };
    expect(study.stats()).toEqual(expected);
    const origin = study.url.replace(/\/v1$/, '');
    expect(await (await fetch(`${origin}/fake/stats`)).json()).toEqual(expected);
    expect((await fetch(`${origin}/fake/reset-stats`, { method: 'POST' })).status).toBe(200);
    expect(study.stats()).toEqual({ requests: 0, completions: 0, misses: 0, faults: {}, byPrompt: {} });
  });

  test('fallback echo: an unknown prompt gets the same made-up answer every time, still counted as a miss', async () => {
    const echo = await start({ fallback: 'echo', model: 'zsd-test-model' });
    const echoClient = clientFor(echo);
    const ask = () => echoClient.chat.completions.create({ model: 'zsd-test-model', messages: messagesOf(UNKNOWN_PROMPT) });
    const [first, second] = [await ask(), await ask()];
    expect(first.choices[0].message.content).toMatch(/^The answer is \([a-e]\)\. This is a made-up answer/);
    expect(second.choices[0].message.content).toBe(first.choices[0].message.content);
    expect(echo.stats()).toMatchObject({ completions: 2, misses: 2, byPrompt: { [UNKNOWN_PROMPT]: 2 } });
    expect((await echoClient.models.list()).data.map((model) => model.id)).toEqual(['zsd-test-model', 'gpt-3.5-turbo']);
  });
});

describe('faults', () => {
  const prompt = recorded[0];
  // A workspace holding a few recorded lines: a server per fault kind without indexing the whole study each time.
  const smallWorkspace = temporaryDirectory();
  writeFile(
    path.join(smallWorkspace, 'query-results', 'cqa', 'test', '3', 'responses.json'),
    recorded
      .slice(0, 5)
      .map((line) => `${JSON.stringify(line)}\n`)
      .join(''),
  );
  const ask = (server: FakeOpenAIServer, options: { timeout?: number } = {}) =>
    clientFor(server, options)
      .chat.completions.create({ model: 'gpt-3.5-turbo', messages: messagesOf(prompt.complete_prompt) })
      .then(
        (completion) => ({ completion }),
        (error: unknown) => ({ error }),
      );
  const faulted = async (kind: string, extra: FakeOpenAIOptions = {}, clientOptions: { timeout?: number } = {}) => {
    const server = await start({ replay: [smallWorkspace], faults: `${kind}:1`, ...extra });
    const outcome = await ask(server, clientOptions);
    expect(server.stats()).toMatchObject({ completions: 0, misses: 0, faults: { [kind]: 1 }, byPrompt: {} });
    return outcome;
  };

  test('rate-limit: 429 with Retry-After: 1 and code rate_limit_exceeded', async () => {
    const { error } = (await faulted('rate-limit')) as { error: APIError };
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    expect(error.status).toBe(429);
    expect(error.headers?.get('retry-after')).toBe('1');
    expect(error.code).toBe('rate_limit_exceeded');
    expect(error.type).toBe('rate_limit_exceeded');
  });

  test('quota: 429 distinguishable by code insufficient_quota', async () => {
    const { error } = (await faulted('quota')) as { error: APIError };
    expect(error.status).toBe(429);
    expect(error.code).toBe('insufficient_quota');
    expect(error.headers?.get('retry-after')).toBeNull();
  });

  test.each([
    ['server-error', 500, OpenAI.InternalServerError],
    ['unavailable', 503, OpenAI.InternalServerError],
    ['auth', 401, OpenAI.AuthenticationError],
  ] as const)('%s: HTTP %d', async (kind, status, errorClass) => {
    const { error } = (await faulted(kind)) as { error: APIError };
    expect(error).toBeInstanceOf(errorClass);
    expect(error.status).toBe(status);
  });

  test('reset: a connection error, not a timeout', async () => {
    const { error } = (await faulted('reset')) as { error: APIError };
    expect(error).toBeInstanceOf(APIConnectionError);
    expect(error).not.toBeInstanceOf(APIConnectionTimeoutError);
  });

  test('hang: the socket is destroyed after hangMs (connection error), or the client times out first', async () => {
    let started = performance.now();
    const dropped = (await faulted('hang', { hangMs: 100 })) as { error: APIError };
    expect(dropped.error).toBeInstanceOf(APIConnectionError);
    expect(dropped.error).not.toBeInstanceOf(APIConnectionTimeoutError);
    expect(performance.now() - started).toBeGreaterThanOrEqual(90);
    started = performance.now();
    const timedOut = (await faulted('hang', { hangMs: 10_000 }, { timeout: 200 })) as { error: APIError };
    // Plain Node gives APIConnectionTimeoutError here. Under jest the SDK sees fetch's AbortError (a DOMException
    // of Node's realm, not `instanceof Error` of the test's realm), loses its name and reports a plain
    // APIConnectionError; so only the common class and the timing are asserted.
    expect(timedOut.error).toBeInstanceOf(APIConnectionError);
    expect(performance.now() - started).toBeLessThan(5000);
  });

  test('malformed: HTTP 200 whose JSON body does not parse', async () => {
    const { error } = (await faulted('malformed')) as { error: Error };
    expect(error.name).toBe('SyntaxError'); // from Node's realm: a name check, not instanceof
    expect(error).not.toBeInstanceOf(APIError);
  });

  test('empty: HTTP 200 with no choices', async () => {
    const { completion } = (await faulted('empty')) as { completion: OpenAI.ChatCompletion };
    expect(completion.choices).toEqual([]);
  });

  test('every kind of the grammar is covered above', () => {
    expect([...FAULT_KINDS].sort()).toEqual(['auth', 'empty', 'hang', 'malformed', 'quota', 'rate-limit', 'reset', 'server-error', 'unavailable']);
  });

  test('the schedule is deterministic for a seed and request order; after:N spares the first N requests', async () => {
    const schedule = async (faults: string): Promise<Array<number | 'reset'>> => {
      const server = await start({ fallback: 'echo', faults });
      const statuses: Array<number | 'reset'> = [];
      for (let index = 0; index < 40; index++) statuses.push(await rawChatStatus(server, `question ${index}`));
      const stats = server.stats();
      expect(stats.completions + Object.values(stats.faults).reduce((sum, count) => sum + count, 0)).toBe(40);
      expect(Object.keys(stats.byPrompt)).toHaveLength(stats.completions);
      return statuses;
    };
    const spec = 'rate-limit:0.3,server-error:0.2,reset:0.1';
    const first = await schedule(`${spec},seed:7`);
    expect(await schedule(`${spec},seed:7`)).toEqual(first);
    expect(await schedule(`${spec},seed:8`)).not.toEqual(first);
    expect(new Set(first)).toEqual(new Set([200, 429, 500, 'reset']));
    const delayed = await schedule(`${spec},seed:7,after:10`);
    expect(delayed.slice(0, 10)).toEqual(Array(10).fill(200));
    expect(delayed.slice(10)).toEqual(first.slice(0, 30));
  });

  test('parseFaultSpec reads kinds, rates, seed and after, and rejects a bad spec with a usage error', async () => {
    expect(parseFaultSpec('rate-limit:0.1, hang:0.01,seed:7,after:3')).toEqual({
      rates: [
        { kind: 'rate-limit', rate: 0.1 },
        { kind: 'hang', rate: 0.01 },
      ],
      seed: 7,
      after: 3,
    });
    expect(parseFaultSpec('')).toEqual({ rates: [], seed: 0, after: 0 });
    const rejection = (spec: string): Error => {
      try {
        parseFaultSpec(spec);
      } catch (error) {
        expect(isZsdError(error) && error.kind).toBe('usage');
        return error as Error;
      }
      throw new Error(`"${spec}" was accepted`);
    };
    expect(rejection('timeout:0.1').message).toMatch(/unknown fault kind "timeout".*kinds: rate-limit, server-error/);
    expect(rejection('rate-limit:1.5').message).toMatch(/rate "1\.5", not a number in \[0, 1\]/);
    expect(rejection('reset:-0.1').message).toMatch(/not a number in \[0, 1\]/);
    expect(rejection('reset:often').message).toMatch(/not a number in \[0, 1\]/);
    expect(rejection('rate-limit').message).toMatch(/has no ":"/);
    expect(rejection('seed:1.5').message).toMatch(/non-negative integer/);
    expect(rejection('rate-limit:0.6,server-error:0.6').message).toMatch(/add up to 1\.2/);
    await expect(startFakeOpenAI({ faults: 'teapot:1' })).rejects.toThrow(/unknown fault kind "teapot"/);
  });
});

describe('files and batches', () => {
  test('round trip with the SDK: upload JSONL, create, poll until completed, download answers with the recorded responses', async () => {
    const lines = recorded.slice(0, 3);
    const requests = [
      ...lines.map((line) => ({ custom_id: `cqa-test-3-${line.idx}`, prompt: line.complete_prompt })),
      { custom_id: 'unknown', prompt: UNKNOWN_PROMPT },
    ].map(({ custom_id, prompt }) => ({
      custom_id,
      method: 'POST',
      url: '/v1/chat/completions',
      body: { model: 'gpt-3.5-turbo', messages: messagesOf(prompt), temperature: 0 },
    }));
    const jsonl = requests.map((request) => JSON.stringify(request)).join('\n') + '\n';
    const input = await client.files.create({ file: await toFile(Buffer.from(jsonl), 'batch.jsonl'), purpose: 'batch' });
    expect(input).toMatchObject({ object: 'file', purpose: 'batch', filename: 'batch.jsonl', bytes: Buffer.byteLength(jsonl) });
    expect(input.id).toMatch(/^file-/);

    const created = await client.batches.create({ input_file_id: input.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    const statuses = [created.status];
    let batch = created;
    while (batch.status !== 'completed' && statuses.length < 10) {
      batch = await client.batches.retrieve(created.id);
      statuses.push(batch.status);
    }
    expect(statuses).toEqual(['validating', 'in_progress', 'completed']);
    expect(batch.request_counts).toEqual({ total: 4, completed: 3, failed: 1 });
    expect(batch.error_file_id).toBeNull();

    const output = await (await client.files.content(batch.output_file_id!)).text();
    const results = output
      .trimEnd()
      .split('\n')
      .map(
        (line) =>
          JSON.parse(line) as {
            custom_id: string;
            error: null;
            response: { status_code: number; body: { choices?: Array<{ message: { content: string } }>; error?: { code: string } } };
          },
      );
    expect(results.map((result) => result.custom_id)).toEqual(requests.map((request) => request.custom_id));
    lines.forEach((line, index) => {
      expect(results[index].response.status_code).toBe(200);
      expect(results[index].response.body.choices![0].message.content).toBe(line.response);
      expect(results[index].error).toBeNull();
    });
    expect(results[3].response).toMatchObject({ status_code: 404, body: { error: { code: 'no_recording' } } });
    expect(study.stats()).toMatchObject({ completions: 3, misses: 1, byPrompt: { [lines[0].complete_prompt]: 1 } });
    await expect(client.batches.cancel(created.id)).rejects.toMatchObject({ status: 400 });
  });

  test('an input file that does not validate fails the batch, naming the line', async () => {
    const bad = `${JSON.stringify({ custom_id: 'a', method: 'POST', url: '/v1/chat/completions', body: {} })}\n{"custom_id": "b", "method": "GET"`;
    const input = await client.files.create({ file: await toFile(Buffer.from(bad), 'bad.jsonl'), purpose: 'batch' });
    const created = await client.batches.create({ input_file_id: input.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    const batch = await client.batches.retrieve(created.id);
    expect(batch.status).toBe('failed');
    expect(batch.errors?.data).toEqual([expect.objectContaining({ code: 'invalid_json_line', line: 2 })]);
  });

  test('a batch can be cancelled before it completes', async () => {
    const line = JSON.stringify({
      custom_id: 'a',
      method: 'POST',
      url: '/v1/chat/completions',
      body: { model: 'gpt-3.5-turbo', messages: messagesOf(recorded[0].complete_prompt) },
    });
    const input = await client.files.create({ file: await toFile(Buffer.from(`${line}\n`), 'one.jsonl'), purpose: 'batch' });
    const created = await client.batches.create({ input_file_id: input.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    expect((await client.batches.cancel(created.id)).status).toBe('cancelled');
    expect((await client.batches.retrieve(created.id)).status).toBe('cancelled');
  });

  test('uploads are binary-safe: bytes that look like CRLF and boundaries come back unchanged', async () => {
    const bytes = Buffer.concat([
      Buffer.from(Array.from({ length: 256 }, (_, index) => index)),
      Buffer.from('\r\n--\r\n\r\n--boundary--\r\n'),
      Buffer.alloc(70_000, 0xff),
    ]);
    const uploaded = await client.files.create({ file: await toFile(bytes, 'blob.bin'), purpose: 'user_data' });
    expect((await client.files.retrieve(uploaded.id)).bytes).toBe(bytes.length);
    const downloaded = Buffer.from(await (await client.files.content(uploaded.id)).arrayBuffer());
    expect(downloaded.equals(bytes)).toBe(true);
  });
});

test('latency is added before each completion response', async () => {
  const slow = await start({ fallback: 'echo', latencyMs: 150 });
  const started = performance.now();
  await clientFor(slow).chat.completions.create({ model: 'gpt-3.5-turbo', messages: [{ role: 'user', content: 'hello' }] });
  const elapsed = performance.now() - started;
  expect(elapsed).toBeGreaterThanOrEqual(140);
  expect(elapsed).toBeLessThan(3000);
});

describe('scripted mode (OPRO tests)', () => {
  const cqaTrain = readJsonLines<{ question: string; choices: string[]; answer: string }>(path.join(DATA_ROOT, 'datasets', 'cqa', 'cqa_train.json')).lines.map(
    (line) => line.value,
  );
  const promptFor = (instruction: string, row: (typeof cqaTrain)[number]) =>
    `${instruction} ${row.question}\n${row.choices.map((choice, index) => `${'abcde'[index]}) ${choice}`).join('\n')}`;
  const script = {
    optimizer: { answers: ['<PRT>first</PRT>', '<PRT>second</PRT>'] },
    scorer: {
      task: 'cqa',
      split: 'train',
      dataRoot: DATA_ROOT,
      rules: [
        { contains: 'Reason step by step.', accuracy: 0.9 },
        { contains: 'Guess.', accuracy: 0.2, explanationRate: 0 },
      ],
      accuracy: 0.5,
    },
  };
  const chat = async (server: FakeOpenAIServer, content: string, extra: Record<string, unknown> = {}) =>
    (await clientFor(server).chat.completions.create({ model: 'gpt-3.5-turbo', messages: [{ role: 'user', content }], ...extra })).choices[0].message.content!;

  test('the optimiser answers in order of distinct requests; a request sent again gets its earlier answer; past the list, no candidate', async () => {
    const server = await start({ script });
    expect(await chat(server, 'Meta-prompt <PRT> round 1', { seed: 1 })).toBe('<PRT>first</PRT>');
    // Same prompt, other sampling parameters: another request.
    expect(await chat(server, 'Meta-prompt <PRT> round 1', { seed: 2 })).toBe('<PRT>second</PRT>');
    expect(await chat(server, 'Meta-prompt <PRT> round 1', { seed: 1 })).toBe('<PRT>first</PRT>');
    expect(await chat(server, 'Meta-prompt <PRT> round 3', { seed: 3 })).not.toMatch(/<PRT>/);
    expect(server.stats()).toMatchObject({ completions: 4, misses: 0 });
  });

  test('the scorer answers a row right with the probability its instruction earns, deterministically per (instruction, row), on nested row sets', async () => {
    const server = await start({ script });
    const rows = cqaTrain.slice(0, 40);
    const correctRows = async (instruction: string) => {
      const right = new Set<number>();
      for (const [index, row] of rows.entries()) {
        const answer = await chat(server, promptFor(instruction, row));
        const match = /^([a-e])\) (.*?)\.( |$)/.exec(answer);
        expect(match).not.toBeNull();
        expect(row.choices['abcde'.indexOf(match![1])]).toBe(match![2]);
        if (match![2] === row.answer) right.add(index);
        if (instruction === 'Guess.') expect(answer).toBe(`${match![1]}) ${match![2]}.`);
        else expect(answer.length).toBeGreaterThan(match![0].length + 20);
      }
      return right;
    };
    const good = await correctRows('Reason step by step.');
    const plain = await correctRows('Answer.');
    const bad = await correctRows('Guess.');
    expect(good.size).toBeGreaterThan(plain.size);
    expect(plain.size).toBeGreaterThan(bad.size);
    for (const index of plain) expect(good.has(index)).toBe(true);
    for (const index of bad) expect(plain.has(index)).toBe(true);
    expect(await correctRows('Reason step by step.')).toEqual(good);
    // A prompt with no row of the split is not scripted: it falls through to replay (here: no recording).
    await expect(chat(server, 'What is the capital of France?')).rejects.toMatchObject({ status: 404 });
  });

  test('parseFakeScript names the bad key', () => {
    expect(() => parseFakeScript({ scorer: { task: 'cqa', split: 'train', rules: [{ contains: 'x', accuracy: 2 }] } }, 'script.json')).toThrow(
      /script\.json, key scorer\.rules\.0\.accuracy/,
    );
    expect(() => parseFakeScript({ optimiser: {} }, 'script.json')).toThrow(/script\.json/);
  });
});

test('a multipart body the platform cannot parse is a 400 naming it', async () => {
  const response = await fetch(`${study.url}/files`, {
    method: 'POST',
    headers: { 'content-type': 'multipart/form-data; boundary=xyz' },
    body: '--xyz\r\nno headers here',
  });
  expect(response.status).toBe(400);
  expect(await response.json()).toMatchObject({
    error: { type: 'invalid_request_error', message: expect.stringMatching(/^malformed multipart\/form-data body/) },
  });
});
