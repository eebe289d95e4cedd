import { sampleRowIndices, STUDY_EXPERIMENT_SEED } from '../annotate/experiment';
import { loadSplit } from '../data/datasets';
import { getTask } from '../data/tasks';
import { getTemplate, loadTemplates } from '../prompts/templates';
import { buildQueryJobs, StoreRegistry } from '../teacher/query-jobs';
import { resolveRoots } from './roots';
import { resolveTeacher, runTeacherJobs, type TeacherRunResult, type TeacherStepOptions } from './teacher-session';

export interface QueryTeacherOptions extends TeacherStepOptions {
  task: string;
  split: string;
  templates: readonly number[];
  /** Only a seeded random sample of the rows: a count, or a fraction below 1 (default: every row). */
  samples?: number;
  /** Seed of the sample (numpy's, as the study; default 42). */
  seed?: number;
}

export interface QueryTeacherResult {
  task: string;
  split: string;
  /** Rows asked, per template. */
  rows: number;
  teacherRun: TeacherRunResult;
}

/**
 * Asks the teacher for a label and explanation for rows of one split with the given templates. Every answer is
 * stored in query-results/<task>/<split>/<template>/responses.json before it is used; stored answers (the
 * workspace's or the recorded study's) are not asked again.
 */
export async function queryTeacher(options: QueryTeacherOptions): Promise<QueryTeacherResult> {
  const { dataRoot, workspace } = resolveRoots(options);
  const task = getTask(options.task, [dataRoot, workspace.root]);
  const split = loadSplit(task, options.split, [dataRoot, workspace.root]);
  const templates = loadTemplates(workspace, task.name);
  const selected = options.templates.map((id) => getTemplate(templates, id));
  const rows =
    options.samples === undefined
      ? split.rows
      : sampleRowIndices(split.rows.length, options.samples, options.seed ?? STUDY_EXPERIMENT_SEED).map((index) => split.rows[index]);
  const teacher = resolveTeacher(options.teacher ?? {}, workspace);
  const stores = new StoreRegistry(workspace);
  const jobs = selected.flatMap((template) => buildQueryJobs(task.name, split.split, template, rows, teacher.settings, stores));
  const teacherRun = await runTeacherJobs(jobs, teacher, {
    task: task.name,
    label: `${task.name} ${split.split}`,
    workspace,
    stores,
    querying: options.querying,
    onEvent: options.onEvent,
    signal: options.signal,
  });
  return { task: task.name, split: split.split, rows: rows.length, teacherRun };
}
