import { applyExplanationRate, buildTrainingLines, queriesForMix } from '../annotate/mix-training-lines';
import { trainingDataFile, writeTrainingData, type TrainingLine } from '../annotate/training-data-file';
import { ZsdError } from '../core/errors';
import { loadSplit, type DatasetSplit } from '../data/datasets';
import { getTask } from '../data/tasks';
import { loadMix } from '../prompts/mixes';
import { getTemplate, loadTemplates } from '../prompts/templates';
import { buildQueryJobs, StoreRegistry } from '../teacher/query-jobs';
import type { RecordedResponse } from '../teacher/recorded-responses';
import type { QueryJob } from '../teacher/scheduler';
import { ignoreEvents } from './events';
import { resolveRoots } from './roots';
import { resolveTeacher, runTeacherJobs, type TeacherRunResult, type TeacherStepOptions } from './teacher-session';

export interface GenerateTrainingDataOptions extends TeacherStepOptions {
  task: string;
  /** Prompt mix id: prompt-mixes/<id>.yaml in the workspace or the recorded study. */
  mix: string;
  /** Default: train and test. */
  splits?: readonly string[];
  /** Only the first n rows of each split. */
  samples?: number;
  /** Keep each train explanation with this probability (the study's subsampling, numpy seed 100), when below the rate achieved. */
  explanationRate?: number;
}

export interface TrainingDataFile {
  split: string;
  file: string;
  rows: number;
  labelRate: number;
  explanationRate: number;
  /** The train split's explanation subsampling, when asked for: applied only below the rate the teacher achieved. */
  subsampling?: { requested: number; rateBefore: number; applied: boolean };
}

/**
 * A dry run: the estimate. Incomplete: some rows have no answer, so no file was written; the same call resumes.
 * Written: one `<split>_CoT.json` per split.
 */
export type GenerateTrainingDataResult =
  | { kind: 'estimate'; task: string; mix: string; teacherRun: Extract<TeacherRunResult, { kind: 'estimate' }> }
  | { kind: 'incomplete'; task: string; mix: string; teacherRun: Extract<TeacherRunResult, { kind: 'ran' }> }
  | { kind: 'written'; task: string; mix: string; files: TrainingDataFile[]; teacherRun: Extract<TeacherRunResult, { kind: 'ran' }> };

interface SplitPlan {
  split: DatasetSplit;
  n: number;
  jobs: QueryJob[];
}

/**
 * Annotates splits with a prompt mix and writes training data: datasets/<task>/<model>/<mix>/<split>_CoT.json in
 * the workspace, one {"label", "explanation"} line per row (null where missing), exactly as the study wrote it.
 */
export async function generateTrainingData(options: GenerateTrainingDataOptions): Promise<GenerateTrainingDataResult> {
  const onEvent = options.onEvent ?? ignoreEvents;
  const { dataRoot, workspace } = resolveRoots(options);
  const roots = [dataRoot, workspace.root];
  const task = getTask(options.task, roots);
  const templates = loadTemplates(workspace, task.name);
  const mix = loadMix(workspace, options.mix, templates);
  const teacher = resolveTeacher(options.teacher ?? {}, workspace);
  if (workspace.readOnly && !options.querying?.dryRun)
    throw new ZsdError('read-only', `the workspace ${workspace.root} is inside the read-only data root; pass --workspace DIR`);

  const stores = new StoreRegistry(workspace);
  const plans: SplitPlan[] = (options.splits ?? ['train', 'test']).map((name) => {
    const split = loadSplit(task, name, roots);
    const n = Math.min(options.samples ?? split.rows.length, split.rows.length);
    const jobs = queriesForMix(mix, n).map(
      ({ templateId, row }) => buildQueryJobs(task.name, name, getTemplate(templates, templateId), [split.rows[row]], teacher.settings, stores)[0],
    );
    return { split, n, jobs };
  });
  onEvent({
    kind: 'info',
    message: `generating ${task.name} training data with prompt mix ${mix.id} (${mix.file}): ${plans.map((plan) => `${plan.split.split} ${plan.n} rows`).join(', ')}`,
  });
  const teacherRun = await runTeacherJobs(
    plans.flatMap((plan) => plan.jobs),
    teacher,
    { task: task.name, label: `generate ${task.name}`, workspace, stores, querying: options.querying, onEvent, signal: options.signal },
  );
  const shape = { task: task.name, mix: mix.id };
  if (teacherRun.kind === 'estimate') return { kind: 'estimate', ...shape, teacherRun };
  if (!teacherRun.summary.answeredAll) return { kind: 'incomplete', ...shape, teacherRun };

  const answers = new Map<string, RecordedResponse>();
  for (const outcome of teacherRun.run.outcomes) {
    if (outcome.kind === 'fresh' || outcome.kind === 'cached')
      answers.set(answerKey(outcome.job.row.split, outcome.job.row.templateId, outcome.job.row.idx), outcome.record);
  }
  const written: { file: TrainingDataFile; lines: TrainingLine[] }[] = [];
  for (const plan of plans) {
    const name = plan.split.split;
    let lines = buildTrainingLines(task, templates, mix, plan.n, (templateId, row) => answers.get(answerKey(name, templateId, row)));
    let subsampling: TrainingDataFile['subsampling'];
    if (options.explanationRate !== undefined && name === 'train') {
      const result = applyExplanationRate(lines, options.explanationRate);
      lines = result.lines;
      subsampling = { requested: options.explanationRate, rateBefore: result.rateBefore, applied: result.applied };
    }
    const file = trainingDataFile(workspace.root, task.name, teacher.settings.model, mix.id, name);
    written.push({
      file: { split: name, file, rows: lines.length, labelRate: rate(lines, 'label'), explanationRate: rate(lines, 'explanation'), subsampling },
      lines,
    });
  }
  // Every split is built before any file is written, so a failure leaves no partial set behind.
  for (const { file, lines } of written) writeTrainingData(file.file, lines);
  return { kind: 'written', ...shape, files: written.map(({ file }) => file), teacherRun };
}

function answerKey(split: string, templateId: number, row: number): string {
  return `${split}/${templateId}/${row}`;
}

function rate(lines: readonly TrainingLine[], field: keyof TrainingLine): number {
  return lines.length === 0 ? 0 : lines.filter((line) => line[field] !== null).length / lines.length;
}
