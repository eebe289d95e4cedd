import * as fs from 'node:fs';
import * as path from 'node:path';
import { startFakeOpenAI, type FakeOpenAIServer } from '../test-support/fake-openai/fake-openai-server';
import { listFiles, runCliAsync, temporaryDirectory } from '../test-support/fixtures';

// A server (or proxy) whose error bodies quote the request's Authorization header: the built `zsd` prints the
// error, but never the key, whether it came from the environment or the --api-key flag.

let server: FakeOpenAIServer;
afterEach(async () => server?.close());

const secret = 'sk-proj-issue15-0123456789abcdefghij';

test.each([
  [
    '401 (stops the run), key from the environment',
    'auth:1',
    { OPENAI_API_KEY: secret },
    [],
    /stopped: not authorised \(401\).*Authorization: Bearer \[redacted\]/,
  ],
  [
    '500 (fails the rows), key from --api-key',
    'server-error:1',
    { OPENAI_API_KEY: '' },
    ['--api-key', secret],
    /failed: 3 \(server\), e\.g\. server error \(500\).*Authorization: Bearer \[redacted\]/,
  ],
])('%s: the error is printed with the key redacted, and nothing written holds it', async (_name, faults, env, flags, printed) => {
  server = await startFakeOpenAI({ fallback: 'echo', faults, echoAuthorization: true });
  const workspace = temporaryDirectory();
  const result = await runCliAsync(
    [
      'query',
      '--task',
      'svamp',
      '--split',
      'test',
      '--templates',
      '1',
      '--samples',
      '3',
      '--workspace',
      workspace,
      '--no-recorded',
      '--base-url',
      server.url,
      '--max-attempts',
      '1',
      ...flags,
    ],
    { env: { OPENAI_BASE_URL: '', ...env } },
  );
  expect(result.status).toBe(1);
  expect(result.stderr).toMatch(printed);
  expect(result.stdout + result.stderr).not.toContain(secret);
  for (const file of listFiles(workspace)) expect(fs.readFileSync(path.join(workspace, file), 'utf8')).not.toContain(secret);
});
