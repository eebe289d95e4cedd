/** @jest-environment ./lib/test-support/host-typed-arrays-environment.js */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isZsdError } from '../core/errors';
import { presetConfig, t5ConfigToJson } from '../student/t5-config';
import { DATA_ROOT, temporaryDirectory, writeFile } from '../test-support/fixtures';
import type { PipelineEvent } from './events';
import { compareTeacherAndStudent } from './compare-teacher-and-student';
import { predictStudent } from './predict-student';
import { trainStudent } from './train-student';

// The student steps in-process, as a notebook calls them: a tiny random T5 on 5% of svamp, three updates. The host's
// typed arrays (environment above): the native backend's tensors are the host realm's Float32Arrays.
function tinyConfig(): string {
  const config = presetConfig('t5-efficient-tiny', { dModel: 32, dKv: 8, numHeads: 4, dFf: 64, numLayers: 1, dropoutRate: 0 });
  return writeFile(path.join(temporaryDirectory(), 'tiny', 'config.json'), JSON.stringify(t5ConfigToJson(config)));
}

const TINY = {
  task: 'svamp',
  data: DATA_ROOT,
  subsample: 0.05,
  batchSize: 6,
  maxInputLength: 64,
  maxTargetLength: 32,
  evalMaxNewTokens: 6,
  lr: 0.02,
  schedule: 'constant',
} as const;

test('trainStudent reports each update and evaluation as events, prints nothing, writes the run; predictStudent on its checkpoint gives its test predictions; compareTeacherAndStudent serves it', async () => {
  const workspace = temporaryDirectory();
  const events: PipelineEvent[] = [];
  const stdout = jest.spyOn(process.stdout, 'write');
  const stderr = jest.spyOn(process.stderr, 'write');
  const result = await trainStudent({ ...TINY, workspace, config: tinyConfig(), maxSteps: 3, evalSteps: 3, onEvent: (event) => events.push(event) });
  expect(stdout).not.toHaveBeenCalled();
  expect(stderr).not.toHaveBeenCalled();
  stdout.mockRestore();
  stderr.mockRestore();

  expect(result.kind).toBe('trained');
  if (result.kind !== 'trained') return;
  // the study's layout: task/model/mode/llm/subsample/mix/label/alpha/max_input/batch/optimizer/lr/run
  expect(path.relative(workspace, result.directory).split(path.sep)).toEqual([
    'results',
    'svamp',
    'tiny',
    'task_prefix',
    'palm',
    '0.05',
    '0',
    'gt',
    '0.5',
    '64',
    '6',
    'AdamW',
    '0.02',
    '0',
  ]);
  expect(result.outcome.steps).toBe(3);
  const progress = events.flatMap((event) => (event.kind === 'train-progress' ? [event.progress.step] : []));
  expect(progress).toEqual([1, 2, 3]);
  expect(events.filter((event) => event.kind === 'train-evaluation').map((event) => event.kind === 'train-evaluation' && event.step)).toEqual([3]);
  const messages = events.flatMap((event) => (event.kind === 'info' ? [event.message] : []));
  expect(messages[0]).toMatch(/^backend: /);
  // svamp has no validation split: a seeded tenth of the subsampled train is carved off for model selection
  expect(messages.find((message) => message.startsWith('training tiny on svamp'))).toMatch(/: 36 train, 4 validation, 200 test examples -> /);

  const tested = JSON.parse(fs.readFileSync(path.join(result.directory, 'predictions.json'), 'utf8')) as { input: string; prediction: string }[];
  const checkpoints = JSON.parse(fs.readFileSync(path.join(result.directory, 'checkpoints', 'checkpoints.json'), 'utf8'));
  const predicted = await predictStudent({
    model: path.join(result.directory, 'checkpoints', checkpoints.best ?? checkpoints.latest),
    inputs: tested.slice(0, 4).map((line) => line.input),
    data: DATA_ROOT,
    maxInputLength: 64,
    maxNewTokens: 6,
  });
  expect(predicted.prefix).toBe('predict: ');
  expect(predicted.predictions.map((line) => line.prediction)).toEqual(tested.slice(0, 4).map((line) => line.prediction));

  // the same student beside the teacher's recorded test answers (template 2), served in this process
  const compared = await compareTeacherAndStudent({
    task: 'svamp',
    data: DATA_ROOT,
    workspace,
    template: 2,
    model: result.directory,
    rows: 4,
    maxNewTokens: 6,
  });
  expect(compared.comparison.rows).toHaveLength(4);
  expect(compared.comparison.student.answers).toBe(4);
  expect(compared.file).toBe(path.join(workspace, 'analytics', 'teacher-vs-student', 'svamp-test-2.json'));
  expect(JSON.parse(fs.readFileSync(compared.file!, 'utf8'))).toEqual(JSON.parse(JSON.stringify(compared.comparison)));

  // a finished run is found, not trained again
  const again = await trainStudent({ ...TINY, workspace, config: tinyConfig(), maxSteps: 3, evalSteps: 3, skipFinished: true });
  expect(again).toEqual({ kind: 'finished-already', directory: result.directory, key: result.key });
});

test('a rationale source the task does not have is a usage error, and nothing is written', async () => {
  const workspace = temporaryDirectory();
  const error = await trainStudent({ ...TINY, workspace, rationales: ['flan'], maxSteps: 1 }).catch((caught: unknown) => caught);
  expect(isZsdError(error) && error.kind).toBe('usage');
  expect((error as Error).message).toMatch(/the flan rationales exist for the multi-teacher tasks only/);
  expect(fs.readdirSync(workspace)).toEqual([]);
});
