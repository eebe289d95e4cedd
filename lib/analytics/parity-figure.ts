import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { ZsdError } from '../core/errors';
import { readJsonLines } from '../core/jsonl';
import type { BaselineScore } from '../evaluate/baselines';
import type { NamedFigure } from './figure';
import { baseLayout, figureOf, PALETTE, rounded } from './plotly-layout';
import { seedStatistics } from './seed-statistics';

/**
 * Accuracy parity with Hugging Face (issue 20): the same from-scratch svamp student trained by `zsd train` and by
 * transformers + PyTorch on zsd's own plan (lib/student/experiments/pytorch-reference/run-arms.sh), 3 seeds per arm.
 * The runs file holds one line per finished run, written by score.js:
 *   {"framework":"zsd"|"pytorch","arm":...,"seed":...,"validationAccuracy":...,"testAccuracy":...,"step":...,"seconds":...}
 * Per arm and framework: the mean over seeds, the sample SD, min and max, and every seed. zsd is "within the seed
 * spread" of PyTorch when its mean lies between PyTorch's lowest and highest seed.
 */

/** Where the committed parity record lies (runs.jsonl, zsd's run JSONs, PyTorch's score files). */
export const SVAMP_PARITY_RESULTS = path.join('results', 'experiments', 'svamp-parity');

const parityRunSchema = z.object({
  framework: z.enum(['zsd', 'pytorch']),
  arm: z.string().min(1),
  seed: z.number().int(),
  validationAccuracy: z.number().min(0).max(1),
  testAccuracy: z.number().min(0).max(1),
  step: z.number().int(),
  seconds: z.number().nonnegative(),
});
export type ParityRun = z.infer<typeof parityRunSchema>;

/** The runs of a runs.jsonl; [] when the file does not exist yet. A line that is not a run is refused, naming it. */
export function readParityRuns(file: string): ParityRun[] {
  if (!fs.existsSync(file)) return [];
  const content = readJsonLines(file);
  if (content.tornTail)
    throw new ZsdError('invalid-file', 'the last line is cut off (a run was killed while writing it): delete that line and rerun run-arms.sh', {
      file,
      line: content.tornTail.line,
    });
  return content.lines.map(({ line, value }) => {
    const parsed = parityRunSchema.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new ZsdError('invalid-file', `key ${issue.path.join('.') || '(line)'}: ${issue.message}; expected a run line of run-arms.sh`, { file, line });
    }
    return parsed.data;
  });
}

export interface FrameworkSummary {
  n: number;
  mean: number;
  /** sample standard deviation over seeds (n - 1); null for one seed */
  sd: number | null;
  min: number;
  max: number;
  seeds: { seed: number; testAccuracy: number; validationAccuracy: number; step: number }[];
}

export interface ArmSummary {
  arm: string;
  zsd: FrameworkSummary | null;
  pytorch: FrameworkSummary | null;
  /** zsd's mean lies within [min, max] of PyTorch's seeds; null until both have a run */
  zsdWithinPytorchSpread: boolean | null;
}

/** The arms in run-arms.sh's order (standard, PaLM, gpt-3.5; each without then with number mapping), then others. */
const ARM_ORDER = [
  'standard',
  'standard-number-mapping',
  'task_prefix-palm',
  'task_prefix-palm-number-mapping',
  'task_prefix-gpt35',
  'task_prefix-gpt35-number-mapping',
];

export function summarizeParity(runs: readonly ParityRun[]): ArmSummary[] {
  const arms = [...new Set(runs.map((run) => run.arm))].sort((a, b) => armRank(a) - armRank(b) || a.localeCompare(b));
  return arms.map((arm) => {
    const zsd = summarizeFramework(runs.filter((run) => run.arm === arm && run.framework === 'zsd'));
    const pytorch = summarizeFramework(runs.filter((run) => run.arm === arm && run.framework === 'pytorch'));
    const within = zsd !== null && pytorch !== null ? zsd.mean >= pytorch.min - 1e-9 && zsd.mean <= pytorch.max + 1e-9 : null;
    return { arm, zsd, pytorch, zsdWithinPytorchSpread: within };
  });
}

/** An arm as a tick label: run-arms.sh's names read as the README's table reads them, on two or three lines. */
export function armLabel(arm: string): string {
  const mapping = arm.endsWith('-number-mapping');
  const base = mapping ? arm.slice(0, -'-number-mapping'.length) : arm;
  const names: Record<string, string> = { standard: 'standard', 'task_prefix-palm': 'step-by-step<br>PaLM', 'task_prefix-gpt35': 'step-by-step<br>gpt-3.5' };
  return `${names[base] ?? base}<br>${mapping ? 'number mapping' : 'no mapping'}`;
}

function armRank(arm: string): number {
  const index = ARM_ORDER.indexOf(arm);
  return index < 0 ? ARM_ORDER.length : index;
}

function summarizeFramework(runs: readonly ParityRun[]): FrameworkSummary | null {
  if (runs.length === 0) return null;
  const seeds = [...runs].sort((a, b) => a.seed - b.seed);
  const values = seeds.map((run) => run.testAccuracy);
  const { mean, sd } = seedStatistics(values);
  return {
    n: values.length,
    mean: mean!,
    sd,
    min: Math.min(...values),
    max: Math.max(...values),
    seeds: seeds.map((run) => ({ seed: run.seed, testAccuracy: run.testAccuracy, validationAccuracy: run.validationAccuracy, step: run.step })),
  };
}

/**
 * zsd minus PyTorch over every (arm, seed) both have run. The pair shares its data and batch order (PyTorch trains on
 * zsd's plan for that seed) and differs in init and dropout masks, so the paired difference is the sharper test of a
 * systematic gap than any one arm's spread: a trainer bug would move it away from 0 by more than its standard error.
 */
export interface PairedDifference {
  pairs: number;
  test: DifferenceSummary;
  validation: DifferenceSummary;
}
export interface DifferenceSummary {
  mean: number;
  /** sample SD of the differences; null below 2 pairs */
  sd: number | null;
  /** sd / sqrt(pairs); null below 2 pairs */
  standardError: number | null;
}

export function pairedDifference(runs: readonly ParityRun[]): PairedDifference | null {
  const key = (run: ParityRun) => `${run.arm}\u0000${run.seed}`;
  const pytorch = new Map(runs.filter((run) => run.framework === 'pytorch').map((run) => [key(run), run]));
  const pairs = runs.filter((run) => run.framework === 'zsd' && pytorch.has(key(run))).map((run) => [run, pytorch.get(key(run))!] as const);
  if (pairs.length === 0) return null;
  const summary = (values: number[]): DifferenceSummary => {
    const { mean, sd, standardError } = seedStatistics(values);
    return { mean: mean!, sd, standardError };
  };
  return {
    pairs: pairs.length,
    test: summary(pairs.map(([zsd, torch]) => zsd.testAccuracy - torch.testAccuracy)),
    validation: summary(pairs.map(([zsd, torch]) => zsd.validationAccuracy - torch.validationAccuracy)),
  };
}

/** One table row per arm: each framework's mean ± SD and seeds, and whether zsd is within PyTorch's spread. */
export function parityRows(summaries: readonly ArmSummary[]): Record<string, string | number | null>[] {
  const cell = (summary: FrameworkSummary | null) =>
    summary === null
      ? '–'
      : `${summary.mean.toFixed(3)} ± ${summary.sd === null ? '–' : summary.sd.toFixed(3)} (${summary.seeds.map((seed) => seed.testAccuracy.toFixed(3)).join(' / ')})`;
  return summaries.map((summary) => ({
    arm: summary.arm,
    zsd: cell(summary.zsd),
    pytorch: cell(summary.pytorch),
    'zsd within PyTorch spread': summary.zsdWithinPytorchSpread === null ? '–' : summary.zsdWithinPytorchSpread ? 'yes' : 'no',
  }));
}

/**
 * Test accuracy per arm, zsd and PyTorch side by side: the mean over seeds as a bar, ±1 SD as its error bar, every
 * seed as a point, and what needs no training on the same split as lines across. [] when there are no runs.
 */
export function parityFigures(runs: readonly ParityRun[], options: { source: string; baselines?: readonly BaselineScore[] }): NamedFigure[] {
  if (runs.length === 0) return [];
  const summaries = summarizeParity(runs);
  const arms = summaries.map((summary) => armLabel(summary.arm));
  const frameworks = [
    { key: 'zsd' as const, name: 'zsd (TensorFlow.js)', color: PALETTE[0] },
    { key: 'pytorch' as const, name: 'transformers + PyTorch', color: PALETTE[3] },
  ];
  const traces: Record<string, unknown>[] = [];
  for (const framework of frameworks) {
    const shown = summaries.filter((summary) => summary[framework.key] !== null);
    traces.push({
      type: 'bar',
      name: `${framework.name}: mean over seeds (± 1 SD)`,
      legendgroup: framework.key,
      offsetgroup: framework.key,
      x: shown.map((summary) => armLabel(summary.arm)),
      y: shown.map((summary) => summary[framework.key]!.mean),
      text: shown.map((summary) => summary[framework.key]!.mean.toFixed(3)),
      textposition: 'inside',
      insidetextanchor: 'start',
      error_y: { type: 'data', array: shown.map((summary) => summary[framework.key]!.sd ?? 0), color: '#444' },
      marker: { color: framework.color, opacity: 0.55 },
    });
    traces.push({
      type: 'scatter',
      mode: 'markers',
      name: `${framework.name}: one seed`,
      legendgroup: framework.key,
      offsetgroup: framework.key,
      x: shown.flatMap((summary) => summary[framework.key]!.seeds.map(() => armLabel(summary.arm))),
      y: shown.flatMap((summary) => summary[framework.key]!.seeds.map((seed) => seed.testAccuracy)),
      text: shown.flatMap((summary) => summary[framework.key]!.seeds.map((seed) => `${framework.name}, seed ${seed.seed}`)),
      hovertemplate: '%{text}: %{y:.3f}<extra></extra>',
      marker: { color: framework.color, size: 8, symbol: 'circle-open', line: { width: 2 } },
    });
  }
  for (const baseline of options.baselines ?? []) {
    traces.push({
      type: 'scatter',
      mode: 'lines',
      name: `no training: ${baseline.rule} (${baseline.accuracy.toFixed(3)})`,
      x: arms,
      y: arms.map(() => baseline.accuracy),
      line: { color: '#888', dash: baseline.referenceAccuracy === null ? 'dot' : 'dash', width: 1.5 },
      hovertemplate: `${baseline.name}: %{y:.3f}<extra></extra>`,
    });
  }
  const title = 'svamp from scratch, zsd vs transformers + PyTorch: test accuracy over 3 seeds';
  const layout = baseLayout(title, 'student', 'test accuracy (checkpoint selected on validation)', {
    barmode: 'group',
    scattermode: 'group',
    xaxis: { title: { text: 'student' }, type: 'category', categoryorder: 'array', categoryarray: arms, tickangle: 0 },
    showlegend: true,
    height: 560,
  });
  return [
    {
      name: 'svamp-parity-test-accuracy',
      title,
      figure: figureOf(traces, layout),
      data: {
        source: options.source,
        metric: 'test accuracy of the checkpoint with the best validation accuracy; SD over seeds (n - 1)',
        baselines: (options.baselines ?? []).map((baseline) => ({ name: baseline.name, rule: baseline.rule, accuracy: rounded(baseline.accuracy) })),
        pairedDifference: roundedDifference(pairedDifference(runs)),
        arms: summaries.map((summary) => ({
          arm: summary.arm,
          zsdWithinPytorchSpread: summary.zsdWithinPytorchSpread,
          zsd: roundedSummary(summary.zsd),
          pytorch: roundedSummary(summary.pytorch),
        })),
      },
    },
  ];
}

function roundedSummary(summary: FrameworkSummary | null): unknown {
  if (summary === null) return null;
  return { ...summary, mean: rounded(summary.mean), sd: rounded(summary.sd), min: rounded(summary.min), max: rounded(summary.max) };
}

function roundedDifference(difference: PairedDifference | null): unknown {
  if (difference === null) return null;
  const round = (summary: DifferenceSummary) => ({ mean: rounded(summary.mean), sd: rounded(summary.sd), standardError: rounded(summary.standardError) });
  return { pairs: difference.pairs, test: round(difference.test), validation: round(difference.validation) };
}
