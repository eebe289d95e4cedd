import { Command, Option } from 'commander';
import type { TeacherEvaluation } from '../evaluate/evaluate-teacher';
import type { TemplateEvaluation } from '../evaluate/metrics';
import { evaluateTeacher } from '../pipeline/teacher-evaluation';
import { STUDY_MODEL } from '../teacher/recorded-responses';
import { addCommonOptions, parseIdList, rootOptionsOf, type CommonOptions } from './options';
import { formatTable } from './table';

interface EvaluateOptions extends CommonOptions {
  task: string;
  split: string;
  teacher: string;
  templates?: number[];
  json?: boolean;
  write: boolean;
}

/** Fields of `--json`, in the study's prompt-metadata vocabulary. */
const JSON_FIELDS = [
  'accuracy',
  'n_correct',
  'n_wrong',
  'n_parse_errors',
  'n_none_responses',
  'total_responses',
  'explanation_rate',
  'avg_len_of_explanations',
  'avg_nr_of_words',
  'avg_nr_of_sentences',
  'variance_length_of_explanations',
  'flesch_reading_ease',
  'n_responses',
  'n_explanations',
] as const satisfies readonly (keyof TemplateEvaluation)[];

export function evaluateCommand(): Command {
  const command = new Command('evaluate')
    .description(
      'Evaluate a recorded teacher on one split: per prompt template, accuracy, parse errors, explanation rate and explanation statistics. ' +
        'Writes prompt metadata (prompt-metadata/<task>.yaml in the workspace) for the train split.',
    )
    .requiredOption('--task <task>', 'cqa, svamp, anli1, esnli, or your own task under datasets/<task>/')
    .requiredOption('--split <split>', 'split to evaluate (train, valid, test)')
    .addOption(new Option('--teacher <teacher>', `recorded teacher: ${STUDY_MODEL} (query-results/) or palm (few-shot PaLM llm/ files)`).default(STUDY_MODEL))
    .option('--templates <ids>', 'only these template ids, comma-separated', parseIdList)
    .option('--json', 'print only a JSON object keyed by template id')
    .option('--no-write', 'do not write prompt metadata');
  addCommonOptions(command);
  return command.action((options: EvaluateOptions) => runEvaluate(options));
}

export function runEvaluate(options: EvaluateOptions): void {
  const { evaluation, ranked, metadata } = evaluateTeacher({
    ...rootOptionsOf(options),
    task: options.task,
    split: options.split,
    teacher: options.teacher,
    templates: options.templates,
    writeMetadata: options.write,
  });
  // With --json, stdout holds the JSON only.
  const log = options.json ? (line: string) => process.stderr.write(`${line}\n`) : (line: string) => process.stdout.write(`${line}\n`);
  if (options.json) {
    const object: Record<string, Record<string, number | null>> = {};
    for (const report of ranked) {
      object[report.id] = Object.fromEntries(JSON_FIELDS.map((field) => [field, jsonNumber(report.evaluation[field])]));
    }
    process.stdout.write(`${JSON.stringify(object, null, 2)}\n`);
  } else {
    printTable(evaluation, ranked);
  }
  if (metadata.kind === 'read-only')
    log(`not writing prompt metadata: the workspace ${metadata.workspace} is inside the read-only data root (pass --workspace DIR)`);
  if (metadata.kind === 'written') log(`prompt metadata for ${ranked.length} templates written to ${metadata.file}`);
}

function printTable(result: TeacherEvaluation, reports: TeacherEvaluation['reports']): void {
  const header = ['template', 'accuracy', 'correct', 'wrong', 'parse err', 'no expl', 'rows', 'expl rate', 'avg chars', 'avg words', 'FRE'];
  const rows = reports.map(({ id, evaluation: e }) => [
    id,
    e.accuracy,
    e.n_correct,
    e.n_wrong,
    e.n_parse_errors,
    e.n_none_responses,
    e.n_responses,
    e.explanation_rate,
    e.avg_len_of_explanations,
    e.avg_nr_of_words,
    e.flesch_reading_ease,
  ]);
  process.stdout.write(`${result.task} ${result.split}, teacher ${result.teacher}: ${reports.length} template${reports.length === 1 ? '' : 's'}\n`);
  process.stdout.write(`${formatTable(header, rows)}\n`);
  if (result.goldUnavailable) process.stdout.write(`accuracy unavailable: ${result.goldUnavailable}\n`);
  const best = reports[0];
  if (best && best.evaluation.accuracy !== null) process.stdout.write(`best: template ${best.id} (accuracy ${best.evaluation.accuracy.toFixed(4)})\n`);
}

function jsonNumber(value: number | null): number | null {
  return value === null || Number.isNaN(value) ? null : value;
}
