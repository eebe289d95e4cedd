import { ZsdError } from '../core/errors';
import { trainingDataFile } from '../annotate/training-data-file';
import { readJsonLines } from '../core/jsonl';
import { resolveDataRoot, resolveWorkspace, type Workspace } from '../core/paths';
import { loadSplit, splitFile } from '../data/datasets';
import { BUILT_IN_TASKS, getTask } from '../data/tasks';
import { loadMix, mixAssignment, rowTemplates, type MixPartName } from '../prompts/mixes';
import { loadTemplates } from '../prompts/templates';
import { listRecordedTemplateIds } from '../teacher/recorded-responses';
import type { AnnotationCosts, FewShotTokenEstimate } from './annotation-costs';
import { STUDY_PUBLISHED_COSTS } from './cost-figures';
import type { NamedFigure } from './figure';
import { PROMPT_CHARACTERISTICS, type ScatterFigureData } from './prompt-experiment-figures';
import type { BoxFigureData, StudentLineData } from './student-figures';

/**
 * The tables the notebooks show, as rows for `displayTable` (display.ts): what the data root holds (01), templates
 * and mixes (01), the fitted slopes beside the study's (02), costs beside the published ones (03), and the numbers
 * behind a student figure (05). Each reads lib/ or a figure's JSON; nothing here computes a result of its own.
 * Rows are type aliases, not interfaces: displayTable takes Record<string, unknown> rows, which an interface is not.
 * Compiled by tslab's TypeScript 5.0 inside the notebooks: keep to plain TypeScript.
 */

/** The roots a notebook works with: the data root (ZSD_DATA or ../shared/data) and the workspace (the kernel's cwd, the repository root). */
export interface NotebookRoots {
  dataRoot: string;
  workspace: Workspace;
}

export function notebookRoots(workspaceRoot: string = process.cwd()): NotebookRoots {
  const dataRoot = resolveDataRoot();
  return { dataRoot, workspace: resolveWorkspace(dataRoot, workspaceRoot) };
}

// ---- 01: tasks, rows, templates, mixes ----

export type SplitCountRow = {
  task: string;
  split: string;
  /** rows in the split file; null when the file is not in the data root */
  rows: number | null;
  /** templates with recorded gpt-3.5 answers for this split */
  recorded_templates: number;
  note: string;
};

/** Rows per split of each built-in task, and how many templates the recorded study answered on it. */
export function taskSplitCounts(roots: NotebookRoots, tasks: readonly string[] = BUILT_IN_TASKS): SplitCountRow[] {
  const searchRoots = [roots.dataRoot, roots.workspace.root];
  const rows: SplitCountRow[] = [];
  for (const name of tasks) {
    const task = getTask(name, searchRoots);
    for (const split of task.splits) {
      const file = splitFile(task, split, searchRoots);
      rows.push({
        task: name,
        split,
        rows: file ? loadSplit(task, split, searchRoots).rows.length : null,
        recorded_templates: listRecordedTemplateIds(roots.workspace, name, split).length,
        note: file ? '' : `not shipped: no datasets/${name}/${name}_${split}.json`,
      });
    }
  }
  return rows;
}

/** The first `count` rows of a split: the prompt values the templates fill in, the gold label, the dataset's own rationale. */
export function exampleRows(roots: NotebookRoots, taskName: string, split: string, count = 3): Record<string, unknown>[] {
  const searchRoots = [roots.dataRoot, roots.workspace.root];
  const task = getTask(taskName, searchRoots);
  return loadSplit(task, split, searchRoots)
    .rows.slice(0, count)
    .map((row) => ({ index: row.index, ...row.promptValues, gold_label: row.goldLabel, human_rationale: row.humanRationale }));
}

export type TemplateRow = {
  id: number;
  system_message: string;
  user_message: string;
  label_parse: string;
  explanation_parse: string;
  swap: boolean;
};

/** A task's prompt templates (the workspace's file, else the recorded study's), by id. */
export function templateRows(workspace: Workspace, task: string): TemplateRow[] {
  const set = loadTemplates(workspace, task);
  return [...set.templates.values()]
    .sort((a, b) => a.id - b.id)
    .map((template) => ({
      id: template.id,
      system_message: template.systemMessage,
      user_message: template.userMessage,
      label_parse: template.labelParse,
      explanation_parse: template.explanationParse,
      swap: template.swap,
    }));
}

export type MixPartRow = {
  part: MixPartName;
  template_id: number;
  fraction: number;
  rows: number;
  first_rows: string;
};

/** How a prompt mix splits `n` rows between its templates, per part (labels, explanations). */
export function mixPartRows(workspace: Workspace, task: string, mixId: string, n: number): MixPartRow[] {
  const mix = loadMix(workspace, mixId, loadTemplates(workspace, task));
  const assignment = mixAssignment(mix, n);
  const rows: MixPartRow[] = [];
  for (const part of ['label', 'explanation'] as const) {
    for (const entry of mix[part]) {
      const assigned = assignment[part].get(entry.templateId) ?? [];
      rows.push({
        part,
        template_id: entry.templateId,
        fraction: entry.fraction,
        rows: assigned.length,
        first_rows: `${assigned.slice(0, 6).join(', ')}${assigned.length > 6 ? ', …' : ''}`,
      });
    }
  }
  return rows;
}

/** Which template gives the label and which the explanation of each of the first `count` rows. */
export function mixRowTemplates(
  workspace: Workspace,
  task: string,
  mixId: string,
  n: number,
  count = 8,
): { row: number; label_template: number; explanation_template: number }[] {
  const mix = loadMix(workspace, mixId, loadTemplates(workspace, task));
  return rowTemplates(mix, n)
    .slice(0, count)
    .map((entry, row) => ({ row, label_template: entry.labelTemplate, explanation_template: entry.explanationTemplate }));
}

// ---- 06: training data a teacher wrote ----

/**
 * The first `count` rows of the training data `zsd generate` wrote (`datasets/<task>/<model>/<mix>/<split>_CoT.json`
 * in the workspace) beside the rows' gold labels: what the student will learn from.
 */
export function annotatedRows(options: {
  dataRoot: string;
  workspaceRoot: string;
  task: string;
  model: string;
  mix: string;
  split: string;
  count?: number;
}): Record<string, unknown>[] {
  const searchRoots = [options.dataRoot, options.workspaceRoot];
  const split = loadSplit(getTask(options.task, searchRoots), options.split, searchRoots);
  const lines = readJsonLines<{ label: string | null; explanation: string | null }>(
    trainingDataFile(options.workspaceRoot, options.task, options.model, options.mix, options.split),
  ).lines;
  return lines.slice(0, options.count ?? 5).map(({ value }, index) => ({
    row: index,
    input: Object.values(split.rows[index].promptValues).join(' | '),
    gold_label: split.rows[index].goldLabel,
    teacher_label: value.label,
    teacher_explanation: value.explanation,
  }));
}

// ---- 02: slopes ----

export type SlopeRow = {
  characteristic: string;
  task: string;
  /** templates the line was fitted on */
  templates: number;
  slope: number | null;
  published_anli1_slope: number;
  /** same sign as the published ANLI1 slope (null without a slope) */
  same_sign: boolean | null;
  note: string;
};

/** The least-squares slopes of the `prompt-accuracy-vs-*` figures, one row per characteristic and task, beside the study's ANLI1 slope. */
export function slopeRows(figures: readonly NamedFigure[]): SlopeRow[] {
  const rows: SlopeRow[] = [];
  for (const characteristic of PROMPT_CHARACTERISTICS) {
    const figure = figures.find((candidate) => candidate.name === `prompt-accuracy-vs-${characteristic.slug}`);
    if (!figure) continue;
    const data = figure.data as ScatterFigureData;
    for (const slope of data.slopes) {
      rows.push({
        characteristic: characteristic.label,
        task: slope.task,
        templates: slope.templates,
        slope: slope.slope,
        published_anli1_slope: data.publishedAnli1Slope,
        same_sign: slope.slope === null ? null : Math.sign(slope.slope) === Math.sign(data.publishedAnli1Slope),
        note: slope.reason ?? '',
      });
    }
  }
  return rows;
}

// ---- 03: costs ----

export type CostRow = {
  quantity: string;
  zsd: number;
  published: number | null;
  unit: string;
  how: string;
};

/** The numbers of the cost figures, each beside the study's published value. */
export function annotationCostRows(costs: AnnotationCosts, fewShot: FewShotTokenEstimate): CostRow[] {
  const published = STUDY_PUBLISHED_COSTS;
  return [
    { quantity: `${costs.task} train rows annotated`, zsd: costs.trainRows, published: null, unit: 'rows', how: costs.trainRowsSource },
    {
      quantity: 'few-shot PaLM annotation',
      zsd: costs.fewShotAnnotation,
      published: published.fewShotPalm,
      unit: '$',
      how: `${costs.trainRows} rows x $${costs.fewShotCostPerQuery} per query (the study's assumed PaLM price)`,
    },
    {
      quantity: `zero-shot gpt-3.5 annotation (template ${costs.zeroShot.template})`,
      zsd: costs.zeroShotAnnotation,
      published: published.zeroShotGpt35,
      unit: '$',
      how: `${costs.trainRows} rows x $${costs.zeroShot.costPerQuery.toFixed(6)} per query (${costs.zeroShot.source})`,
    },
    {
      quantity: 'OPRO prompt search',
      zsd: costs.opro.cost,
      published: published.opro,
      unit: '$',
      how: `${costs.opro.queries} recorded scoring queries of ${costs.opro.templates.length} candidate templates; not covered: ${costs.opro.notCovered.join('; ')}`,
    },
    {
      quantity: 'zero-shot total (annotation + OPRO)',
      zsd: costs.zeroShotTotal,
      published: published.zeroShotGpt35 + published.opro,
      unit: '$',
      how: 'sum of the two rows above',
    },
    { quantity: 'saving against few-shot', zsd: costs.saving, published: published.saving, unit: 'fraction', how: '1 - zero-shot total / few-shot' },
    {
      quantity: 'zero-shot prompt tokens per query',
      zsd: costs.zeroShot.promptTokensPerQuery,
      published: published.zeroShotPromptTokens,
      unit: 'tokens',
      how: `${costs.zeroShot.queries} recorded answers of template ${costs.zeroShot.template}`,
    },
    {
      quantity: 'zero-shot completion tokens per query',
      zsd: costs.zeroShot.completionTokensPerQuery,
      published: published.zeroShotCompletionTokens,
      unit: 'tokens',
      how: `${costs.zeroShot.queries} recorded answers of template ${costs.zeroShot.template}`,
    },
    {
      quantity: `${fewShot.shots}-shot prompt tokens per query`,
      zsd: fewShot.promptTokensPerQuery,
      published: published.fewShotPromptTokens,
      unit: 'tokens',
      how: fewShot.source,
    },
    {
      quantity: `${fewShot.shots}-shot completion tokens per query`,
      zsd: fewShot.completionTokensPerQuery,
      published: null,
      unit: 'tokens',
      how: fewShot.source,
    },
  ];
}

// ---- 05: the numbers behind a student figure ----

export type StudentPointRow = {
  series: string;
  x: number | string;
  mean: number;
  sem: number | null;
  /** runs averaged (the 3 best) */
  n: number;
  /** runs the configuration has */
  runs: number;
};

/** The points of a student line figure (subsampling, model size), optionally at one x only (e.g. subsample 1). */
export function studentPointRows(figure: NamedFigure, x?: number | string): StudentPointRow[] {
  const data = figure.data as StudentLineData;
  if (!data || !Array.isArray(data.series)) return [];
  return data.series.flatMap((series) =>
    series.points
      .filter((point) => x === undefined || point.x === x)
      .map((point) => ({ series: series.name, x: point.x, mean: point.mean, sem: point.sem, n: point.n, runs: point.runs })),
  );
}

/**
 * A copy of a student line figure with each series' value written beside its point at `x` (e.g. the full-data
 * accuracies), in the series' colour. The figure's data (JSON) is unchanged. On a log axis plotly places
 * annotations in log10 units, so x is converted.
 */
export function withPointLabels(figure: NamedFigure, x: number | string, digits = 3): NamedFigure {
  const copy = JSON.parse(JSON.stringify(figure)) as NamedFigure;
  const layout = (copy.figure.layout ??= {});
  const xaxis = (layout.xaxis ?? {}) as { type?: string };
  const traces = copy.figure.data as { name?: string; mode?: string; line?: { color?: string } }[];
  const labels = studentPointRows(figure, x).map((row) => ({
    x: xaxis.type === 'log' && typeof x === 'number' ? Math.log10(x) : x,
    y: row.mean,
    text: row.mean.toFixed(digits),
    showarrow: false,
    xanchor: 'left',
    xshift: 8,
    font: {
      size: 12,
      color: traces.find((trace) => trace.name === row.series && trace.mode !== undefined && trace.mode.includes('markers'))?.line?.color ?? '#333',
    },
  }));
  layout.annotations = [...((layout.annotations as unknown[] | undefined) ?? []), ...labels];
  return copy;
}

/** The teachers' lines of a model-size figure (name, accuracy, what it was measured on). */
export function teacherRows(figure: NamedFigure): { name: string; accuracy: number; measured_on: string }[] {
  const data = figure.data as StudentLineData;
  return (data?.teachers ?? []).map((teacher) => ({ name: teacher.name, accuracy: teacher.accuracy, measured_on: teacher.measuredOn }));
}

/** The groups of a box-plot student figure (explanation length, explanation rate): runs, and the best-3 mean with its SEM. */
export function boxGroupRows(figure: NamedFigure): { group: string; student: string; runs: number; best_3_mean: number; sem: number | null }[] {
  const data = figure.data as BoxFigureData;
  return (data?.groups ?? []).map((group) => ({
    group: group.label,
    student: group.trace,
    runs: group.values.length,
    best_3_mean: group.bestMean,
    sem: group.bestSem,
  }));
}

/** Finds a figure by name; a missing one fails naming the names there are. */
export function figureNamed(figures: readonly NamedFigure[], name: string): NamedFigure {
  const figure = figures.find((candidate) => candidate.name === name);
  if (!figure) throw new ZsdError('not-found', `no figure "${name}" among ${figures.map((candidate) => candidate.name).join(', ')}`);
  return figure;
}

/**
 * Rows for displayTable from interface-typed rows (`RunningBestPoint[]`, ...) or an arquero table. displayTable's
 * `TableRows` is typed as `Record<string, unknown>` rows or `{ objects(): Record<string, unknown>[] }`, which neither an
 * interface (no index signature) nor arquero's `objects(): object[]` satisfies at compile time, though both work at run
 * time. Rows this file builds are type aliases and need no wrapping.
 */
export function rowsOf(source: readonly object[] | { objects(): object[] }): Record<string, unknown>[] {
  const rows = Array.isArray(source) ? source : (source as { objects(): object[] }).objects();
  return rows as Record<string, unknown>[];
}
