import * as fs from 'node:fs';
import * as path from 'node:path';
import { DATA_ROOT, listFiles, temporaryDirectory } from '../test-support/fixtures';
import {
  listRuns,
  pythonFloatString,
  readPredictions,
  runDirectory,
  RunResultsWriter,
  TRACKING_COLUMNS,
  trackingRow,
  type EvalEntry,
  type RunKey,
  type TestResult,
  type TrainLogEntry,
} from './train-results';

const KEY: RunKey = {
  task: 'cqa',
  model: 't5-v1_1-base',
  mode: 'task_prefix',
  llm: 'gpt35',
  subsample: 1,
  mix: '6',
  labelType: 'gt',
  alpha: 0.5,
  maxInputLength: 1024,
  batchSize: 64,
  optimizer: 'AdamW',
  learningRate: 5e-5,
  run: 0,
};

function trainEntry(step: number): TrainLogEntry {
  return {
    step,
    epoch: step / 10,
    loss: 3 - step / 10,
    labelLoss: 2,
    rationaleLoss: 4,
    learningRate: 5e-5,
    gradientNorm: 1.5,
    tokensPerSecond: 1000,
    elapsedSeconds: step,
  };
}

function evalEntry(step: number, accuracy: number): EvalEntry {
  return { step, epoch: step / 10, accuracy, examples: 10, bestAccuracy: accuracy, bestStep: step, elapsedSeconds: step };
}

test("numbers are spelled as Python's str() spells floats (the study's directory names)", () => {
  const cases: [number, string][] = [
    [1, '1.0'],
    [0.5, '0.5'],
    [5e-5, '5e-05'],
    [0.0001, '0.0001'],
    [3e-4, '0.0003'],
    [0.125, '0.125'],
    [1e16, '1e+16'],
    [123456789012345680, '1.2345678901234568e+17'],
    [1.5e-7, '1.5e-07'],
    [2e-5, '2e-05'],
    [100, '100.0'],
    [1e15, '1000000000000000.0'],
    [-2.5e-5, '-2.5e-05'],
    [0.1 + 0.2, '0.30000000000000004'],
    [123.456, '123.456'],
  ];
  for (const [value, python] of cases) expect(pythonFloatString(value)).toBe(python);
});

test("a run's directory is the study's layout with the prompt mix after the subsample", () => {
  expect(path.relative('/r', runDirectory('/r', KEY))).toBe(
    path.join('cqa', 't5-v1_1-base', 'task_prefix', 'gpt35', '1.0', '6', 'gt', '0.5', '1024', '64', 'AdamW', '5e-05', '0'),
  );
  expect(() => runDirectory('/r', { ...KEY, llm: '../x' })).toThrow(/llm = "..\/x" cannot name a directory/);
  expect(() => runDirectory('/r', { ...KEY, mix: '' })).toThrow(/mix/);
  expect(() => runDirectory('/r', { ...KEY, run: 1.5 })).toThrow(/run must be a non-negative integer/);
});

test('writing, resuming and reading runs; rows with the columns of the study tracking table', () => {
  const root = temporaryDirectory('zsd-results-');
  const config = { trainer: { batchSize: 64, learningRate: 5e-5 }, model: { d_model: 768 } };
  const writer = RunResultsWriter.open(root, { key: KEY, experimentGroup: 'Prompt mixes', category: 'step-by-step', config });
  [1, 2, 3, 4].forEach((step) => writer.recordTrain(trainEntry(step)));
  writer.recordEvaluation(evalEntry(2, 0.4));
  writer.recordEvaluation(evalEntry(4, 0.5));
  expect(fs.readdirSync(writer.directory).sort()).toEqual(['config.json', 'eval.json', 'train.json']); // no temporary files left

  // a second run in the same place is refused; a resume with another config too; a resume rewinds to its checkpoint
  expect(() => RunResultsWriter.open(root, { key: KEY, experimentGroup: 'Prompt mixes', category: 'step-by-step', config })).toThrow(/already holds a run/);
  expect(() =>
    RunResultsWriter.open(
      root,
      { key: KEY, experimentGroup: 'Prompt mixes', category: 'step-by-step', config: { ...config, trainer: { batchSize: 32, learningRate: 5e-5 } } },
      { resume: true },
    ),
  ).toThrow(/config.trainer.batchSize: 64 -> 32/);
  const resumed = RunResultsWriter.open(root, { key: KEY, experimentGroup: 'Prompt mixes', category: 'step-by-step', config }, { resume: true });
  resumed.rewindTo(3);
  expect(resumed.trainEntries().map((entry) => entry.step)).toEqual([1, 2, 3]);
  expect(resumed.evalEntries().map((entry) => entry.step)).toEqual([2]);
  [4, 5, 6].forEach((step) => resumed.recordTrain(trainEntry(step)));
  resumed.recordEvaluation(evalEntry(6, 0.6));
  const test: TestResult = {
    step: 6,
    selectedBy: 'validation-accuracy',
    accuracy: 0.55,
    examples: 2,
    evalAccuracy: 0.6,
    trainSteps: 6,
    trainDurationSeconds: 12.5,
    stopReason: 'completed',
  };
  const predictions = [
    { index: 0, input: 'q0', label: 'a', prediction: 'a', correct: true },
    { index: 1, input: 'q1', label: 'b', prediction: 'c', correct: false },
  ];
  resumed.recordTest(test, predictions);

  // an unfinished second run beside it
  const other = RunResultsWriter.open(root, { key: { ...KEY, run: 1 }, experimentGroup: null, category: null, config });
  other.recordTrain(trainEntry(1));
  // a model checkpoint below a run (its config.json is a model's) is not mistaken for a run
  fs.mkdirSync(path.join(other.directory, 'checkpoints', 'step-000001'), { recursive: true });
  fs.writeFileSync(path.join(other.directory, 'checkpoints', 'step-000001', 'config.json'), '{"d_model": 8}');

  expect(listFiles(root).filter((file) => !file.includes('checkpoints'))).toEqual(
    [
      ...['config.json', 'eval.json', 'predictions.json', 'test.json', 'train.json'].map((file) => path.join(path.relative(root, writer.directory), file)),
      ...['config.json', 'train.json'].map((file) => path.join(path.relative(root, other.directory), file)),
    ].sort(),
  );
  const runs = listRuns(root);
  expect(runs.map((run) => run.directory)).toEqual([writer.directory, other.directory]);
  expect(runs[0].config).toEqual({ kind: 'zsd-student-run', formatVersion: 1, key: KEY, experimentGroup: 'Prompt mixes', category: 'step-by-step', config });
  expect(runs[0].train.map((entry) => entry.step)).toEqual([1, 2, 3, 4, 5, 6]);
  expect(runs[0].eval.map((entry) => entry.accuracy)).toEqual([0.4, 0.6]);
  expect(runs[0].test).toEqual(test);
  expect(readPredictions(writer.directory)).toEqual(predictions);
  expect(runs[1].test).toBeNull();

  const header = fs
    .readFileSync(path.join(DATA_ROOT, 'paper', 'experiment_tracking.csv'), 'utf8')
    .split('\n')[0]
    .trim()
    .split(',');
  expect([...TRACKING_COLUMNS]).toEqual(header);
  expect(trackingRow(runs[0])).toEqual({
    experiment_group: 'Prompt mixes',
    category: 'step-by-step',
    dataset: 'cqa',
    model: 't5-v1_1-base',
    mode: 'task_prefix',
    llm: 'gpt35',
    subsample: '1.0',
    prompt_mix: '6',
    label_type: 'gt',
    alpha: '0.5',
    max_input_length: 1024,
    batch_size: 64,
    optimizer: 'AdamW',
    lr: '5e-05',
    run: 0,
    train_duration: 12.5,
    train_steps: 6,
    test_acc: 0.55,
    eval_acc: 0.6,
  });
  expect(trackingRow(runs[1])).toMatchObject({ run: 1, test_acc: null, eval_acc: null, train_steps: null });
  // rewinding a finished run (resumed from an earlier checkpoint) withdraws its test result
  RunResultsWriter.open(root, { key: KEY, experimentGroup: 'Prompt mixes', category: 'step-by-step', config }, { resume: true }).rewindTo(4);
  expect(listRuns(root)[0].test).toBeNull();
  expect(fs.existsSync(path.join(writer.directory, 'predictions.json'))).toBe(false);
  fs.rmSync(root, { recursive: true, force: true });
});
