import { Command } from 'commander';
import { applyExplanationRate, buildTrainingLines, queriesForMix, trainingDataFile, writeTrainingData, type TrainingLine } from '../annotate/training-data';
import { ZsdError } from '../core/errors';
import { loadSplit, type DatasetSplit } from '../data/datasets';
import { getTask } from '../data/tasks';
import { loadMix } from '../prompts/mixes';
import { getTemplate, loadTemplates } from '../prompts/templates';
import type { RecordedResponse } from '../teacher/recorded-responses';
import { buildQueryJobs, StoreRegistry } from '../teacher/query-jobs';
import type { QueryJob, QueryRun } from '../teacher/scheduler';
import { addCommonOptions, parseNameList, resolveRoots, type CommonOptions } from './options';
import { formatTable } from './table';
import { addTeacherOptions, numberFlag, resolveTeacher, runTeacherJobs, type TeacherFlags } from './teacher-run';

export interface GenerateOptions extends CommonOptions, TeacherFlags {
  task: string;
  mix: string;
  splits: string[];
  samples?: number;
  explanationRate?: number;
}

export function generateCommand(): Command {
  const command = new Command('generate')
    .description(
      'Annotate splits with a prompt mix and write training data: datasets/<task>/<model>/<mix>/<split>_CoT.json in the workspace, ' +
        'one {"label", "explanation"} line per row (null where missing), exactly as the study wrote it',
    )
    .requiredOption('--task <task>', 'cqa, svamp, anli1, esnli, or your own task')
    .requiredOption('--mix <id>', 'prompt mix: prompt-mixes/<id>.yaml in the workspace or the recorded study')
    .option('--splits <names>', 'splits to annotate, comma-separated', parseNameList, ['train', 'test'])
    .option('--samples <n>', 'only the first n rows of each split', numberFlag('--samples', { min: 1, integer: true }))
    .option('--explanation-rate <r>', 'keep each train explanation with this probability (the study\'s subsampling, numpy seed 100), when below the rate achieved', numberFlag('--explanation-rate', { min: 0, max: 1 }));
  addTeacherOptions(command);
  addCommonOptions(command);
  return command.action(async (options: GenerateOptions) => {
    await runGenerate(options);
  });
}

interface SplitPlan {
  split: DatasetSplit;
  n: number;
  jobs: QueryJob[];
}

/** The training files `zsd generate` wrote, and the teacher run. */
export interface GenerateResult {
  files: { split: string; file: string; rows: number; labelRate: number; explanationRate: number }[];
  run: QueryRun;
}

export async function runGenerate(options: GenerateOptions): Promise<GenerateResult | undefined> {
  const { dataRoot, workspace } = resolveRoots(options);
  const roots = [dataRoot, workspace.root];
  const task = getTask(options.task, roots);
  const templates = loadTemplates(workspace, task.name);
  const mix = loadMix(workspace, options.mix, templates);
  const context = resolveTeacher(options, workspace);
  if (workspace.readOnly && !options.dryRun) throw new ZsdError('read-only', `the workspace ${workspace.root} is inside the read-only data root; pass --workspace DIR`);

  const stores = new StoreRegistry(workspace);
  const plans: SplitPlan[] = options.splits.map((name) => {
    const split = loadSplit(task, name, roots);
    const n = Math.min(options.samples ?? split.rows.length, split.rows.length);
    const jobs = queriesForMix(mix, n).map(({ templateId, row }) => buildQueryJobs(task.name, name, getTemplate(templates, templateId), [split.rows[row]], context.settings, stores)[0]);
    return { split, n, jobs };
  });
  process.stdout.write(`generating ${task.name} training data with prompt mix ${mix.id} (${mix.file}): ${plans.map((plan) => `${plan.split.split} ${plan.n} rows`).join(', ')}\n`);
  const { run } = await runTeacherJobs(
    plans.flatMap((plan) => plan.jobs),
    context,
    { task: task.name, stores, label: `generate ${task.name}`, workspace },
  );
  if (!run) return undefined;
  if (run.progress.fresh + run.progress.cached < run.progress.total) {
    process.stdout.write('not every row was answered, so no training file was written: run the same command again to resume\n');
    process.exitCode = 1;
    return undefined;
  }

  const answers = new Map<string, RecordedResponse>();
  for (const outcome of run.outcomes) {
    if (outcome.kind === 'fresh' || outcome.kind === 'cached') answers.set(answerKey(outcome.job.row.split, outcome.job.row.templateId, outcome.job.row.idx), outcome.record);
  }
  const summary: (string | number | null)[][] = [];
  const written: { file: string; lines: TrainingLine[] }[] = [];
  for (const plan of plans) {
    const name = plan.split.split;
    let lines = buildTrainingLines(task, templates, mix, plan.n, (templateId, row) => answers.get(answerKey(name, templateId, row)));
    let rateNote = '';
    if (options.explanationRate !== undefined && name === 'train') {
      const result = applyExplanationRate(lines, options.explanationRate);
      lines = result.lines;
      rateNote = result.applied
        ? `subsampled from ${result.rateBefore.toFixed(4)}`
        : `--explanation-rate ${options.explanationRate} is not below the rate achieved (${result.rateBefore.toFixed(4)}): kept all`;
    }
    const file = trainingDataFile(workspace.root, task.name, context.settings.model, mix.id, name);
    written.push({ file, lines });
    summary.push([name, lines.length, rate(lines, 'label'), rate(lines, 'explanation'), rateNote || null, file]);
  }
  // Every split is built before any file is written, so a failure leaves no partial set behind.
  for (const { file, lines } of written) writeTrainingData(file, lines);
  process.stdout.write(`${formatTable(['split', 'rows', 'label rate', 'explanation rate', 'note', 'file'], summary)}\n`);
  const files = written.map(({ file, lines }, index) => ({ split: plans[index].split.split, file, rows: lines.length, labelRate: rate(lines, 'label'), explanationRate: rate(lines, 'explanation') }));
  return { files, run };
}

function answerKey(split: string, templateId: number, row: number): string {
  return `${split}/${templateId}/${row}`;
}

function rate(lines: readonly TrainingLine[], field: keyof TrainingLine): number {
  return lines.length === 0 ? 0 : lines.filter((line) => line[field] !== null).length / lines.length;
}
