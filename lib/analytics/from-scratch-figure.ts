import * as path from 'node:path';
import { isZsdError } from '../core/errors';
import { resolveDataRoot } from '../core/paths';
import { getTask } from '../data/tasks';
import { taskBaselines, type BaselineScore } from '../evaluate/baselines';
import { listRuns, RUN_KEY_FIELDS, runKeySegment, type RunKey, type RunRecord } from '../student/train-results';
import type { NamedFigure } from './figure';
import { baseLayout, figureOf, PALETTE, rounded } from './plotly-layout';
import { methodName } from './student-figures';
import { seedStatistics } from './seed-statistics';

/**
 * Figures of zsd's own student runs read straight from a results tree (lib/student/train-results `listRuns`), one
 * point per seed: the from-scratch experiment (notebook 05; `lib/student/experiments/svamp-from-scratch.sh`) and the
 * small runs notebook 06 trains.
 * - test accuracy per variant (standard / step-by-step PaLM / step-by-step gpt-3.5): the mean over seeds as a bar,
 *   min–max as its error bar, every seed as a point; the JSON also has the SEM;
 * - validation accuracy over training steps, one line per run, coloured by variant;
 * - training loss over steps, one line per run (label and rationale losses in the JSON).
 * Unlike the study's aggregation (best-runs.ts: mean of the 3 best runs by validation accuracy), every finished
 * seed counts: a from-scratch experiment has exactly the seeds it planned.
 */

/** Where the committed from-scratch experiment's results tree lies in the workspace (a results root of its own). */
export const SVAMP_FROM_SCRATCH_RESULTS = path.join('results', 'experiments', 'svamp-from-scratch');

/** Runs of one configuration (everything in the run key but the run number). */
export interface RunVariant {
  /** the method (standard fine-tuning, step-by-step PaLM, ...), with the settings that tell two variants of one method apart */
  name: string;
  key: Omit<RunKey, 'run'>;
  runs: RunRecord[];
}

const VARIANT_FIELDS = RUN_KEY_FIELDS.filter((field) => field !== 'run');

/** Groups runs by configuration, standard first, then step-by-step by teacher (PaLM, gpt-3.5, others). */
export function groupRunsByVariant(runs: readonly RunRecord[]): RunVariant[] {
  const groups = new Map<string, RunVariant>();
  for (const run of runs) {
    const key = run.config.key;
    const id = VARIANT_FIELDS.map((field) => runKeySegment(field, key[field])).join('/');
    const group = groups.get(id) ?? { name: methodOf(key), key: withoutRun(key), runs: [] };
    group.runs.push(run);
    groups.set(id, group);
  }
  const variants = [...groups.values()];
  const methods = variants.map((variant) => variant.name);
  variants.forEach((variant, index) => {
    const sameMethod = variants.filter((_other, otherIndex) => methods[otherIndex] === methods[index]);
    if (sameMethod.length < 2) return;
    const differing = VARIANT_FIELDS.filter((field) => new Set(sameMethod.map((other) => String(other.key[field]))).size > 1);
    variant.name = `${methods[index]} (${differing.map((field) => `${field}=${runKeySegment(field, variant.key[field])}`).join(', ')})`;
  });
  for (const variant of variants) variant.runs.sort((a, b) => a.config.key.run - b.config.key.run);
  return variants.sort((a, b) => variantRank(a.key) - variantRank(b.key) || a.name.localeCompare(b.name));
}

function methodOf(key: RunKey): string {
  return methodName({ mode: key.mode, llm: key.llm, label_type: key.labelType });
}

function withoutRun(key: RunKey): Omit<RunKey, 'run'> {
  const { run: _run, ...rest } = key;
  return rest;
}

function variantRank(key: Omit<RunKey, 'run'>): number {
  if (key.mode === 'standard') return 0;
  const teachers = ['palm', 'gpt35'];
  const index = teachers.indexOf(key.llm);
  return 1 + (index < 0 ? teachers.length : index);
}

export interface SeedResult {
  run: number;
  testAccuracy: number;
  /** validation accuracy of the tested checkpoint */
  evalAccuracy: number | null;
  selectedStep: number;
  trainSteps: number;
  trainSeconds: number;
}

export interface VariantSummary {
  name: string;
  /** finished runs (with test.json) */
  n: number;
  /** runs without a test result yet */
  unfinished: number;
  mean: number | null;
  min: number | null;
  max: number | null;
  /** standard error of the mean over seeds (null below 2 seeds) */
  sem: number | null;
  seeds: SeedResult[];
}

export function summarizeVariant(variant: RunVariant): VariantSummary {
  const seeds: SeedResult[] = variant.runs
    .filter((run) => run.test !== null)
    .map((run) => ({
      run: run.config.key.run,
      testAccuracy: run.test!.accuracy,
      evalAccuracy: run.test!.evalAccuracy,
      selectedStep: run.test!.step,
      trainSteps: run.test!.trainSteps,
      trainSeconds: run.test!.trainDurationSeconds,
    }));
  const values = seeds.map((seed) => seed.testAccuracy);
  const { mean, standardError: sem } = seedStatistics(values);
  return {
    name: variant.name,
    n: seeds.length,
    unfinished: variant.runs.length - seeds.length,
    mean,
    min: values.length > 0 ? Math.min(...values) : null,
    max: values.length > 0 ? Math.max(...values) : null,
    sem,
    seeds,
  };
}

export interface RunFigureOptions {
  /** file-name stem */
  name: string;
  title: string;
  /** where the runs came from, for the JSON */
  source: string;
  /** what needs no training on the same test split, drawn as dashed lines across the bars */
  baselines?: readonly BaselineScore[];
}

/** Test accuracy per variant: mean over seeds (bar), min–max (error bar), every seed (point). */
export function testAccuracyFigure(runs: readonly RunRecord[], options: RunFigureOptions): NamedFigure {
  const summaries = groupRunsByVariant(runs).map(summarizeVariant);
  const shown = summaries.filter((summary) => summary.n > 0);
  const names = shown.map((summary) => summary.name);
  const traces: Record<string, unknown>[] = [
    {
      type: 'bar',
      name: 'mean over seeds (bars: min to max)',
      x: names,
      y: shown.map((summary) => summary.mean),
      text: shown.map((summary) => (summary.mean as number).toFixed(3)),
      textposition: 'inside',
      insidetextanchor: 'start',
      error_y: {
        type: 'data',
        symmetric: false,
        array: shown.map((summary) => (summary.max as number) - (summary.mean as number)),
        arrayminus: shown.map((summary) => (summary.mean as number) - (summary.min as number)),
        color: '#444',
      },
      marker: { color: shown.map((_summary, index) => PALETTE[index % PALETTE.length]), opacity: 0.55 },
    },
    {
      type: 'scatter',
      mode: 'markers',
      name: 'one seed',
      x: shown.flatMap((summary) => summary.seeds.map(() => summary.name)),
      y: shown.flatMap((summary) => summary.seeds.map((seed) => seed.testAccuracy)),
      text: shown.flatMap((summary) => summary.seeds.map((seed) => `seed ${seed.run}`)),
      hovertemplate: '%{text}: %{y:.3f}<extra></extra>',
      marker: { color: '#222', size: 8, symbol: 'circle-open' },
    },
  ];
  // the floor: each baseline a dashed line across every method (the oracle is an upper bound, dotted)
  for (const baseline of options.baselines ?? []) {
    traces.push({
      type: 'scatter',
      mode: 'lines',
      name: `no training: ${baseline.rule} (${baseline.accuracy.toFixed(3)})`,
      x: names,
      y: names.map(() => baseline.accuracy),
      line: { color: '#888', dash: baseline.referenceAccuracy === null ? 'dot' : 'dash', width: 1.5 },
      hovertemplate: `${baseline.name}: %{y:.3f}<extra></extra>`,
    });
  }
  const layout = baseLayout(options.title, 'method', 'test accuracy', {
    xaxis: { title: { text: 'method' }, type: 'category', categoryorder: 'array', categoryarray: names },
    showlegend: true,
  });
  return {
    name: options.name,
    title: options.title,
    figure: figureOf(traces, layout),
    data: {
      source: options.source,
      metric: 'test accuracy of the checkpoint with the best validation accuracy',
      baselines: (options.baselines ?? []).map((baseline) => ({ name: baseline.name, rule: baseline.rule, accuracy: rounded(baseline.accuracy) })),
      variants: summaries.map((summary) => ({
        ...summary,
        mean: rounded(summary.mean),
        min: rounded(summary.min),
        max: rounded(summary.max),
        sem: rounded(summary.sem),
      })),
    },
  };
}

/** Validation accuracy over optimizer updates, one line per run, one colour per variant. */
export function validationCurvesFigure(runs: readonly RunRecord[], options: RunFigureOptions): NamedFigure {
  return curvesFigure(runs, options, 'validation accuracy', (run) => run.eval.map((entry) => ({ step: entry.step, value: entry.accuracy })));
}

/**
 * Training loss over optimizer updates, one line per run, one colour per variant. A step-by-step run's loss mixes the
 * label and the rationale losses, so its label part is drawn too (dotted), comparable with a standard run's loss.
 * Label and rationale losses are in the JSON.
 */
export function trainingLossFigure(runs: readonly RunRecord[], options: RunFigureOptions): NamedFigure {
  const figure = curvesFigure(
    runs,
    options,
    'training loss',
    (run) => run.train.map((entry) => ({ step: entry.step, value: entry.loss })),
    (run) => ({ labelLoss: run.train.map((entry) => rounded(entry.labelLoss)), rationaleLoss: run.train.map((entry) => rounded(entry.rationaleLoss)) }),
  );
  groupRunsByVariant(runs).forEach((variant, index) => {
    const color = PALETTE[index % PALETTE.length];
    variant.runs
      .filter((run) => run.train.some((entry) => entry.rationaleLoss !== null))
      .forEach((run, position) => {
        figure.figure.data.push({
          type: 'scatter',
          mode: 'lines',
          name: `${variant.name}: label loss only`,
          legendgroup: `${variant.name}: label`,
          showlegend: position === 0,
          x: run.train.map((entry) => entry.step),
          y: run.train.map((entry) => entry.labelLoss),
          hovertemplate: `${variant.name}, seed ${run.config.key.run}, label loss, step %{x}: %{y:.4f}<extra></extra>`,
          line: { color, width: 1.5, dash: 'dot' },
        });
      });
  });
  return figure;
}

interface CurvesData {
  source: string;
  metric: string;
  runs: ({ variant: string; run: number; directory: string; steps: number[]; values: number[] } & Record<string, unknown>)[];
}

function curvesFigure(
  runs: readonly RunRecord[],
  options: RunFigureOptions,
  metric: string,
  pointsOf: (run: RunRecord) => { step: number; value: number }[],
  extrasOf: (run: RunRecord) => Record<string, unknown> = () => ({}),
): NamedFigure {
  const traces: Record<string, unknown>[] = [];
  const data: CurvesData = { source: options.source, metric, runs: [] };
  groupRunsByVariant(runs).forEach((variant, index) => {
    const color = PALETTE[index % PALETTE.length];
    variant.runs.forEach((run, position) => {
      const points = pointsOf(run);
      traces.push({
        type: 'scatter',
        mode: points.length > 1 ? 'lines+markers' : 'markers',
        name: variant.name,
        legendgroup: variant.name,
        showlegend: position === 0,
        x: points.map((point) => point.step),
        y: points.map((point) => point.value),
        text: points.map(() => `seed ${run.config.key.run}`),
        hovertemplate: `${variant.name}, %{text}, step %{x}: %{y:.4f}<extra></extra>`,
        line: { color, width: 1.5 },
        marker: { color, size: 4 },
      });
      data.runs.push({
        variant: variant.name,
        run: run.config.key.run,
        directory: run.directory,
        steps: points.map((point) => point.step),
        values: points.map((point) => rounded(point.value) as number),
        ...extrasOf(run),
      });
    });
  });
  return { name: options.name, title: options.title, figure: figureOf(traces, baseLayout(options.title, 'optimizer updates', metric)), data };
}

/**
 * The from-scratch experiment's figures (test accuracy per variant; validation curves), when `resultsRoot` has
 * finished runs; none otherwise. `experiment` names the files (`<experiment>-test-accuracy`, ...).
 */
export function fromScratchFigures(resultsRoot: string, experiment = 'svamp-from-scratch', options: { dataRoot?: string } = {}): NamedFigure[] {
  const runs = listRuns(resultsRoot);
  if (!runs.some((run) => run.test !== null)) return [];
  const taskNames = [...new Set(runs.map((run) => run.config.key.task))];
  const tasks = taskNames.join(', ');
  const baselines = taskNames.length === 1 ? testBaselines(taskNames[0], options.dataRoot ?? resolveDataRoot()) : [];
  const models = [...new Set(runs.map((run) => run.config.key.model))].join(', ');
  const seeds = new Set(runs.map((run) => run.config.key.run)).size;
  const source = `${resultsRoot} (zsd runs, listRuns)`;
  return [
    testAccuracyFigure(runs, {
      name: `${experiment}-test-accuracy`,
      title: `${tasks} from scratch (${models}): test accuracy over ${seeds} seed${seeds === 1 ? '' : 's'}`,
      source,
      baselines,
    }),
    validationCurvesFigure(runs, {
      name: `${experiment}-validation-curves`,
      title: `${tasks} from scratch (${models}): validation accuracy during training`,
      source,
    }),
  ];
}

/** The task's no-training baselines on its test split, or none where the data root does not have the task. */
export function testBaselines(task: string, dataRoot: string): BaselineScore[] {
  try {
    return taskBaselines(getTask(task, [dataRoot]), 'test', [dataRoot]).baselines;
  } catch (error) {
    if (isZsdError(error) && error.kind === 'not-found') return [];
    throw error;
  }
}

// ---- tables (rows for displayTable) ----

/** One row per variant: seeds finished, mean, min, max and SEM of the test accuracy, and each seed's. */
export function variantSummaryRows(runs: readonly RunRecord[]): Record<string, unknown>[] {
  return groupRunsByVariant(runs)
    .map(summarizeVariant)
    .map((summary) => ({
      variant: summary.name,
      seeds: summary.n,
      unfinished: summary.unfinished,
      mean_test_accuracy: summary.mean,
      min: summary.min,
      max: summary.max,
      sem: summary.sem,
      per_seed: summary.seeds.map((seed) => `${seed.run}: ${seed.testAccuracy.toFixed(3)}`).join(', '),
    }));
}

/** One row per run: variant, seed, updates, first and last logged loss, best validation accuracy, test accuracy, time. */
export function runRows(runs: readonly RunRecord[]): Record<string, unknown>[] {
  return groupRunsByVariant(runs).flatMap((variant) =>
    variant.runs.map((run) => ({
      variant: variant.name,
      seed: run.config.key.run,
      updates: run.test?.trainSteps ?? run.train.at(-1)?.step ?? 0,
      first_loss: run.train[0]?.loss ?? null,
      last_loss: run.train.at(-1)?.loss ?? null,
      best_validation_accuracy: run.eval.length > 0 ? Math.max(...run.eval.map((entry) => entry.accuracy)) : null,
      test_accuracy: run.test?.accuracy ?? null,
      train_seconds: run.test?.trainDurationSeconds ?? null,
    })),
  );
}
