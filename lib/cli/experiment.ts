import { Command } from 'commander';
import { evaluateAnswers, sampleRowIndices, STUDY_EXPERIMENT_SEED, type AnsweredRow } from '../annotate/experiment';
import { ZsdError } from '../core/errors';
import { loadSplit } from '../data/datasets';
import { getTask } from '../data/tasks';
import { rankByAccuracy, type TemplateEvaluation } from '../evaluate/metrics';
import { updatePromptMetadata } from '../evaluate/prompt-metadata';
import { getTemplate, loadTemplates } from '../prompts/templates';
import { buildQueryJobs, StoreRegistry } from '../teacher/query-jobs';
import type { QueryRun } from '../teacher/scheduler';
import { addCommonOptions, parseIdList, resolveRoots, type CommonOptions } from './options';
import { formatTable } from './table';
import { addTeacherOptions, numberFlag, resolveTeacher, runTeacherJobs, type TeacherFlags } from './teacher-run';

export interface ExperimentOptions extends CommonOptions, TeacherFlags {
  task: string;
  split: string;
  samples: number;
  seed: number;
  templates?: number[];
  write: boolean;
  commonRows?: boolean;
}

/**
 * The study's prompt experiment: the same seeded random rows of the train split for every template, queried,
 * then each template evaluated on exactly those rows; prompt metadata updated and the best template named.
 */
export function experimentCommand(): Command {
  const command = new Command('experiment')
    .description('Compare prompt templates: query the same seeded random train rows with each template, evaluate them on those rows, update prompt metadata and print the best')
    .requiredOption('--task <task>', 'cqa, svamp, anli1, esnli, or your own task')
    .requiredOption('--samples <n>', 'rows per template: a count, or a fraction of the split below 1', numberFlag('--samples', { min: 0, exclusiveMin: true }))
    .option('--seed <n>', 'seed of the row sample (numpy, as the study)', numberFlag('--seed', { min: 0, max: 2 ** 32 - 1, integer: true }), STUDY_EXPERIMENT_SEED)
    .option('--templates <ids>', 'template ids, comma-separated (default: every template of the task)', parseIdList)
    .option('--split <split>', 'split to sample from (the study used train; anli1 and esnli train are not shipped)', 'train')
    .option('--no-write', 'do not write prompt metadata')
    .option('--common-rows', 'when some rows fail (a replay server that lacks recordings), compare on the rows every template answered instead of stopping');
  addTeacherOptions(command);
  addCommonOptions(command);
  return command.action(async (options: ExperimentOptions) => {
    await runExperiment(options);
  });
}

/** What `zsd experiment` found: templates ranked by accuracy on the sampled rows, and the teacher run. */
export interface ExperimentResult {
  rows: number;
  reports: { id: number; evaluation: TemplateEvaluation }[];
  run: QueryRun;
}

export async function runExperiment(options: ExperimentOptions): Promise<ExperimentResult | undefined> {
  const { dataRoot, workspace } = resolveRoots(options);
  const roots = [dataRoot, workspace.root];
  const task = getTask(options.task, roots);
  const split = loadSplit(task, options.split, roots);
  const templates = loadTemplates(workspace, task.name);
  const ids = options.templates ?? [...templates.templates.keys()].sort((a, b) => a - b);
  const selected = ids.map((id) => getTemplate(templates, id));
  const rows = sampleRowIndices(split.rows.length, options.samples, options.seed).map((index) => split.rows[index]);
  const context = resolveTeacher(options, workspace);
  const stores = new StoreRegistry(workspace);
  const jobs = selected.flatMap((template) => buildQueryJobs(task.name, split.split, template, rows, context.settings, stores));
  process.stdout.write(`experiment on ${task.name} ${split.split}: ${rows.length} rows (seed ${options.seed}) x ${selected.length} templates\n`);
  const { run } = await runTeacherJobs(jobs, context, { task: task.name, stores, label: `experiment ${task.name}`, workspace });
  if (!run) return undefined;
  const complete = run.progress.fresh + run.progress.cached === run.progress.total;
  if (!complete && !(options.commonRows && run.stoppedBecause === undefined)) {
    process.stdout.write('not every row was answered, so templates cannot be compared yet: run the same command again to resume\n');
    process.exitCode = 1;
    return undefined;
  }

  const answered = new Map<number, Map<number, AnsweredRow>>();
  for (const outcome of run.outcomes) {
    if (outcome.kind !== 'fresh' && outcome.kind !== 'cached') continue;
    const byRow = answered.get(outcome.job.row.templateId) ?? new Map<number, AnsweredRow>();
    byRow.set(outcome.job.row.idx, { row: split.rows[outcome.job.row.idx], record: outcome.record });
    answered.set(outcome.job.row.templateId, byRow);
  }
  // Every template is judged on the same rows: all of them, or (--common-rows) those every template answered.
  const compared = rows.map((row) => row.index).filter((idx) => selected.every((template) => answered.get(template.id)?.has(idx)));
  if (compared.length === 0) throw new ZsdError('incomplete', `no row of the ${rows.length} sampled was answered by every template, so the templates cannot be compared`);
  if (compared.length < rows.length) process.stdout.write(`comparing on the ${compared.length} of ${rows.length} rows that every template answered\n`);
  const answers = new Map(selected.map((template) => [template.id, compared.map((idx) => answered.get(template.id)?.get(idx) as AnsweredRow)]));
  const reports = rankByAccuracy(selected.map((template) => ({ id: template.id, evaluation: evaluateAnswers(task, template, answers.get(template.id) ?? []) })));
  printRanking(reports);
  if (options.write && options.split === 'train') {
    const file = updatePromptMetadata(workspace.root, task.name, reports.map((report) => ({ id: String(report.id), evaluation: report.evaluation })));
    process.stdout.write(`prompt metadata for ${reports.length} templates written to ${file}\n`);
  }
  return { rows: compared.length, reports, run };
}

function printRanking(reports: readonly { id: number; evaluation: TemplateEvaluation }[]): void {
  const header = ['template', 'accuracy', 'parse err', 'expl rate', 'avg words', 'FRE'];
  const rows = reports.map(({ id, evaluation: e }) => [id, e.accuracy, e.n_parse_errors, e.explanation_rate, e.avg_nr_of_words, e.flesch_reading_ease]);
  process.stdout.write(`${formatTable(header, rows)}\n`);
  const best = reports[0];
  if (best) {
    const why = best.evaluation.accuracy === null ? `explanation rate ${best.evaluation.explanation_rate.toFixed(4)}; no gold labels` : `accuracy ${best.evaluation.accuracy.toFixed(4)}`;
    process.stdout.write(`best template: ${best.id} (${why})\n`);
  }
}
