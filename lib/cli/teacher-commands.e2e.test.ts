import * as fs from 'node:fs';
import * as path from 'node:path';
import { readJsonLines } from '../core/jsonl';
import { numpyPermutationOfRange } from '../core/numpy-random';
import { subsampleExplanations } from '../prompts/mixes';
import { startFakeOpenAI, type FakeOpenAIServer } from '../test-support/fake-openai/fake-openai-server';
import { DATA_ROOT, listFiles, runCliAsync, temporaryDirectory, writeFile } from '../test-support/fixtures';

// End to end through the built CLI against the loopback server: query, experiment, generate, dry runs, budgets,
// bad input. The child gets no OpenAI settings from this machine's environment.
const NO_OPENAI_ENV = { OPENAI_API_KEY: '', OPENAI_BASE_URL: '' };
const STUDY = path.join(DATA_ROOT, 'zero-shot');

let server: FakeOpenAIServer;
afterEach(async () => server?.close());

async function replayServer(options: Parameters<typeof startFakeOpenAI>[0] = {}) {
  server = await startFakeOpenAI({ replay: [STUDY], ...options });
  return server;
}

function zsd(args: string[], env: NodeJS.ProcessEnv = {}) {
  return runCliAsync(args, { env: { ...NO_OPENAI_ENV, ...env } });
}

function readLines(file: string): Record<string, unknown>[] {
  return fs
    .readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));
}

test('generate svamp with mix 4 over train and test (1000 rows) from the fake server: zero misses, evaluate reproduces the recorded accuracy, a re-run sends nothing', async () => {
  await replayServer();
  const workspace = temporaryDirectory();
  const args = ['generate', '--task', 'svamp', '--mix', '4', '--splits', 'train,test', '--workspace', workspace, '--no-recorded', '--base-url', server.url];
  const first = await zsd(args);
  expect(first.stderr).toContain('spent: 1000 queries');
  expect(first.status).toBe(0);
  expect(server.stats()).toMatchObject({ completions: 1000, misses: 0 });

  const train = path.join(workspace, 'datasets', 'svamp', 'gpt_35_turbo', '4', 'train_CoT.json');
  const test = path.join(workspace, 'datasets', 'svamp', 'gpt_35_turbo', '4', 'test_CoT.json');
  expect(readLines(train)).toHaveLength(800);
  expect(readLines(test)).toHaveLength(200);
  // The study's json.dump format: ", " and ": " separators, keys label then explanation.
  expect(fs.readFileSync(test, 'utf8').split('\n')[0]).toMatch(/^\{"label": (".*"|null), "explanation": (".*"|null)\}$/);

  const evaluated = await zsd([
    'evaluate',
    '--task',
    'svamp',
    '--split',
    'test',
    '--templates',
    '2',
    '--json',
    '--no-write',
    '--workspace',
    workspace,
    '--no-recorded',
  ]);
  expect(evaluated.status).toBe(0);
  expect(JSON.parse(evaluated.stdout)['2'].accuracy).toBeCloseTo(0.72, 10);
  const labels = readLines(test).map((line) => line.label);
  expect(labels.filter((label) => label !== null)).toHaveLength(200);

  const again = await zsd([...args, '--explanation-rate', '0.5']);
  expect(again.status).toBe(0);
  expect(again.stderr).toContain('saved by the store: 1000 answers');
  expect(server.stats().completions).toBe(1000);
  // Explanation subsampling on train only, numpy seed 100, one draw per row with an explanation.
  const before = readLines(test);
  const subsampled = readLines(train).map((line) => line.explanation !== null);
  expect(subsampled).toEqual(subsampleExplanations(new Array(800).fill(true), 0.5));
  expect(readLines(test)).toEqual(before);
});

test("experiment draws the study's rows (numpy seed 42) and reproduces its counts; all from the recorded study, no key needed", async () => {
  const workspace = temporaryDirectory();
  const result = await zsd(['experiment', '--task', 'cqa', '--samples', '75', '--seed', '42', '--templates', '1,2', '--workspace', workspace]);
  expect(result.stderr).toContain('spent: 0 queries');
  expect(result.stderr).toContain('saved by the store: 150 answers');
  expect(result.status).toBe(0);
  // The study's published prompt metadata: template 1 45/75 correct, template 2 53/75.
  expect(result.stdout).toMatch(/^\s*1\s+0\.600\b/m);
  expect(result.stdout).toMatch(/^\s*2\s+0\.707\b/m);
  expect(result.stdout).toContain('best template: 2 (accuracy 0.7067)');
  const recorded = readJsonLines<{ idx: number }>(path.join(STUDY, 'query-results', 'cqa', 'train', '1', 'responses.json')).lines.map(({ value }) => value.idx);
  expect(numpyPermutationOfRange(9741, 42).slice(0, 75)).toEqual(recorded);
  expect(fs.readFileSync(path.join(workspace, 'prompt-metadata', 'cqa.yaml'), 'utf8')).toMatch(/accuracy: 0\.7067/);
});

test('query --dry-run counts prompt tokens and estimates dollars, sends and writes nothing', async () => {
  await replayServer();
  const workspace = temporaryDirectory();
  const result = await zsd([
    'query',
    '--task',
    'svamp',
    '--split',
    'test',
    '--templates',
    '1,3',
    '--workspace',
    workspace,
    '--no-recorded',
    '--base-url',
    server.url,
    '--dry-run',
    '--completion-tokens',
    '100',
  ]);
  expect(result.status).toBe(0);
  expect(result.stderr).toMatch(/svamp\s+test\s+1\s+200\s+0\s+\d+\s+20000\s+100\.0 \(flag\)/);
  expect(result.stderr).toContain('total: 400 queries');
  expect(server.stats().requests).toBe(0);
  expect(listFiles(workspace)).toEqual([]);
});

test('--max-cost stops before the budget is passed; the re-run with a larger budget resumes and pays only the rest', async () => {
  await replayServer();
  const workspace = temporaryDirectory();
  const base = [
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
    '--completion-tokens',
    '120',
    '--concurrency',
    '4',
  ];
  const limited = await zsd([...base, '--max-cost', '0.02']);
  expect(limited.status).toBe(1);
  expect(limited.stderr).toMatch(/stopped: the next query would pass the budget of \$0\.0200/);
  const spent = Number(/spent: \d+ queries, .*\$(\d+\.\d+)/.exec(limited.stderr)?.[1]);
  expect(spent).toBeLessThanOrEqual(0.02);
  const paid = server.stats().completions;
  expect(paid).toBeGreaterThan(10);
  expect(paid).toBeLessThan(200);

  const rest = await zsd([...base, '--max-cost', '10']);
  expect(rest.status).toBe(0);
  expect(rest.stderr).toContain(`saved by the store: ${paid} answers`);
  expect(server.stats().completions).toBe(200);
  expect(Object.values(server.stats().byPrompt).every((count) => count === 1)).toBe(true);
});

test('--batch goes through the Batch API at half price; a budget below the batch estimate sends nothing', async () => {
  await replayServer({ batchCompletionPolls: 2 });
  const workspace = temporaryDirectory();
  const args = [
    'query',
    '--task',
    'svamp',
    '--split',
    'test',
    '--templates',
    '1',
    '--samples',
    '20',
    '--workspace',
    workspace,
    '--no-recorded',
    '--base-url',
    server.url,
    '--batch',
    '--poll-interval',
    '0.01',
  ];
  const refused = await zsd([...args, '--max-cost', '0.0001', '--completion-tokens', '100']);
  expect(refused.status).toBe(2);
  expect(refused.stderr).toMatch(/the batch is estimated at \$0\.\d+, over --max-cost \$0\.0001/);
  expect(server.stats().requests).toBe(0);

  const result = await zsd(args);
  expect(result.status).toBe(0);
  expect(server.stats()).toMatchObject({ completions: 20, misses: 0 });
  const stored = readLines(path.join(workspace, 'query-results', 'svamp', 'test', '1', 'responses.json')) as {
    batch_id?: string;
    usage: { prompt_tokens: number; completion_tokens: number };
    cost_usd: number;
  }[];
  expect(stored).toHaveLength(20);
  for (const line of stored) {
    expect(line.batch_id).toMatch(/^batch_fake/);
    expect(line.cost_usd).toBeCloseTo((line.usage.prompt_tokens * 0.0015 + line.usage.completion_tokens * 0.002) / 2000, 12);
  }
  expect(fs.readdirSync(path.join(workspace, 'query-results', '.batches')).every((name) => name.endsWith('.done.json'))).toBe(true);
});

test('the API key comes from .env, is never written anywhere, and an unknown model needs --price', async () => {
  await replayServer({ fallback: 'echo' });
  const workspace = temporaryDirectory();
  const secret = 'zsd-test-secret-0123456789abcdefghij';
  writeFile(path.join(workspace, '.env'), `# local settings\nOPENAI_API_KEY="${secret}"\nOPENAI_BASE_URL=${server.url}\n`);
  const args = ['query', '--task', 'svamp', '--split', 'test', '--templates', '1', '--samples', '5', '--workspace', workspace, '--no-recorded'];

  const unpriced = await zsd([...args, '--model', 'my-local-model']);
  expect(unpriced.status).toBe(2);
  expect(unpriced.stderr).toContain('no price for model "my-local-model"');
  expect(server.stats().requests).toBe(0);

  const priced = await zsd([...args, '--model', 'my-local-model', '--price', '0,0']);
  expect(priced.status).toBe(0);
  expect(server.stats().completions).toBe(5);
  for (const file of listFiles(workspace).filter((name) => name !== '.env')) {
    expect(fs.readFileSync(path.join(workspace, file), 'utf8')).not.toContain(secret);
  }
  expect(priced.stdout + priced.stderr).not.toContain(secret);
});

describe('bad input: a clear error, a non-zero exit, nothing written', () => {
  const cases: [string, (workspace: string) => string[], RegExp][] = [
    [
      'mix fractions that do not sum to 1',
      (workspace) => {
        writeFile(path.join(workspace, 'prompt-mixes', 'half.yaml'), 'seed: 1\nlabel:\n  1: 0.5\n  2: 0.4\nexplanation:\n  1: 1.0\n');
        return ['generate', '--task', 'svamp', '--mix', 'half'];
      },
      /half\.yaml:2, key label: fractions of label sum to 0\.9; expected 1/,
    ],
    [
      'a template id in a mix that does not exist',
      (workspace) => {
        writeFile(path.join(workspace, 'prompt-mixes', 'ghost.yaml'), 'seed: 1\nlabel:\n  1: 1.0\nexplanation:\n  9: 1.0\n');
        return ['generate', '--task', 'svamp', '--mix', 'ghost'];
      },
      /ghost\.yaml:5, key explanation\.9: template 9 .* does not exist in prompt-templates\/svamp\.yaml/,
    ],
    [
      '--explanation-rate outside [0, 1]',
      () => ['generate', '--task', 'svamp', '--mix', '4', '--explanation-rate', '1.5'],
      /--explanation-rate expects a number in \[0, 1\], got 1\.5/,
    ],
    [
      '--concurrency 0',
      () => ['query', '--task', 'svamp', '--split', 'test', '--templates', '1', '--concurrency', '0'],
      /--concurrency expects an integer in \[1, 1024\], got 0/,
    ],
    [
      'an unknown model without --price',
      () => ['query', '--task', 'svamp', '--split', 'test', '--templates', '1', '--model', 'gpt-99'],
      /no price for model "gpt-99"/,
    ],
    [
      'a template the task does not have',
      () => ['query', '--task', 'svamp', '--split', 'test', '--templates', '42'],
      /no template with id 42 for task "svamp"/,
    ],
  ];
  test.each(cases)('%s', async (_name, argsFor, message) => {
    const workspace = temporaryDirectory();
    const args = argsFor(workspace);
    const inputs = listFiles(workspace);
    const result = await zsd([...args, '--workspace', workspace, '--no-recorded', '--base-url', 'http://127.0.0.1:9/v1']);
    expect(result.stderr).toMatch(message);
    expect(result.status).not.toBe(0);
    expect(listFiles(workspace)).toEqual(inputs);
  });
});

test('experiment --common-rows: a replay that lacks some recordings compares every template on the rows all of them answered', async () => {
  await replayServer();
  const workspace = temporaryDirectory();
  const args = [
    'experiment',
    '--task',
    'svamp',
    '--samples',
    '100',
    '--seed',
    '42',
    '--workspace',
    workspace,
    '--no-recorded',
    '--base-url',
    server.url,
    '--no-write',
  ];
  const strict = await zsd(args);
  expect(strict.status).toBe(1);
  expect(strict.stdout).toMatch(/not every row was answered/);
  // The study recorded svamp train for template 2 on all 800 rows, template 1 on 222 and template 3 on 80.
  const common = await zsd([...args, '--common-rows']);
  expect(common.status).toBe(0);
  expect(common.stdout).toContain('comparing on the 30 of 100 rows that every template answered');
  expect(common.stdout).toMatch(/best template: 2 /);
});
