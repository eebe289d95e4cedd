import * as path from 'node:path';
import { resolveWorkspace } from '../core/paths';
import { listRuns, RunResultsWriter, type RunKey } from '../student/train-results';
import { DATA_ROOT, temporaryDirectory } from '../test-support/fixtures';
import { buildFigures } from './figures';
import {
  fromScratchFigures,
  groupRunsByVariant,
  runRows,
  summarizeVariant,
  SVAMP_FROM_SCRATCH_RESULTS,
  testAccuracyFigure,
  trainingLossFigure,
  validationCurvesFigure,
  variantSummaryRows,
} from './from-scratch-figure';

// A results tree laid out as lib/student/experiments/svamp-from-scratch.sh writes it: 3 variants x 3 seeds.
const BASE: RunKey = {
  task: 'svamp',
  model: 'zsd-scratch-task-vocab',
  mode: 'standard',
  llm: 'None',
  subsample: 1,
  mix: 'None',
  labelType: 'gt',
  alpha: 1,
  maxInputLength: 96,
  batchSize: 16,
  optimizer: 'AdamW',
  learningRate: 3e-3,
  run: 0,
};
const VARIANTS: Record<string, Partial<RunKey>> = {
  standard: {},
  palm: { mode: 'task_prefix', llm: 'palm', mix: '0', alpha: 0.5 },
  gpt35: { mode: 'task_prefix', llm: 'gpt35', mix: '4', alpha: 0.5 },
};
const TEST_ACCURACY: Record<string, number[]> = { standard: [0.1, 0.15, 0.2], palm: [0.2, 0.25, 0.3], gpt35: [0.3, 0.35, 0.5] };

function writeRun(resultsRoot: string, key: RunKey, testAccuracy: number | null, stepByStep: boolean): void {
  const writer = RunResultsWriter.open(resultsRoot, { key, experimentGroup: null, category: null, config: {} });
  for (const step of [10, 20, 30]) {
    const loss = 5 / step + key.run;
    writer.recordTrain({
      step,
      epoch: step / 10,
      loss,
      labelLoss: stepByStep ? loss / 2 : loss,
      rationaleLoss: stepByStep ? loss * 1.5 : null,
      learningRate: 3e-3,
      gradientNorm: 1,
      tokensPerSecond: 1000,
      elapsedSeconds: step,
    });
    writer.recordEvaluation({
      step,
      epoch: step / 10,
      accuracy: step / 100 + key.run / 1000,
      examples: 80,
      bestAccuracy: step / 100,
      bestStep: step,
      elapsedSeconds: step,
    });
  }
  if (testAccuracy !== null) {
    writer.recordTest(
      {
        step: 30,
        selectedBy: 'validation-accuracy',
        accuracy: testAccuracy,
        examples: 200,
        evalAccuracy: 0.3,
        trainSteps: 30,
        trainDurationSeconds: 12,
        stopReason: 'completed',
      },
      [],
    );
  }
}

function experimentTree(resultsRoot: string, options: { unfinishedSeed?: boolean } = {}): void {
  for (const [variant, overrides] of Object.entries(VARIANTS)) {
    TEST_ACCURACY[variant].forEach((accuracy, run) => writeRun(resultsRoot, { ...BASE, ...overrides, run }, accuracy, variant !== 'standard'));
  }
  if (options.unfinishedSeed) writeRun(resultsRoot, { ...BASE, ...VARIANTS.gpt35, run: 3 }, null, true);
}

describe('the from-scratch experiment figures', () => {
  const resultsRoot = temporaryDirectory();
  experimentTree(resultsRoot, { unfinishedSeed: true });
  const runs = listRuns(resultsRoot);
  const options = { name: 'svamp-from-scratch-test-accuracy', title: 'test', source: resultsRoot };

  test('groups runs by configuration: standard, step-by-step PaLM, step-by-step gpt-3.5, seeds in order', () => {
    const variants = groupRunsByVariant(runs);
    expect(variants.map((variant) => variant.name)).toEqual(['standard fine-tuning', 'step-by-step PaLM', 'step-by-step gpt-3.5']);
    expect(variants.map((variant) => variant.runs.map((run) => run.config.key.run))).toEqual([
      [0, 1, 2],
      [0, 1, 2],
      [0, 1, 2, 3],
    ]);
  });

  test('two configurations of one method are named by what differs', () => {
    const root = temporaryDirectory();
    writeRun(root, BASE, 0.1, false);
    writeRun(root, { ...BASE, learningRate: 1e-3 }, 0.2, false);
    expect(groupRunsByVariant(listRuns(root)).map((variant) => variant.name)).toEqual([
      'standard fine-tuning (learningRate=0.001)',
      'standard fine-tuning (learningRate=0.003)',
    ]);
  });

  test('per variant: mean, min, max and SEM of the finished seeds; an unfinished seed is counted, not averaged', () => {
    const [standard, , gpt35] = groupRunsByVariant(runs).map(summarizeVariant);
    expect(standard).toMatchObject({ n: 3, unfinished: 0, min: 0.1, max: 0.2 });
    expect(standard.mean).toBeCloseTo(0.15, 12);
    expect(standard.sem).toBeCloseTo(0.05 / Math.sqrt(3), 12); // sample SD 0.05 over 3 seeds
    expect(gpt35).toMatchObject({ n: 3, unfinished: 1, min: 0.3, max: 0.5 });
    expect(gpt35.mean).toBeCloseTo(0.3833333333, 9);
    expect(gpt35.seeds.map((seed) => seed.testAccuracy)).toEqual([0.3, 0.35, 0.5]);
  });

  test('test accuracy: a bar per variant at the mean with min-max error bars, and every seed as a point', () => {
    const figure = testAccuracyFigure(runs, options);
    const [bars, points] = figure.figure.data as Record<string, any>[];
    expect(bars.type).toBe('bar');
    expect(bars.x).toEqual(['standard fine-tuning', 'step-by-step PaLM', 'step-by-step gpt-3.5']);
    expect(bars.y[0]).toBeCloseTo(0.15, 12);
    expect(bars.error_y.array[2]).toBeCloseTo(0.5 - 0.3833333333, 9);
    expect(bars.error_y.arrayminus[2]).toBeCloseTo(0.3833333333 - 0.3, 9);
    expect(points.y).toEqual([0.1, 0.15, 0.2, 0.2, 0.25, 0.3, 0.3, 0.35, 0.5]);
    expect(points.x.filter((name: string) => name === 'step-by-step gpt-3.5')).toHaveLength(3);
    const data = figure.data as { variants: { name: string; mean: number; unfinished: number }[] };
    expect(data.variants.map((variant) => [variant.name, variant.mean, variant.unfinished])).toEqual([
      ['standard fine-tuning', 0.15, 0],
      ['step-by-step PaLM', 0.25, 0],
      ['step-by-step gpt-3.5', 0.383333, 1],
    ]);
    expect(() => JSON.stringify(figure)).not.toThrow();
  });

  test("the task's no-training baselines are dashed lines across every method, and in the JSON", () => {
    const [figure] = fromScratchFigures(resultsRoot, 'svamp-from-scratch', { dataRoot: DATA_ROOT });
    const lines = (figure.figure.data as Record<string, any>[]).filter((trace) => trace.mode === 'lines');
    expect(lines.map((line) => line.name)).toEqual(['no training: ( max - min ) (0.210)', 'no training: the right + - * / on two of the numbers (0.790)']);
    expect(lines[0].y).toEqual([0.21, 0.21, 0.21]);
    expect(lines[0].line.dash).toBe('dash');
    expect(lines[1].line.dash).toBe('dot'); // the oracle: an upper bound, not a floor
    expect((figure.data as { baselines: unknown[] }).baselines).toEqual([
      { name: 'best single rule', rule: '( max - min )', accuracy: 0.21 },
      { name: 'oracle operation', rule: 'the right + - * / on two of the numbers', accuracy: 0.79 },
    ]);
  });

  test('validation curves: one line per run, coloured by variant, one legend entry per variant', () => {
    const figure = validationCurvesFigure(runs, { ...options, name: 'curves' });
    const traces = figure.figure.data as Record<string, any>[];
    expect(traces).toHaveLength(10);
    expect(traces.filter((trace) => trace.showlegend).map((trace) => trace.name)).toEqual([
      'standard fine-tuning',
      'step-by-step PaLM',
      'step-by-step gpt-3.5',
    ]);
    expect(traces[1].x).toEqual([10, 20, 30]);
    expect(traces[1].y).toEqual([0.101, 0.201, 0.301]);
    expect(new Set(traces.filter((trace) => trace.legendgroup === 'step-by-step PaLM').map((trace) => trace.line.color)).size).toBe(1);
  });

  test('training loss: the loss of every run, and the label part of step-by-step runs dotted', () => {
    const figure = trainingLossFigure(runs, { ...options, name: 'loss' });
    const traces = figure.figure.data as Record<string, any>[];
    const dotted = traces.filter((trace) => trace.line?.dash === 'dot');
    expect(traces).toHaveLength(10 + 7);
    expect(dotted.every((trace) => trace.name.endsWith(': label loss only'))).toBe(true);
    expect(dotted[0].y).toEqual([0.25, 0.125, 5 / 30 / 2]);
    const data = figure.data as { runs: { variant: string; rationaleLoss: (number | null)[] }[] };
    expect(data.runs[0].rationaleLoss).toEqual([null, null, null]);
    expect(data.runs[3].rationaleLoss[0]).toBeCloseTo(0.75, 6);
  });

  test('tables: one row per variant, one row per run', () => {
    expect(variantSummaryRows(runs).map((row) => [row.variant, row.seeds, row.unfinished, row.per_seed])).toEqual([
      ['standard fine-tuning', 3, 0, '0: 0.100, 1: 0.150, 2: 0.200'],
      ['step-by-step PaLM', 3, 0, '0: 0.200, 1: 0.250, 2: 0.300'],
      ['step-by-step gpt-3.5', 3, 1, '0: 0.300, 1: 0.350, 2: 0.500'],
    ]);
    const rows = runRows(runs);
    expect(rows).toHaveLength(10);
    expect(rows[0]).toMatchObject({
      variant: 'standard fine-tuning',
      seed: 0,
      updates: 30,
      first_loss: 0.5,
      best_validation_accuracy: 0.3,
      test_accuracy: 0.1,
    });
    expect(rows[9]).toMatchObject({ seed: 3, updates: 30, test_accuracy: null });
  });

  test('fromScratchFigures: two figures for a tree with finished runs, none for an empty or missing one', () => {
    expect(fromScratchFigures(resultsRoot).map((figure) => figure.name)).toEqual(['svamp-from-scratch-test-accuracy', 'svamp-from-scratch-validation-curves']);
    expect(fromScratchFigures(resultsRoot)[0].title).toMatch(/svamp from scratch \(zsd-scratch-task-vocab\): test accuracy over 4 seeds/);
    expect(fromScratchFigures(path.join(resultsRoot, 'nothing-here'))).toEqual([]);
    const unfinishedOnly = temporaryDirectory();
    writeRun(unfinishedOnly, BASE, null, false);
    expect(fromScratchFigures(unfinishedOnly)).toEqual([]);
  });

  test('buildFigures adds them, before the results/ figures, when <workspace>/results/experiments/svamp-from-scratch has runs', async () => {
    const root = temporaryDirectory();
    experimentTree(path.join(root, SVAMP_FROM_SCRATCH_RESULTS));
    const names = (await buildFigures({ dataRoot: DATA_ROOT, workspace: resolveWorkspace(DATA_ROOT, root) })).map((figure) => figure.name);
    expect(names.slice(-2)).toEqual(['svamp-from-scratch-test-accuracy', 'svamp-from-scratch-validation-curves']);
    expect(names).toContain('students-explanation-rate-cqa');
    // The experiment's tree is a results root of its own: its runs are not counted again as <workspace>/results runs.
    expect(names).not.toContain('results-students-subsampling');
  }, 120_000);
});
