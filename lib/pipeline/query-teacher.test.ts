import * as fs from 'node:fs';
import * as path from 'node:path';
import { readJsonLines } from '../core/jsonl';
import { startReplayServer, type ReplayServer } from '../teacher/replay-server';
import { responsesFile } from '../teacher/recorded-responses';
import { DATA_ROOT, listFiles, temporaryDirectory } from '../test-support/fixtures';
import type { PipelineEvent } from './events';
import { queryTeacher, type QueryTeacherOptions } from './query-teacher';
import type { TeacherRunResult } from './teacher-session';

// queryTeacher in process against the loopback server replaying the recorded study: what it reports through
// events, what it returns, what a second call costs, and what an abort leaves behind.

let server: ReplayServer;
beforeAll(async () => {
  server = await startReplayServer({ replay: [path.join(DATA_ROOT, 'zero-shot')] });
});
afterAll(async () => server?.close());

function options(workspace: string, events: PipelineEvent[], more: Partial<QueryTeacherOptions> = {}): QueryTeacherOptions {
  return {
    data: DATA_ROOT,
    workspace,
    recorded: false,
    task: 'svamp',
    split: 'test',
    templates: [1, 2],
    samples: 12,
    teacher: { baseUrl: server.url, apiKey: '' },
    querying: { concurrency: 1 },
    onEvent: (event) => events.push(event),
    ...more,
  };
}

function ran(result: TeacherRunResult): Extract<TeacherRunResult, { kind: 'ran' }> {
  if (result.kind !== 'ran') throw new Error(`expected a run, got ${result.kind}`);
  return result;
}

test('a tiny split: events from start to finish, counts and dollars returned; a second call is answered wholly from the store', async () => {
  const workspace = temporaryDirectory();
  const events: PipelineEvent[] = [];
  server.resetStats();
  const first = await queryTeacher(options(workspace, events));
  const run = ran(first.teacherRun);
  expect(first).toMatchObject({ task: 'svamp', split: 'test', rows: 12 });
  expect(run.summary).toMatchObject({ answeredAll: true, resumable: false, notSent: 0, failures: [], saved: { answers: 0 } });
  expect(run.summary.spent.queries).toBe(24);
  expect(run.summary.spent.costUsd).toBeGreaterThan(0);
  expect(run.costsFile).toBe(path.join(workspace, 'prompt-metadata', 'svamp.yaml'));
  expect(server.stats().completions).toBe(24);

  expect(events[0]).toMatchObject({
    kind: 'query-start',
    label: 'svamp test',
    model: 'gpt-3.5-turbo',
    baseUrl: server.url,
    batch: false,
    estimate: { queries: 24, cached: 0 },
  });
  const progress = events.filter((event) => event.kind === 'query-progress');
  expect(progress.length).toBeGreaterThanOrEqual(24);
  expect(events.at(-1)).toEqual({ kind: 'query-finished', label: 'svamp test', progress: run.run.progress });

  const again = ran((await queryTeacher(options(workspace, []))).teacherRun);
  expect(again.summary.spent.queries).toBe(0);
  expect(again.summary.saved.answers).toBe(24);
  // The store's recorded usage prices what the first call paid.
  expect(again.summary.saved.costUsd).toBeCloseTo(run.summary.spent.costUsd, 10);
  expect(server.stats().completions).toBe(24);
});

test('an aborted signal stops new queries; what was answered is stored, and the next call sends only the rest', async () => {
  const workspace = temporaryDirectory();
  const controller = new AbortController();
  server.resetStats();
  const events: PipelineEvent[] = [];
  const stopped = await queryTeacher(
    options(workspace, events, {
      signal: controller.signal,
      onEvent: (event) => {
        events.push(event);
        if (event.kind === 'query-progress' && event.progress.fresh === 5) controller.abort();
      },
    }),
  );
  const run = ran(stopped.teacherRun);
  const answered = run.summary.spent.queries;
  expect(answered).toBeGreaterThanOrEqual(5);
  expect(answered).toBeLessThan(24);
  expect(run.summary).toMatchObject({ answeredAll: false, resumable: true, notSent: 24 - answered });
  expect(run.summary.stoppedBecause).toMatch(/interrupt|abort/i);
  const storedLines = (template: number) => {
    const file = responsesFile(workspace, 'svamp', 'test', template);
    return fs.existsSync(file) ? readJsonLines(file).lines.length : 0;
  };
  const stored = storedLines(1) + storedLines(2);
  expect(stored).toBe(answered);

  const rest = ran((await queryTeacher(options(workspace, []))).teacherRun);
  expect(rest.summary).toMatchObject({ answeredAll: true, saved: { answers: answered } });
  expect(rest.summary.spent.queries).toBe(24 - answered);
  expect(server.stats().completions).toBe(24);
});

test('a dry run estimates and sends and writes nothing', async () => {
  const workspace = temporaryDirectory();
  server.resetStats();
  const events: PipelineEvent[] = [];
  const result = await queryTeacher(options(workspace, events, { querying: { dryRun: true, completionTokens: 100 } }));
  expect(result.teacherRun.kind).toBe('estimate');
  expect(result.teacherRun.estimate).toMatchObject({ queries: 24, cached: 0 });
  expect(result.teacherRun.estimate.costUsd).toBeGreaterThan(0);
  expect(events).toEqual([]);
  expect(server.stats().requests).toBe(0);
  expect(listFiles(workspace)).toEqual([]);
});
