import { DATA_ROOT, listFiles, temporaryDirectory } from '../test-support/fixtures';
import type { PipelineEvent } from './events';
import { runOpro } from './run-opro';

// OPRO's dry run in process: the plan and its estimate come back as data, nothing is sent or written. (The search
// itself runs against the scripted server in lib/opro/search.test.ts and lib/cli/opro.e2e.test.ts.)

test('a dry run: the plan line as an event, the estimate per phase, nothing written', async () => {
  const workspace = temporaryDirectory();
  const events: PipelineEvent[] = [];
  const result = await runOpro({
    data: DATA_ROOT,
    workspace,
    recorded: false,
    task: 'svamp',
    rounds: 2,
    candidates: 3,
    evalSamples: 10,
    teacher: { baseUrl: 'http://127.0.0.1:9/v1' },
    querying: { dryRun: true, completionTokens: 50 },
    onEvent: (event) => events.push(event),
  });
  if (result.kind !== 'estimate') throw new Error(`expected an estimate, got ${result.kind}`);
  expect(events).toHaveLength(1);
  expect(events[0]).toMatchObject({
    kind: 'info',
    message: expect.stringMatching(/^opro on svamp train: run svamp-\w+; 10 rows \(seed 42\), 2 rounds x 3 candidates/),
  });
  expect(result.plan.rows).toHaveLength(10);
  // Round 0 scores the start template on the 10 rows; each round asks the optimiser once and scores at most 3 x 10.
  expect(result.estimate.queries).toBe(10 + 2 * (1 + 3 * 10));
  expect(listFiles(workspace)).toEqual([]);
});

test('the Batch API is refused: each round needs the answers of the one before', async () => {
  await expect(runOpro({ data: DATA_ROOT, workspace: temporaryDirectory(), task: 'svamp', querying: { batch: true } })).rejects.toThrow(
    /--batch is not supported by opro/,
  );
});
