import * as fs from 'node:fs';
import * as path from 'node:path';
import { launchChromium } from '../analytics/chromium';
import { presetConfig, t5ConfigToJson } from '../student/t5-config';
import { runCliAsync, spawnCli, temporaryDirectory, writeFile } from '../test-support/fixtures';

// `zsd serve` as a user runs it, on a tiny student trained here (as train-command.e2e.test.ts trains one), queried by
// zsd's own teacher machinery (`zsd query --base-url`): the stored answers are `zsd predict`'s predictions; with
// --ui, the page's student (in headless Chromium, Debian's) answers three test inputs as predict does.
const QUICK = [
  '--subsample',
  '0.05',
  '--batch-size',
  '6',
  '--max-input-length',
  '64',
  '--max-target-length',
  '32',
  '--eval-max-new-tokens',
  '6',
  '--lr',
  '0.02',
  '--schedule',
  'constant',
];

async function trainTinyStudent(workspace: string): Promise<string> {
  const config = presetConfig('t5-efficient-tiny', { dModel: 32, dKv: 8, numHeads: 4, dFf: 64, numLayers: 1, dropoutRate: 0 });
  const configFile = writeFile(path.join(temporaryDirectory(), 'tiny', 'config.json'), JSON.stringify(t5ConfigToJson(config)));
  const trained = await runCliAsync([
    'train',
    '--task',
    'svamp',
    '--workspace',
    workspace,
    '--config',
    configFile,
    '--number-mapping',
    '--max-steps',
    '12',
    ...QUICK,
  ]);
  expect(trained.status).toBe(0);
  return path.join(workspace, 'results', 'svamp', 'tiny-number-mapping', 'task_prefix', 'palm', '0.05', '0', 'gt', '0.5', '64', '6', 'AdamW', '0.02', '0');
}

test('zsd query --base-url against zsd serve stores the answers zsd predict gives; SIGTERM stops the server cleanly', async () => {
  const workspace = temporaryDirectory();
  const run = await trainTinyStudent(workspace);
  const server = spawnCli(['serve', '--model', run, '--port', '0', '--max-new-tokens', '6', '--name', 'tiny-svamp', '--ui']);
  let stderr = '';
  server.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => server.on('close', resolve));
  try {
    const baseUrl = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`zsd serve did not start: ${stderr}`)), 60_000);
      server.stderr!.on('data', () => {
        const match = /serving "tiny-svamp" at (http:\/\/127\.0\.0\.1:\d+\/v1)/.exec(stderr);
        if (match) {
          clearTimeout(timer);
          resolve(match[1]);
        }
      });
      server.on('close', () => reject(new Error(`zsd serve exited: ${stderr}`)));
    });
    expect(stderr).toMatch(/checkpoints\/step-000012 \([\d,]+ parameters; prefixes "predict: " \/ "explain: ", number mapping\)/);

    // svamp's template 1 is the problem alone; template 2 adds an instruction after it, which the server reads back
    // out of the prompt with the task's templates (stderr says so): both give the student the problem itself
    expect(stderr).toMatch(/prompt templates: a user message that one of .*svamp\.yaml's 3 templates rendered is read back into the task input/);
    const query = await runCliAsync([
      'query',
      '--task',
      'svamp',
      '--split',
      'test',
      '--templates',
      '1,2',
      '--samples',
      '12',
      '--workspace',
      workspace,
      '--base-url',
      baseUrl,
      '--model',
      'tiny-svamp',
      '--price',
      '0,0',
      '--temperature',
      '0',
      '--concurrency',
      '6',
    ]);
    expect(query.stderr).toContain('24 queries to send to tiny-svamp');
    expect(query.status).toBe(0);
    const storedOf = (template: number) =>
      fs
        .readFileSync(path.join(workspace, 'query-results', 'svamp', 'test', String(template), 'responses.json'), 'utf8')
        .trim()
        .split('\n')
        .map(
          (line) =>
            JSON.parse(line) as {
              idx: number;
              prompt_values: { question: string };
              response: string;
              usage: { prompt_tokens: number; completion_tokens: number };
            },
        )
        .sort((a, b) => a.idx - b.idx);
    const stored = storedOf(1);
    expect(stored).toHaveLength(12);
    expect(storedOf(2).map((line) => [line.idx, line.response])).toEqual(stored.map((line) => [line.idx, line.response]));
    for (const line of stored) expect(line.usage.prompt_tokens).toBeGreaterThan(5);

    const inputs = writeFile(
      path.join(temporaryDirectory(), 'inputs.jsonl'),
      stored.map((line) => `${JSON.stringify({ input: line.prompt_values.question })}\n`).join(''),
    );
    const predicted = await runCliAsync(['predict', '--model', path.join(run, 'checkpoints', 'step-000012'), '--input', inputs, '--max-new-tokens', '6']);
    expect(predicted.status).toBe(0);
    const predictions = predicted.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line).prediction as string);
    expect(stored.map((line) => line.response)).toEqual(predictions);
    // the test can fail: the student's answers differ between problems
    expect(new Set(predictions).size).toBeGreaterThan(1);

    // explain mode over the chat endpoint: the rationale, then the label predict gives
    const response = await fetch(`${baseUrl}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'tiny-svamp', messages: [{ role: 'user', content: `explain: ${stored[0].prompt_values.question}` }] }),
    });
    const answer = (await response.json()) as { choices: { message: { content: string }; zsd: { label: string; rationale: string } }[] };
    expect(answer.choices[0].zsd.label).toBe(predictions[0]);
    expect(answer.choices[0].message.content).toBe(`${answer.choices[0].zsd.rationale}\n\nSo the answer is ${predictions[0]}`);

    // --ui: the page's student, running in Chromium on TensorFlow.js' wasm backend, answers as predict does
    expect(stderr).toContain(`page: ${baseUrl.replace(/\/v1$/, '/')}`);
    const browser = await launchChromium();
    try {
      const page = await browser.context.newPage();
      const pageErrors: string[] = [];
      page.on('pageerror', (error) => pageErrors.push(error.message));
      await page.goto(baseUrl.replace(/\/v1$/, '/'));
      await page.waitForFunction("document.getElementById('status').dataset.state !== 'loading'", null, { timeout: 60_000 });
      expect(pageErrors).toEqual([]);
      expect(await page.textContent('#status')).toBe('Ready: the student runs in this page.');
      expect(await page.textContent('#browser-backend')).toMatch(/^@tensorflow\/tfjs-backend-wasm/);
      for (let index = 0; index < 3; index++) {
        await page.fill('#input', stored[index].prompt_values.question);
        await page.click('#submit');
        await page.waitForFunction(`document.getElementById('answers').dataset.answered === '${index + 1}'`, null, { timeout: 60_000 });
        expect(await page.getAttribute('#browser-answer', 'data-label')).toBe(predictions[index]);
        expect(await page.getAttribute('#server-answer', 'data-label')).toBe(predictions[index]);
      }
    } finally {
      await browser.close();
    }

    // teacher vs student against the running server: the study's recorded answers and the student's on the same rows
    const compared = await runCliAsync([
      'compare',
      '--task',
      'svamp',
      '--template',
      '1',
      '--student-url',
      baseUrl,
      '--student-name',
      'tiny-svamp',
      '--rows',
      '12',
      '--workspace',
      workspace,
    ]);
    expect(compared.stderr).toBe(`written: ${path.join(workspace, 'analytics', 'teacher-vs-student', 'svamp-test-1.json')}\n`);
    expect(compared.status).toBe(0);
    expect(compared.stdout).toMatch(
      /^svamp test, 12 rows \(template 1's recorded answers\):\n.*model\s+accuracy\s+explanation rate\s+p50 ms\s+p95 ms\s+answers\/s\s+\$ per 1,000\s+parameters/,
    );
    expect(compared.stdout).toMatch(/\nteacher\s+gpt-3\.5-turbo\s+0\.\d+\s+\d\.\d+\s+n\/a\s+n\/a\s+n\/a\s+0\.\d+\s+n\/a\n/);
    expect(compared.stdout).toMatch(/\nstudent\s+tiny-svamp\s+[\d.]+\s+[\d.]+\s+\d+\s+\d+\s+\d+\.\d+\s+0\.\d+\s+1\.0M\n/);
    const saved = JSON.parse(fs.readFileSync(path.join(workspace, 'analytics', 'teacher-vs-student', 'svamp-test-1.json'), 'utf8'));
    expect(saved).toMatchObject({
      task: 'svamp',
      split: 'test',
      template: 1,
      rows: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
      student: { name: 'tiny-svamp', answers: 12 },
      teacher: { answers: 12 },
    });
  } finally {
    server.kill('SIGTERM');
  }
  expect(await exited).toBe(0);
  expect(stderr).toMatch(/SIGTERM: no new requests/);
  expect(stderr).toMatch(/stopped: 40 answers in \d+ generation calls/);
}, 300_000); // seven zsd processes and a browser, one after the other: minutes on 2 busy cores

test('zsd serve refuses a path that holds no student, naming it', async () => {
  const empty = temporaryDirectory();
  const result = await runCliAsync(['serve', '--model', empty, '--port', '0']);
  expect(result.status).toBe(1);
  expect(result.stderr).toContain(`${empty} is not a checkpoint`);
});
