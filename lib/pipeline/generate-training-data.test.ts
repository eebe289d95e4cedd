import * as fs from 'node:fs';
import * as path from 'node:path';
import { DATA_ROOT, listFiles, temporaryDirectory } from '../test-support/fixtures';
import { generateTrainingData } from './generate-training-data';

// Training data in process from the recorded study's answers (no server, no key): the files, their rates, and the
// train split's explanation subsampling reported as typed data.

test('svamp, mix 4, the first 40 rows of train and test: two files written; subsampling applied to train only', async () => {
  const workspace = temporaryDirectory();
  const result = await generateTrainingData({
    data: DATA_ROOT,
    workspace,
    task: 'svamp',
    mix: '4',
    splits: ['train', 'test'],
    samples: 40,
    explanationRate: 0.5,
  });
  if (result.kind !== 'written') throw new Error(`expected files, got ${result.kind}`);
  expect(result.teacherRun.summary).toMatchObject({ spent: { queries: 0 }, saved: { answers: 80 }, answeredAll: true });
  const [train, test] = result.files;
  expect(train).toMatchObject({ split: 'train', rows: 40, file: path.join(workspace, 'datasets', 'svamp', 'gpt_35_turbo', '4', 'train_CoT.json') });
  expect(train.subsampling).toMatchObject({ requested: 0.5, applied: true });
  expect(train.explanationRate).toBeLessThan(train.subsampling?.rateBefore as number);
  expect(test.subsampling).toBeUndefined();
  expect(test.labelRate).toBe(1);
  const lines = fs.readFileSync(test.file, 'utf8').trim().split('\n');
  expect(lines).toHaveLength(40);
  expect(lines.filter((line) => !line.includes('"explanation": null')).length / 40).toBeCloseTo(test.explanationRate, 10);
});

test('a dry run writes nothing', async () => {
  const workspace = temporaryDirectory();
  const result = await generateTrainingData({
    data: DATA_ROOT,
    workspace,
    recorded: false,
    task: 'svamp',
    mix: '4',
    splits: ['test'],
    samples: 10,
    querying: { dryRun: true, completionTokens: 50 },
  });
  expect(result.kind).toBe('estimate');
  expect(result.teacherRun.estimate.queries).toBe(10);
  expect(listFiles(workspace)).toEqual([]);
});
