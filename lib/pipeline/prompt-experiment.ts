import { evaluateAnswers, sampleRowIndices, STUDY_EXPERIMENT_SEED, type AnsweredRow } from '../annotate/experiment';
import { ZsdError } from '../core/errors';
import { loadSplit } from '../data/datasets';
import { getTask } from '../data/tasks';
import { rankByAccuracy, type TemplateEvaluation } from '../evaluate/metrics';
import { updatePromptMetadata } from '../evaluate/prompt-metadata';
import { getTemplate, loadTemplates } from '../prompts/templates';
import { buildQueryJobs, StoreRegistry } from '../teacher/query-jobs';
import { ignoreEvents } from './events';
import { resolveRoots } from './roots';
import { resolveTeacher, runTeacherJobs, type TeacherRunResult, type TeacherStepOptions } from './teacher-session';

export interface PromptExperimentOptions extends TeacherStepOptions {
  task: string;
  /** Rows per template: a count, or a fraction of the split below 1. */
  samples: number;
  /** Seed of the row sample (numpy's, as the study; default 42). */
  seed?: number;
  /** Default: every template of the task. */
  templates?: readonly number[];
  /** Default train, as the study (anli1 and esnli ship no train split). */
  split?: string;
  /** Write the evaluations to prompt metadata (default true; only ever for the train split). */
  writeMetadata?: boolean;
  /** When some rows fail (a replay server that lacks recordings), compare on the rows every template answered. */
  commonRows?: boolean;
}

export interface TemplateReport {
  id: number;
  evaluation: TemplateEvaluation;
}

/**
 * A dry run: the estimate. Incomplete: some rows have no answer (and `commonRows` was not asked for, or the run
 * stopped), so templates cannot be compared yet; the same call resumes. Ranked: the templates, best first.
 */
export type PromptExperimentResult =
  | { kind: 'estimate'; task: string; split: string; sampledRows: number; teacherRun: Extract<TeacherRunResult, { kind: 'estimate' }> }
  | { kind: 'incomplete'; task: string; split: string; sampledRows: number; teacherRun: Extract<TeacherRunResult, { kind: 'ran' }> }
  | {
      kind: 'ranked';
      task: string;
      split: string;
      sampledRows: number;
      /** Rows every template is judged on: all sampled rows, or (`commonRows`) those every template answered. */
      comparedRows: number;
      reports: TemplateReport[];
      /** Accuracy first; without gold labels, the explanation rate. */
      best?: TemplateReport;
      metadataFile?: string;
      teacherRun: Extract<TeacherRunResult, { kind: 'ran' }>;
    };

/**
 * The study's prompt experiment: the same seeded random rows of the train split for every template, queried,
 * then each template evaluated on exactly those rows; prompt metadata updated and the best template named.
 */
export async function runPromptExperiment(options: PromptExperimentOptions): Promise<PromptExperimentResult> {
  const onEvent = options.onEvent ?? ignoreEvents;
  const { dataRoot, workspace } = resolveRoots(options);
  const roots = [dataRoot, workspace.root];
  const task = getTask(options.task, roots);
  const split = loadSplit(task, options.split ?? 'train', roots);
  const templates = loadTemplates(workspace, task.name);
  const ids = options.templates ?? [...templates.templates.keys()].sort((a, b) => a - b);
  const selected = ids.map((id) => getTemplate(templates, id));
  const seed = options.seed ?? STUDY_EXPERIMENT_SEED;
  const rows = sampleRowIndices(split.rows.length, options.samples, seed).map((index) => split.rows[index]);
  const teacher = resolveTeacher(options.teacher ?? {}, workspace);
  const stores = new StoreRegistry(workspace);
  const jobs = selected.flatMap((template) => buildQueryJobs(task.name, split.split, template, rows, teacher.settings, stores));
  onEvent({ kind: 'info', message: `experiment on ${task.name} ${split.split}: ${rows.length} rows (seed ${seed}) x ${selected.length} templates` });
  const teacherRun = await runTeacherJobs(jobs, teacher, {
    task: task.name,
    label: `experiment ${task.name}`,
    workspace,
    stores,
    querying: options.querying,
    onEvent,
    signal: options.signal,
  });
  const shape = { task: task.name, split: split.split, sampledRows: rows.length };
  if (teacherRun.kind === 'estimate') return { kind: 'estimate', ...shape, teacherRun };
  const { run } = teacherRun;
  if (!teacherRun.summary.answeredAll && !(options.commonRows && run.stoppedBecause === undefined)) return { kind: 'incomplete', ...shape, teacherRun };

  const answered = new Map<number, Map<number, AnsweredRow>>();
  for (const outcome of run.outcomes) {
    if (outcome.kind !== 'fresh' && outcome.kind !== 'cached') continue;
    const byRow = answered.get(outcome.job.row.templateId) ?? new Map<number, AnsweredRow>();
    byRow.set(outcome.job.row.idx, { row: split.rows[outcome.job.row.idx], record: outcome.record });
    answered.set(outcome.job.row.templateId, byRow);
  }
  // Every template is judged on the same rows: all of them, or (commonRows) those every template answered.
  const compared = rows.map((row) => row.index).filter((idx) => selected.every((template) => answered.get(template.id)?.has(idx)));
  if (compared.length === 0)
    throw new ZsdError('incomplete', `no row of the ${rows.length} sampled was answered by every template, so the templates cannot be compared`);
  const answers = new Map(selected.map((template) => [template.id, compared.map((idx) => answered.get(template.id)?.get(idx) as AnsweredRow)]));
  const reports = rankByAccuracy(
    selected.map((template) => ({ id: template.id, evaluation: evaluateAnswers(task, template, answers.get(template.id) ?? []) })),
  );
  const metadataFile =
    options.writeMetadata !== false && split.split === 'train'
      ? updatePromptMetadata(
          workspace.root,
          task.name,
          reports.map((report) => ({ id: String(report.id), evaluation: report.evaluation })),
        )
      : undefined;
  return { kind: 'ranked', ...shape, comparedRows: compared.length, reports, best: reports[0], metadataFile, teacherRun };
}
