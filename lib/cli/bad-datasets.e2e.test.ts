import * as fs from 'node:fs';
import * as path from 'node:path';
import { startFakeOpenAI, type FakeOpenAIServer } from '../test-support/fake-openai/fake-openai-server';
import { DATA_ROOT, listFiles, runCliAsync, temporaryDirectory } from '../test-support/fixtures';

// The reproductions through the built `zsd`: a data root whose svamp test split is empty, or has a line that
// is not UTF-8. query and generate refuse it, naming the file (and line); nothing is sent or written.

let server: FakeOpenAIServer;
beforeAll(async () => {
  server = await startFakeOpenAI({ fallback: 'echo' });
});
afterAll(async () => server?.close());

/** A data root like the shared one (linked, not copied) whose svamp_test.json holds `content`. */
function dataRootWithSvampTest(content: Buffer): string {
  const root = temporaryDirectory();
  for (const entry of fs.readdirSync(DATA_ROOT)) if (entry !== 'datasets') fs.symlinkSync(path.join(DATA_ROOT, entry), path.join(root, entry));
  fs.mkdirSync(path.join(root, 'datasets', 'svamp'), { recursive: true });
  for (const task of fs.readdirSync(path.join(DATA_ROOT, 'datasets'))) {
    if (task !== 'svamp') fs.symlinkSync(path.join(DATA_ROOT, 'datasets', task), path.join(root, 'datasets', task));
  }
  fs.symlinkSync(path.join(DATA_ROOT, 'datasets', 'svamp', 'svamp_train.json'), path.join(root, 'datasets', 'svamp', 'svamp_train.json'));
  fs.writeFileSync(path.join(root, 'datasets', 'svamp', 'svamp_test.json'), content);
  return root;
}

const firstLine = fs.readFileSync(path.join(DATA_ROOT, 'datasets', 'svamp', 'svamp_test.json'), 'utf8').split('\n')[0];
const notUtf8 = Buffer.concat([Buffer.from(`${firstLine}\n{"input": "Paige had 4 caf`), Buffer.from([0xe9]), Buffer.from(' cakes", "label": "( 4.0 )"}\n')]);

test.each([
  ['an empty split', Buffer.alloc(0), /svamp_test\.json: the "test" split of task "svamp" has no rows/],
  ['a line that is not UTF-8', notUtf8, /svamp_test\.json:2: line is not valid UTF-8/],
])('%s: query and generate exit non-zero naming the file, send and write nothing', async (_name, content, message) => {
  const data = dataRootWithSvampTest(content);
  for (const args of [
    ['query', '--task', 'svamp', '--split', 'test', '--templates', '1'],
    ['generate', '--task', 'svamp', '--mix', '4', '--splits', 'test'],
  ]) {
    const workspace = temporaryDirectory();
    const result = await runCliAsync([...args, '--data', data, '--workspace', workspace, '--no-recorded', '--base-url', server.url], {
      env: { ZSD_DATA: data, OPENAI_API_KEY: '' },
    });
    expect(result.stderr).toMatch(message);
    expect(result.status).toBe(1);
    expect(listFiles(workspace)).toEqual([]);
  }
  expect(server.stats().requests).toBe(0);
});
