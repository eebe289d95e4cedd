import * as fs from 'node:fs';
import * as path from 'node:path';
import { resolveWorkspace } from '../core/paths';
import { TeacherClient } from '../teacher/client';
import { startFakeOpenAI, type FakeOpenAIServer, type FakeScript } from '../test-support/fake-openai/fake-openai-server';
import { StoreRegistry } from '../teacher/query-jobs';
import type { TeacherRequest } from '../teacher/request-key';
import { temporaryDirectory, writeFile } from '../test-support/fixtures';
import { planOproRun, type OproSettings } from './plan';
import { logFileOf, readOproLog } from './run-log';
import { runOproSearch, type OproResult } from './search';

// The search in process, against the scripted fake server, on a small task of our own (train and valid splits):
// the final step and validation, and an interrupted round resumed to the state an uninterrupted run reaches.

const servers: FakeOpenAIServer[] = [];
afterAll(async () => Promise.all(servers.map((server) => server.close())));

/** A workspace with one template of a generic task "toy" whose data root holds 60 train rows and 20 valid rows. */
function toyWorkspace(): string {
  const root = path.join(temporaryDirectory(), 'workspace');
  const data = dataRootOf(root);
  const rows = (count: number, offset: number) =>
    Array.from(
      { length: count },
      (_, index) => `${JSON.stringify({ input: `toy question number ${offset + index}`, label: (offset + index) % 3 === 0 ? 'yes' : 'no' })}\n`,
    ).join('');
  writeFile(path.join(data, 'datasets', 'toy', 'toy_train.jsonl'), rows(60, 0));
  writeFile(path.join(data, 'datasets', 'toy', 'toy_valid.jsonl'), rows(20, 1000));
  writeFile(
    path.join(root, 'prompt-templates', 'toy.yaml'),
    "templates:\n  1:\n    id: 1\n    system_message: ''\n    user_message: 'Answer yes or no: {input}'\n    label_parse: '(not yes|not no|yes|no)'\n    explanation_parse: '.?(.*)'\n",
  );
  return root;
}

/** The data root beside a test workspace (the workspace must not lie inside it: that is read-only). */
function dataRootOf(root: string): string {
  return path.join(path.dirname(root), 'data');
}

function script(root: string): FakeScript {
  return {
    optimizer: {
      answers: [
        '<PRT>Quick: {input}</PRT>\n<PRT>Think it through, then answer: {input}</PRT>\n<PRT>No placeholder here</PRT>',
        '<PRT>Think it through, then answer: {input}</PRT>\n<PRT>Reason carefully, then answer: {input}</PRT>',
        'Nothing new to suggest.',
      ],
    },
    scorer: {
      task: 'toy',
      split: 'train',
      dataRoot: dataRootOf(root),
      rules: [
        { contains: 'Reason carefully', accuracy: 0.95 },
        { contains: 'Think it through', accuracy: 0.7 },
        { contains: 'Quick', accuracy: 0.2, explanationRate: 0.5 },
      ],
      accuracy: 0.45,
    },
  };
}

async function search(
  root: string,
  server: FakeOpenAIServer,
  options: { signal?: AbortSignal; afterCalls?: (calls: number) => void; final?: boolean } = {},
): Promise<OproResult> {
  const workspace = resolveWorkspace(dataRootOf(root), root);
  const settings: OproSettings = {
    workspace,
    dataRoot: dataRootOf(root),
    task: 'toy',
    split: 'train',
    seed: 7,
    evalSamples: 20,
    candidates: 3,
    keepBest: 3,
    rounds: 3,
    scorer: { model: 'gpt-3.5-turbo', endpoint: 'chat', parameters: { temperature: 0.7 } },
    optimizer: { model: 'gpt-3.5-turbo', endpoint: 'chat', parameters: { temperature: 1 } },
    finalTop: options.final ? 2 : 0,
    finalSamples: 40,
    validationSplit: 'valid',
  };
  const teacher = new TeacherClient({ baseURL: server.url, apiKey: 'test', timeoutMs: 10_000 });
  let calls = 0;
  const client = {
    complete: (request: TeacherRequest) => {
      options.afterCalls?.(++calls);
      return teacher.complete(request);
    },
  };
  return runOproSearch(planOproRun(settings), {
    workspace,
    client,
    stores: new StoreRegistry(workspace),
    scorerPrice: { prompt: 0.0015, completion: 0.002 },
    optimizerPrice: { prompt: 0.0015, completion: 0.002 },
    concurrency: 4,
    writeMetadata: true,
    signal: options.signal,
    log: () => {},
  });
}

async function scriptedServer(root: string): Promise<FakeOpenAIServer> {
  const server = await startFakeOpenAI({ script: script(root), latencyMs: 2 });
  servers.push(server);
  return server;
}

test('the search finds the instruction the scorer rewards most; the final step re-scores the top 2 on 40 rows and scores the winner on valid', async () => {
  const root = toyWorkspace();
  const server = await scriptedServer(root);
  const result = await search(root, server, { final: true });
  expect(result.finished).toBe(true);
  expect(result.completedRounds).toBe(4);
  const log = readOproLog(result.logFile);
  const rounds = [...log.rounds.values()].map(({ summary }) => summary);
  expect(rounds.map((line) => [line.round, line.proposed, line.scored, line.duplicates, line.invalid])).toEqual([
    [0, 1, 1, 0, 0],
    [1, 3, 2, 0, 1],
    [2, 2, 1, 1, 0],
    [3, 0, 0, 0, 0],
  ]);
  const bestSoFar = rounds.map((line) => line.best_so_far!.accuracy);
  expect([...bestSoFar].sort((a, b) => a - b)).toEqual(bestSoFar);
  expect(result.best?.instruction).toBe('Reason carefully, then answer: {input}');
  expect(result.best?.templateId).toBe(4);
  expect(result.final).toMatchObject({ after_round: 3, n_rows: 40, winner: { template_id: 4 } });
  expect(result.final!.scores.map((score) => score.template_id)).toEqual([4, 3]);
  expect(result.validation).toMatchObject({ split: 'valid', template_id: 4, n_rows: 20 });
  // Optimiser 3 + scoring 20 x (1 start + 3 candidates) + final (40 - 20) x 2 + validation 20: the search rows' answers reused.
  expect(server.stats().completions).toBe(3 + 80 + 40 + 20);
  expect(result.spend.cached).toBe(40);
  expect(result.spend.optimizer.queries + result.spend.scoring.queries).toBe(143);
  // The run's new templates are in prompt metadata, the start template is left alone.
  const metadata = fs.readFileSync(path.join(root, 'prompt-metadata', 'toy.yaml'), 'utf8');
  expect(metadata).toMatch(/^2:\n {2}characteristics:/m);
  expect(metadata).not.toMatch(/^1:\n {2}characteristics:/m);
});

test('a round interrupted mid-scoring (Ctrl-C) resumes to the state of an uninterrupted run, each prompt asked once', async () => {
  const straightRoot = toyWorkspace();
  await search(straightRoot, await scriptedServer(straightRoot));

  const root = toyWorkspace();
  const server = await scriptedServer(root);
  const controller = new AbortController();
  // Round 0 is 20 calls, round 1 is 1 + 40: stop in the middle of round 1's scoring.
  const first = await search(root, server, { signal: controller.signal, afterCalls: (calls) => calls === 35 && controller.abort() });
  expect(first.finished).toBe(false);
  expect(first.stoppedBecause).toBe('interrupted');
  expect([...readOproLog(first.logFile).rounds.keys()]).toEqual([0]);
  const resumed = await search(root, server);
  expect(resumed.finished).toBe(true);
  expect(resumed.spend.cached).toBeGreaterThan(0);

  const read = (base: string, file: string) => fs.readFileSync(path.join(base, file), 'utf8');
  const runDirectory = path.relative(root, path.dirname(resumed.logFile));
  expect(read(root, path.join(runDirectory, 'log.jsonl'))).toBe(read(straightRoot, path.join(runDirectory, 'log.jsonl')));
  expect(read(root, 'prompt-templates/toy.yaml')).toBe(read(straightRoot, 'prompt-templates/toy.yaml'));
  expect(read(root, 'prompt-metadata/toy.yaml')).toBe(read(straightRoot, 'prompt-metadata/toy.yaml'));
  const asked = Object.entries(server.stats().byPrompt);
  expect(asked.length).toBe(3 + 20 * 4);
  expect(asked.filter(([, count]) => count > 1)).toEqual([]);
  expect(fs.existsSync(`${logFileOf(path.dirname(resumed.logFile))}.torn`)).toBe(false);
});
