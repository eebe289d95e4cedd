import * as path from 'node:path';
import { isZsdError } from '../core/errors';
import { temporaryDirectory, thrownBy, writeFile } from '../test-support/fixtures';
import { readDotEnv, resolveConnection } from './connection';

test('flags win over the environment, which wins over .env; sources are named, values of keys never', () => {
  const file = writeFile(path.join(temporaryDirectory(), '.env'), "export OPENAI_API_KEY='from-file'\nOPENAI_BASE_URL=http://localhost:11434/v1 # ollama\n");
  expect(resolveConnection({}, {}, file)).toMatchObject({
    apiKey: 'from-file',
    baseURL: 'http://localhost:11434/v1',
    baseURLSource: `OPENAI_BASE_URL in ${file}`,
  });
  expect(resolveConnection({}, { OPENAI_API_KEY: 'from-env' }, file)).toMatchObject({ apiKey: 'from-env', apiKeySource: 'OPENAI_API_KEY' });
  expect(resolveConnection({ apiKey: 'from-flag', baseUrl: 'http://127.0.0.1:8000/v1' }, { OPENAI_API_KEY: 'from-env' }, file)).toMatchObject({
    apiKey: 'from-flag',
    apiKeySource: '--api-key',
    baseURL: 'http://127.0.0.1:8000/v1',
  });
  expect(resolveConnection({}, {}, path.join(temporaryDirectory(), '.env'))).toEqual({
    apiKey: undefined,
    apiKeySource: undefined,
    baseURL: undefined,
    baseURLSource: undefined,
  });
});

test('a .env line that is not KEY=value is an error naming the file and line; a bad base URL names its source', () => {
  const file = writeFile(path.join(temporaryDirectory(), '.env'), '# comment\n\nOPENAI_API_KEY=x\nnot a setting\n');
  const error = thrownBy(() => readDotEnv(file));
  expect(isZsdError(error) && error.location).toEqual({ file, line: 4 });
  expect(String(thrownBy(() => resolveConnection({ baseUrl: 'localhost:8000' }, {}, undefined)))).toMatch(
    /--base-url: expected an http\(s\) URL|--base-url: "localhost:8000" is not a URL/,
  );
});
