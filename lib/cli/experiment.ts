import { Command } from 'commander';
import { STUDY_EXPERIMENT_SEED } from '../annotate/experiment';
import { runPromptExperiment, type PromptExperimentResult } from '../pipeline/prompt-experiment';
import { printEvents } from './event-printer';
import { addCommonOptions, parseIdList, rootOptionsOf, type CommonOptions, numberFlag } from './options';
import { withInterrupt } from './progress';
import { formatTable } from './table';
import { addTeacherOptions, printTeacherRun, queryingOptionsOf, teacherOptionsOf, type TeacherFlags } from './teacher-run';

interface ExperimentOptions extends CommonOptions, TeacherFlags {
  task: string;
  split: string;
  samples: number;
  seed: number;
  templates?: number[];
  write: boolean;
  commonRows?: boolean;
}

/** `zsd experiment`: the study's prompt experiment (lib/pipeline/prompt-experiment.ts), its ranking printed. */
export function experimentCommand(): Command {
  const command = new Command('experiment')
    .description(
      'Compare prompt templates: query the same seeded random train rows with each template, evaluate them on those rows, update prompt metadata and print the best',
    )
    .requiredOption('--task <task>', 'cqa, svamp, anli1, esnli, or your own task')
    .requiredOption('--samples <n>', 'rows per template: a count, or a fraction of the split below 1', numberFlag('--samples', { min: 0, exclusiveMin: true }))
    .option(
      '--seed <n>',
      'seed of the row sample (numpy, as the study)',
      numberFlag('--seed', { min: 0, max: 2 ** 32 - 1, integer: true }),
      STUDY_EXPERIMENT_SEED,
    )
    .option('--templates <ids>', 'template ids, comma-separated (default: every template of the task)', parseIdList)
    .option('--split <split>', 'split to sample from (the study used train; anli1 and esnli train are not shipped)', 'train')
    .option('--no-write', 'do not write prompt metadata')
    .option('--common-rows', 'when some rows fail (a replay server that lacks recordings), compare on the rows every template answered instead of stopping');
  addTeacherOptions(command);
  addCommonOptions(command);
  return command.action((options: ExperimentOptions) => runExperiment(options));
}

export async function runExperiment(options: ExperimentOptions): Promise<void> {
  const err = (line: string) => process.stderr.write(`${line}\n`);
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const result = await withInterrupt(err, (signal) =>
    runPromptExperiment({
      ...rootOptionsOf(options),
      task: options.task,
      split: options.split,
      samples: options.samples,
      seed: options.seed,
      templates: options.templates,
      writeMetadata: options.write,
      commonRows: options.commonRows,
      teacher: teacherOptionsOf(options),
      querying: queryingOptionsOf(options),
      onEvent: printEvents(),
      signal,
    }),
  );
  printTeacherRun(result.teacherRun, err);
  if (result.kind === 'incomplete') {
    out('not every row was answered, so templates cannot be compared yet: run the same command again to resume');
    process.exitCode = 1;
  }
  if (result.kind === 'ranked') printRanking(result, out);
}

/** The compared rows when fewer than sampled, the ranking table, the best template and the metadata file. */
export function printRanking(result: Extract<PromptExperimentResult, { kind: 'ranked' }>, out: (line: string) => void): void {
  if (result.comparedRows < result.sampledRows) out(`comparing on the ${result.comparedRows} of ${result.sampledRows} rows that every template answered`);
  const header = ['template', 'accuracy', 'parse err', 'expl rate', 'avg words', 'FRE'];
  const rows = result.reports.map(({ id, evaluation: e }) => [id, e.accuracy, e.n_parse_errors, e.explanation_rate, e.avg_nr_of_words, e.flesch_reading_ease]);
  out(formatTable(header, rows));
  const { best } = result;
  if (best) {
    const why =
      best.evaluation.accuracy === null
        ? `explanation rate ${best.evaluation.explanation_rate.toFixed(4)}; no gold labels`
        : `accuracy ${best.evaluation.accuracy.toFixed(4)}`;
    out(`best template: ${best.id} (${why})`);
  }
  if (result.metadataFile) out(`prompt metadata for ${result.reports.length} templates written to ${result.metadataFile}`);
}
