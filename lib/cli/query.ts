import { Command } from 'commander';
import { sampleRowIndices, STUDY_EXPERIMENT_SEED } from '../annotate/experiment';
import { loadSplit } from '../data/datasets';
import { getTask } from '../data/tasks';
import { getTemplate, loadTemplates } from '../prompts/templates';
import { buildQueryJobs, StoreRegistry } from '../teacher/query-jobs';
import { addCommonOptions, parseIdList, resolveRoots, type CommonOptions } from './options';
import { addTeacherOptions, numberFlag, resolveTeacher, runTeacherJobs, type TeacherFlags } from './teacher-run';

interface QueryOptions extends CommonOptions, TeacherFlags {
  task: string;
  split: string;
  templates: number[];
  samples?: number;
  seed: number;
}

export function queryCommand(): Command {
  const command = new Command('query')
    .description(
      'Ask the teacher for a label and explanation for rows of one split with the given templates. Every answer is stored in ' +
        'query-results/<task>/<split>/<template>/responses.json before it is used; answers already stored (yours or the recorded study\'s) are not asked again.',
    )
    .requiredOption('--task <task>', 'cqa, svamp, anli1, esnli, or your own task under datasets/<task>/')
    .requiredOption('--split <split>', 'split to annotate (train, valid, test)')
    .requiredOption('--templates <ids>', 'template ids, comma-separated', parseIdList)
    .option('--samples <n>', 'only a seeded random sample of the rows: a count, or a fraction below 1', numberFlag('--samples', { min: 0, exclusiveMin: true }))
    .option('--seed <n>', 'seed of the sample (numpy, as the study)', numberFlag('--seed', { min: 0, max: 2 ** 32 - 1, integer: true }), STUDY_EXPERIMENT_SEED);
  addTeacherOptions(command);
  addCommonOptions(command);
  return command.action((options: QueryOptions) => runQuery(options));
}

export async function runQuery(options: QueryOptions): Promise<void> {
  const { dataRoot, workspace } = resolveRoots(options);
  const task = getTask(options.task, [dataRoot, workspace.root]);
  const split = loadSplit(task, options.split, [dataRoot, workspace.root]);
  const templates = loadTemplates(workspace, task.name);
  const selected = options.templates.map((id) => getTemplate(templates, id));
  const rows = options.samples === undefined ? split.rows : sampleRowIndices(split.rows.length, options.samples, options.seed).map((index) => split.rows[index]);
  const context = resolveTeacher(options, workspace);
  const stores = new StoreRegistry(workspace);
  const jobs = selected.flatMap((template) => buildQueryJobs(task.name, split.split, template, rows, context.settings, stores));
  const { run } = await runTeacherJobs(jobs, context, { task: task.name, stores, label: `${task.name} ${split.split}`, workspace });
  if (run && run.progress.fresh + run.progress.cached < run.progress.total) process.exitCode = 1;
}
