import { Command } from 'commander';
import { STUDY_EXPERIMENT_SEED } from '../annotate/experiment';
import { queryTeacher } from '../pipeline/query-teacher';
import { printEvents } from './event-printer';
import { addCommonOptions, parseIdList, rootOptionsOf, type CommonOptions, numberFlag } from './options';
import { withInterrupt } from './progress';
import { addTeacherOptions, printTeacherRun, queryingOptionsOf, teacherOptionsOf, type TeacherFlags } from './teacher-run';

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
        "query-results/<task>/<split>/<template>/responses.json before it is used; answers already stored (yours or the recorded study's) are not asked again.",
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
  const err = (line: string) => process.stderr.write(`${line}\n`);
  const result = await withInterrupt(err, (signal) =>
    queryTeacher({
      ...rootOptionsOf(options),
      task: options.task,
      split: options.split,
      templates: options.templates,
      samples: options.samples,
      seed: options.seed,
      teacher: teacherOptionsOf(options),
      querying: queryingOptionsOf(options),
      onEvent: printEvents(),
      signal,
    }),
  );
  printTeacherRun(result.teacherRun, err);
  if (result.teacherRun.kind === 'ran' && !result.teacherRun.summary.answeredAll) process.exitCode = 1;
}
