import { Command } from 'commander';
import { generateTrainingData, type TrainingDataFile } from '../pipeline/generate-training-data';
import { printEvents } from './event-printer';
import { addCommonOptions, parseNameList, rootOptionsOf, type CommonOptions, numberFlag } from './options';
import { withInterrupt } from './progress';
import { formatTable } from './table';
import { addTeacherOptions, printTeacherRun, queryingOptionsOf, teacherOptionsOf, type TeacherFlags } from './teacher-run';

interface GenerateOptions extends CommonOptions, TeacherFlags {
  task: string;
  mix: string;
  splits: string[];
  samples?: number;
  explanationRate?: number;
}

/** `zsd generate`: training data from a prompt mix (lib/pipeline/generate-training-data.ts), the files printed. */
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
    .option(
      '--explanation-rate <r>',
      "keep each train explanation with this probability (the study's subsampling, numpy seed 100), when below the rate achieved",
      numberFlag('--explanation-rate', { min: 0, max: 1 }),
    );
  addTeacherOptions(command);
  addCommonOptions(command);
  return command.action((options: GenerateOptions) => runGenerate(options));
}

export async function runGenerate(options: GenerateOptions): Promise<void> {
  const err = (line: string) => process.stderr.write(`${line}\n`);
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const result = await withInterrupt(err, (signal) =>
    generateTrainingData({
      ...rootOptionsOf(options),
      task: options.task,
      mix: options.mix,
      splits: options.splits,
      samples: options.samples,
      explanationRate: options.explanationRate,
      teacher: teacherOptionsOf(options),
      querying: queryingOptionsOf(options),
      onEvent: printEvents(),
      signal,
    }),
  );
  printTeacherRun(result.teacherRun, err);
  if (result.kind === 'incomplete') {
    out('not every row was answered, so no training file was written: run the same command again to resume');
    process.exitCode = 1;
  }
  if (result.kind === 'written') out(formatTrainingDataFiles(result.files));
}

/** One row per file written: split, rows, label and explanation rates, the subsampling note, the path. */
export function formatTrainingDataFiles(files: readonly TrainingDataFile[]): string {
  const rows = files.map((file) => [file.split, file.rows, file.labelRate, file.explanationRate, subsamplingNote(file.subsampling), file.file]);
  return formatTable(['split', 'rows', 'label rate', 'explanation rate', 'note', 'file'], rows);
}

function subsamplingNote(subsampling: TrainingDataFile['subsampling']): string | null {
  if (!subsampling) return null;
  return subsampling.applied
    ? `subsampled from ${subsampling.rateBefore.toFixed(4)}`
    : `--explanation-rate ${subsampling.requested} is not below the rate achieved (${subsampling.rateBefore.toFixed(4)}): kept all`;
}
