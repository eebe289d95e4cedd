import * as fs from 'node:fs';
import * as path from 'node:path';
import { startFakeOpenAI, type FakeOpenAIServer, type FakeScript } from '../test-support/fake-openai/fake-openai-server';
import { DATA_ROOT, listFiles, runCliAsync, spawnCli, temporaryDirectory } from '../test-support/fixtures';

// `zsd opro` end to end through the built CLI against the scripted fake server (no recorded answers used):
// a scripted optimiser proposes instructions; a scripted scorer answers cqa train rows right with a probability
// that depends on the instruction's wording, so the search has a known best instruction to find.
const NO_OPENAI_ENV = { OPENAI_API_KEY: '', OPENAI_BASE_URL: '' };
const CHOICES = 'a){choice_a} b){choice_b} c){choice_c} d){choice_d} e){choice_e}';
const THINK = `Think about {question} with the options ${CHOICES}. Answer and explain.`;
const CAREFULLY = `Carefully consider {question}: ${CHOICES}`;
const STEPS = `Step by step, answer {question} from ${CHOICES}, then explain why.`;
const SCRIPT: FakeScript = {
  optimizer: {
    answers: [
      `Here are three:\n<PRT>${THINK}</PRT>\n<PRT>${CAREFULLY}</PRT>\n<PRT>Answer {question} briefly.</PRT>`,
      `<PRT>${CAREFULLY}</PRT>\n<PRT>${STEPS}</PRT>`,
      'I cannot improve on these templates.',
    ],
  },
  scorer: {
    task: 'cqa',
    split: 'train',
    dataRoot: DATA_ROOT,
    rules: [
      { contains: 'Step by step', accuracy: 0.95 },
      { contains: 'Carefully', accuracy: 0.7 },
      { contains: 'Think about', accuracy: 0.5 },
    ],
    accuracy: 0.3,
  },
};

const servers: FakeOpenAIServer[] = [];
afterAll(async () => Promise.all(servers.map((server) => server.close())));

async function scriptedServer(latencyMs = 0): Promise<FakeOpenAIServer> {
  const server = await startFakeOpenAI({ script: SCRIPT, latencyMs });
  servers.push(server);
  return server;
}

function oproArgs(workspace: string, server: FakeOpenAIServer, ...extra: string[]): string[] {
  return [
    'opro',
    '--task',
    'cqa',
    '--rounds',
    '3',
    '--candidates',
    '3',
    '--eval-samples',
    '20',
    '--keep-best',
    '3',
    '--workspace',
    workspace,
    '--no-recorded',
    '--base-url',
    server.url,
    '--concurrency',
    '40',
    ...extra,
  ];
}

function zsd(args: string[]) {
  return runCliAsync(args, { env: NO_OPENAI_ENV });
}

function runDirectoryOf(workspace: string): string {
  const runs = path.join(workspace, 'results', 'opro', 'cqa');
  const names = fs.readdirSync(runs).filter((name) => !name.startsWith('.'));
  expect(names).toHaveLength(1);
  return path.join(runs, names[0]);
}

function logLines(workspace: string): Array<Record<string, any>> {
  return fs
    .readFileSync(path.join(runDirectoryOf(workspace), 'log.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));
}

function dollars(stderr: string): number {
  const match = /spent: (\d+) queries, .* \$(\d+\.\d+) \(optimiser/.exec(stderr);
  expect(match).not.toBeNull();
  return Number(match![2]);
}

test('--dry-run estimates tokens and dollars per phase and sends and writes nothing; the run then finds the best instruction, counting duplicates, invalid and empty answers, and reports its cost', async () => {
  const server = await scriptedServer();
  const workspace = temporaryDirectory();
  const dry = await zsd(oproArgs(workspace, server, '--dry-run', '--completion-tokens', '17'));
  expect(dry.status).toBe(0);
  expect(dry.stderr).toContain('dry run: nothing sent');
  expect(dry.stderr).toMatch(/round 0: start templates\s+20\s+0/);
  expect(dry.stderr).toMatch(/scoring: 3 rounds x 3 candidates x 20 rows \(at most\)\s+180/);
  expect(dry.stderr).toMatch(/total: 203 queries, [\d,]+ prompt \+ ~[\d,]+ completion tokens, ~\$0\.0\d{3}/);
  expect(server.stats().requests).toBe(0);
  expect(listFiles(workspace)).toEqual([]);

  const run = await zsd(oproArgs(workspace, server));
  expect(run.stderr).toMatch(/estimated at most 203 queries/);
  expect(run.status).toBe(0);
  expect(run.stdout).toMatch(/^round 1\/3: 3 proposed, 2 scored, 0 duplicates, 1 invalid; /m);
  expect(run.stdout).toMatch(/^round 2\/3: 2 proposed, 1 scored, 1 duplicates, 0 invalid; /m);
  expect(run.stdout).toMatch(/^round 3\/3: 0 proposed, 0 scored, 0 duplicates, 0 invalid; best this round none; best so far 1\.000 \(template 96\)/m);
  expect(run.stdout).toContain(`best instruction: template 96 (accuracy 1.000 on the search rows, round 2): ${JSON.stringify(STEPS)}`);

  const lines = logLines(workspace);
  const rounds = lines.filter((line) => line.type === 'round');
  expect(rounds.map((line) => line.best_so_far.template_id)).toEqual([2, 95, 96, 96]);
  const running = rounds.map((line) => line.best_so_far.accuracy);
  expect([...running].sort((a, b) => a - b)).toEqual(running);
  expect(rounds[1].rejected).toEqual([
    { candidate: 2, reason: 'invalid', detail: 'lacks {choice_a}, {choice_b}, {choice_c}, {choice_d}, {choice_e}', instruction: 'Answer {question} briefly.' },
  ]);
  expect(rounds[2].rejected).toEqual([{ candidate: 0, reason: 'duplicate', detail: 'already scored as template 95', instruction: CAREFULLY }]);
  const candidates = lines.filter((line) => line.type === 'candidate');
  expect(candidates.map((line) => [line.round, line.candidate, line.template_id, line.instruction])).toEqual([
    [0, 0, 2, expect.stringContaining('Explain your answer with one sentence.')],
    [1, 0, 94, THINK],
    [1, 1, 95, CAREFULLY],
    [2, 1, 96, STEPS],
  ]);
  // Accuracy follows the scorer's rule for each wording; every row answered explains itself.
  const accuracy = Object.fromEntries(candidates.map((line) => [line.template_id, line.accuracy]));
  expect(accuracy[96]).toBeGreaterThan(accuracy[95]);
  expect(accuracy[95]).toBeGreaterThan(accuracy[2]);
  expect(candidates.every((line) => line.explanation_rate === 1 && line.n_rows === 20)).toBe(true);

  // Paid: 3 optimiser answers and 4 x 20 scorer answers; the reported spend is what the log's rounds cost.
  expect(server.stats().completions).toBe(83);
  expect(run.stderr).toMatch(/spent: 83 queries, .*\(optimiser 3 queries \$\d\.\d{4}, scoring 80 queries \$\d\.\d{4}\)/);
  expect(dollars(run.stderr)).toBeCloseTo(rounds[3].run_cost_usd, 4);
  const templates = fs.readFileSync(path.join(workspace, 'prompt-templates', 'cqa.yaml'), 'utf8');
  expect(templates).toContain("  96:\n    id: 96\n    system_message: ''\n    user_message: 'Step by step, answer {question}");
  expect(fs.readFileSync(path.join(workspace, 'prompt-metadata', 'cqa.yaml'), 'utf8')).toMatch(/^96:\n {2}characteristics:/m);

  // Done: the same command sends nothing.
  const again = await zsd(oproArgs(workspace, server));
  expect(again.status).toBe(0);
  expect(again.stdout).toContain('round 2/3: 2 proposed, 1 scored, 1 duplicates, 0 invalid');
  expect(again.stderr).toMatch(/spent: 0 queries/);
  expect(server.stats().completions).toBe(83);
});

test("SIGKILL after round 1, then resume: the final state equals an uninterrupted run's, and no prompt was asked twice", async () => {
  const straight = temporaryDirectory();
  const straightServer = await scriptedServer();
  expect((await zsd(oproArgs(straight, straightServer))).status).toBe(0);

  // Slow answers: whatever is on the wire when the process dies is never answered, so never paid.
  const server = await scriptedServer(150);
  const workspace = temporaryDirectory();
  const child = spawnCli(oproArgs(workspace, server), { env: NO_OPENAI_ENV });
  const log = path.join(workspace, 'results', 'opro', 'cqa');
  const exit = await new Promise<NodeJS.Signals | null>((resolve) => {
    const poll = setInterval(() => {
      const runs = fs.existsSync(log) ? fs.readdirSync(log).filter((name) => !name.startsWith('.')) : [];
      const file = runs.length > 0 ? path.join(log, runs[0], 'log.jsonl') : '';
      if (file && fs.existsSync(file) && fs.readFileSync(file, 'utf8').includes('"type":"round","round":1,')) child.kill('SIGKILL');
    }, 3);
    child.on('exit', (_code, signal) => {
      clearInterval(poll);
      resolve(signal);
    });
  });
  expect(exit).toBe('SIGKILL');
  expect(
    logLines(workspace)
      .filter((line) => line.type === 'round')
      .map((line) => line.round),
  ).toEqual([0, 1]);
  const paidBeforeResume = server.stats().completions;
  expect(paidBeforeResume).toBe(1 + 20 * 3);

  const resumed = await zsd(oproArgs(workspace, server));
  expect(resumed.status).toBe(0);
  expect(resumed.stdout).toMatch(/^round 1\/3: .* \(from the log\)$/m);
  expect(resumed.stderr).toMatch(/spent: 22 queries/);

  const read = (base: string, ...parts: string[]) => fs.readFileSync(path.join(base, ...parts), 'utf8');
  const runName = path.basename(runDirectoryOf(workspace));
  expect(runName).toBe(path.basename(runDirectoryOf(straight)));
  expect(read(workspace, 'results', 'opro', 'cqa', runName, 'log.jsonl')).toBe(read(straight, 'results', 'opro', 'cqa', runName, 'log.jsonl'));
  expect(read(workspace, 'prompt-templates', 'cqa.yaml')).toBe(read(straight, 'prompt-templates', 'cqa.yaml'));
  expect(read(workspace, 'prompt-metadata', 'cqa.yaml')).toBe(read(straight, 'prompt-metadata', 'cqa.yaml'));
  const { created_at: _one, ...run } = JSON.parse(read(workspace, 'results', 'opro', 'cqa', runName, 'run.json'));
  const { created_at: _two, ...straightRun } = JSON.parse(read(straight, 'results', 'opro', 'cqa', runName, 'run.json'));
  expect(run).toEqual(straightRun);

  const { byPrompt, completions } = server.stats();
  expect(completions).toBe(straightServer.stats().completions);
  expect(Object.keys(byPrompt)).toHaveLength(83);
  expect(Object.entries(byPrompt).filter(([, count]) => count !== 1)).toEqual([]);
});

test('--max-cost stops before a query that would pass the budget, keeping whole rounds; a larger budget resumes without paying twice', async () => {
  const server = await scriptedServer();
  const workspace = temporaryDirectory();
  const capped = await zsd(oproArgs(workspace, server, '--max-cost', '0.005', '--completion-tokens', '17'));
  expect(capped.status).toBe(1);
  expect(capped.stderr).toMatch(/stopped: the next query would pass the budget of \$0\.0050/);
  expect(capped.stderr).toContain('run the same command again to resume');
  expect(dollars(capped.stderr)).toBeLessThanOrEqual(0.005);
  expect(
    logLines(workspace)
      .filter((line) => line.type === 'round')
      .map((line) => line.round),
  ).toEqual([0]);
  const paid = server.stats().completions;
  expect(paid).toBeGreaterThan(21);
  expect(paid).toBeLessThan(61);

  const more = await zsd(oproArgs(workspace, server, '--max-cost', '1', '--completion-tokens', '17'));
  expect(more.status).toBe(0);
  expect(more.stderr).toMatch(new RegExp(`spent: ${83 - paid} queries`));
  expect(
    logLines(workspace)
      .filter((line) => line.type === 'round')
      .map((line) => line.round),
  ).toEqual([0, 1, 2, 3]);
  expect(Object.values(server.stats().byPrompt).every((count) => count === 1)).toBe(true);
  expect(server.stats().completions).toBe(83);
});
