import { APIConnectionError, APIConnectionTimeoutError } from 'openai';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { clearSecrets, registerSecret } from '../core/secrets';
import { REPO_ROOT, temporaryDirectory, writeFile } from '../test-support/fixtures';
import { classifyTeacherError, TeacherClient, TeacherError } from './client';
import { resolveConnection } from './connection';
import { startFakeOpenAI, type FakeOpenAIServer } from '../test-support/fake-openai/fake-openai-server';
import type { TeacherRequest } from './request-key';

const request: TeacherRequest = { model: 'gpt-3.5-turbo', endpoint: 'chat', system: '', user: 'What is 2 + 2?', parameters: {} };

let server: FakeOpenAIServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
  clearSecrets();
});

async function failureOf(options: Parameters<typeof startFakeOpenAI>[0], apiKey = 'test', timeoutMs = 5000): Promise<TeacherError> {
  server = await startFakeOpenAI({ fallback: 'echo', ...options });
  const client = new TeacherClient({ baseURL: server.url, apiKey, timeoutMs });
  const error = await client.complete(request).then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(TeacherError);
  return error as TeacherError;
}

describe("errors are classified by the SDK's classes and the status, never by message text", () => {
  test('on the loopback server, in a real process: a hang is a timeout, a reset a connection failure, a cut body malformed', async () => {
    // In a child process (the built client): inside Jest, fetch's AbortError comes from another realm and the SDK
    // reports a timeout as a plain connection error, which is not what users run.
    server = await startFakeOpenAI({ fallback: 'echo', faults: 'hang:0.34,reset:0.33,malformed:0.33,seed:5', hangMs: 5000 });
    const script = `
      const { TeacherClient } = require(${JSON.stringify(path.join(REPO_ROOT, 'dist', 'lib', 'teacher', 'client.js'))});
      const client = new TeacherClient({ baseURL: process.argv[1], apiKey: 'test', timeoutMs: 300 });
      (async () => {
        const kinds = [];
        for (let index = 0; index < 12; index++) {
          kinds.push(await client.complete({ model: 'm', endpoint: 'chat', system: '', user: 'q' + index, parameters: {} }).then(() => 'answered', (error) => error.kind));
        }
        process.stdout.write(JSON.stringify(kinds));
      })();`;
    const child = spawn(process.execPath, ['-e', script, server.url], { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    await new Promise((resolve) => child.on('close', resolve));
    const kinds = JSON.parse(stdout) as string[];
    const faults = server.stats().faults;
    const count = (kind: string) => kinds.filter((seen) => seen === kind).length;
    expect(count('timeout')).toBe(faults.hang);
    expect(count('connection')).toBe(faults.reset);
    expect(count('malformed')).toBe(faults.malformed);
    expect(faults.hang).toBeGreaterThan(0);
    expect(faults.reset).toBeGreaterThan(0);
  }, 30_000);

  test('a message that says otherwise does not change the kind', () => {
    expect(classifyTeacherError(new APIConnectionTimeoutError({ message: 'deadline exceeded' })).kind).toBe('timeout');
    expect(classifyTeacherError(new APIConnectionError({ message: 'the proxy sent invalid JSON' })).kind).toBe('connection');
    expect(classifyTeacherError(new Error('socket timed out, as a log line might say')).kind).toBe('connection');
  });
});

test('retry-after-ms is read (in preference to retry-after), and a Retry-After in seconds too', async () => {
  const inMilliseconds = await failureOf({ faults: 'rate-limit:1', rateLimitHeaders: { 'retry-after-ms': '1500', 'retry-after': '2' } });
  expect(inMilliseconds).toMatchObject({ kind: 'rate-limit', retryable: true, retryAfterMs: 1500 });
  await server?.close();
  const inSeconds = await failureOf({ faults: 'rate-limit:1', rateLimitHeaders: { 'retry-after': '3600' } });
  expect(inSeconds.retryAfterMs).toBe(3_600_000);
});

describe('a server that quotes the Authorization header back: the key never reaches a message', () => {
  const secret = 'sk-proj-0123456789abcdefSECRET';

  test.each(['auth:1', 'server-error:1', 'unavailable:1', 'rate-limit:1'])('%s', async (faults) => {
    const workspace = temporaryDirectory();
    writeFile(path.join(workspace, '.env'), `OPENAI_API_KEY=${secret}\n`);
    const connection = resolveConnection({}, {}, path.join(workspace, '.env'));
    const error = await failureOf({ faults, echoAuthorization: true }, connection.apiKey);
    expect(error.message).toContain('Authorization: Bearer [redacted]');
    expect(error.message).not.toContain(secret);
  });

  test('every configured key is redacted, not only the one in use (flag over environment over .env)', () => {
    resolveConnection({ apiKey: 'sk-flag-key-0001' }, { OPENAI_API_KEY: 'sk-env-key-00002' });
    const error = classifyTeacherError({ status: 500, message: 'echo: sk-flag-key-0001 and sk-env-key-00002', code: null });
    expect(error.message).toBe('server error (500): echo: [redacted] and [redacted]');
    // A placeholder for a local server is too short to be a secret, and redacting it would mangle ordinary words.
    registerSecret('none');
    expect(classifyTeacherError({ status: 500, message: 'none of it', code: null }).message).toContain('none of it');
  });
});
