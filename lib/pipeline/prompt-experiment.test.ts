import * as fs from 'node:fs';
import * as path from 'node:path';
import { startReplayServer, type ReplayServer } from '../teacher/replay-server';
import { DATA_ROOT, temporaryDirectory } from '../test-support/fixtures';
import type { PipelineEvent } from './events';
import { runPromptExperiment } from './prompt-experiment';

// The study's prompt experiment in process: its ranking from the recorded answers, and what happens when a replay
// lacks some recordings (incomplete, or compared on the rows every template answered).

test("cqa, 75 rows (numpy seed 42) x templates 1 and 2, all from the recorded study: the study's counts, metadata written", async () => {
  const workspace = temporaryDirectory();
  const events: PipelineEvent[] = [];
  const result = await runPromptExperiment({ data: DATA_ROOT, workspace, task: 'cqa', samples: 75, templates: [1, 2], onEvent: (event) => events.push(event) });
  if (result.kind !== 'ranked') throw new Error(`expected a ranking, got ${result.kind}`);
  expect(events[0]).toEqual({ kind: 'info', message: 'experiment on cqa train: 75 rows (seed 42) x 2 templates' });
  expect(result.teacherRun.summary).toMatchObject({ spent: { queries: 0 }, saved: { answers: 150 } });
  expect(result.reports.map((report) => [report.id, report.evaluation.n_correct])).toEqual([
    [2, 53],
    [1, 45],
  ]);
  expect(result.best?.id).toBe(2);
  expect(result).toMatchObject({ sampledRows: 75, comparedRows: 75 });
  expect(result.metadataFile).toBe(path.join(workspace, 'prompt-metadata', 'cqa.yaml'));
  expect(fs.readFileSync(result.metadataFile as string, 'utf8')).toMatch(/accuracy: 0\.7067/);
});

describe('a replay that lacks some recordings', () => {
  let server: ReplayServer;
  beforeAll(async () => {
    server = await startReplayServer({ replay: [path.join(DATA_ROOT, 'zero-shot')] });
  });
  afterAll(async () => server?.close());

  const options = (workspace: string, commonRows: boolean) => ({
    data: DATA_ROOT,
    workspace,
    recorded: false,
    task: 'svamp',
    samples: 100,
    writeMetadata: false,
    commonRows,
    teacher: { baseUrl: server.url, apiKey: '' },
    querying: { maxAttempts: 1 },
  });

  test('incomplete by default; with commonRows, every template compared on the rows all of them answered', async () => {
    const workspace = temporaryDirectory();
    const strict = await runPromptExperiment(options(workspace, false));
    expect(strict.kind).toBe('incomplete');
    if (strict.kind !== 'incomplete') return;
    expect(strict.teacherRun.summary.failures.map((failure) => failure.kind)).not.toEqual([]);
    // The study recorded svamp train for template 2 on all 800 rows, template 1 on 222 and template 3 on 80.
    const common = await runPromptExperiment(options(workspace, true));
    if (common.kind !== 'ranked') throw new Error(`expected a ranking, got ${common.kind}`);
    expect(common).toMatchObject({ sampledRows: 100, comparedRows: 30, metadataFile: undefined });
    expect(common.best?.id).toBe(2);
    expect(common.reports.every((report) => report.evaluation.n_responses === 30)).toBe(true);
  });
});
