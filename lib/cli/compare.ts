import { Command } from 'commander';
import { compareTeacherAndStudent, COMPARE_DEFAULTS as D } from '../pipeline/compare-teacher-and-student';
import type { Comparison, ComparisonSide } from '../serve/compare';
import type { BackendPreference } from '../student/backend';
import { parsePriceFlag, type ModelPrice } from '../teacher/prices';
import { backendOption } from './check-model';
import { addCommonOptions, type CommonOptions, numberFlag } from './options';
import { formatTable } from './table';

export interface CompareCommandOptions extends CommonOptions {
  task: string;
  split: string;
  template: number;
  teacher: string;
  price?: ModelPrice;
  model?: string;
  studentUrl?: string;
  studentName: string;
  studentApiKey?: string;
  rows?: number;
  concurrency: number;
  machineCost: number;
  maxNewTokens: number;
  maxInputLength: number;
  backend: BackendPreference;
  json?: boolean;
}

/** `zsd compare`: the teacher's recorded answers and the served student on the same rows (lib/pipeline/compare-teacher-and-student.ts). */
export function compareCommand(): Command {
  const command = new Command('compare')
    .description('Teacher vs student on the same rows: accuracy, explanation rate, latency, throughput, $ per 1,000 answers, model size')
    .requiredOption('--task <task>', 'cqa, svamp, anli1, esnli, or your own task')
    .option('--split <split>', 'split whose recorded teacher answers are compared', D.split)
    .requiredOption('--template <id>', "the template whose recorded answers are the teacher's", numberFlag('--template', { min: 0, integer: true }))
    .option('--teacher <model>', 'the teacher model whose recorded answers to read', D.teacher)
    .option('--price <prompt,completion>', "the teacher's dollars per 1K prompt and completion tokens (default: prices.yaml)", parsePriceFlag)
    .option('--model <dir>', 'the student (a run, checkpoints directory or checkpoint), served here for the comparison')
    .option('--student-url <url>', 'or a running `zsd serve`, e.g. http://127.0.0.1:8000/v1')
    .option('--student-name <id>', "the served student's model name", D.studentName)
    .option('--student-api-key <key>', "the running server's --api-key (default: $ZSD_SERVE_API_KEY)")
    .option('--rows <n>', 'only the first n rows the teacher answered', numberFlag('--rows', { min: 1, integer: true }))
    .option('--concurrency <n>', 'student requests in flight at once', numberFlag('--concurrency', { min: 1, max: 1024, integer: true }), D.concurrency)
    .option(
      '--machine-cost <dollars per hour>',
      `what the student's machine costs (default ${D.machineCost}: a 2-vCPU on-demand cloud VM)`,
      numberFlag('--machine-cost', { min: 0 }),
      D.machineCost,
    )
    .option('--max-new-tokens <n>', 'with --model: tokens per answer at most', numberFlag('--max-new-tokens', { min: 1, integer: true }), D.maxNewTokens)
    .option('--max-input-length <n>', 'with --model: longest input in tokens', numberFlag('--max-input-length', { min: 2, integer: true }), D.maxInputLength)
    .option('--json', 'print the comparison as JSON')
    .addOption(backendOption());
  addCommonOptions(command);
  return command.action(async (options: CompareCommandOptions) => {
    await runCompare(options);
  });
}

export async function runCompare(options: CompareCommandOptions): Promise<Comparison> {
  const { comparison } = await compareTeacherAndStudent({
    ...options,
    onEvent: (event) => event.kind === 'info' && process.stderr.write(`${event.message}\n`),
  });
  process.stdout.write(options.json ? `${JSON.stringify(comparison, null, 2)}\n` : `${formatComparison(comparison)}\n`);
  return comparison;
}

export function formatComparison(comparison: Comparison): string {
  const row = (role: string, side: ComparisonSide) => [
    role,
    side.name,
    side.accuracy,
    side.explanation_rate,
    side.latency_ms === null ? null : Math.round(side.latency_ms.p50),
    side.latency_ms === null ? null : Math.round(side.latency_ms.p95),
    side.answers_per_second,
    side.usd_per_1000_answers,
    side.parameters === null ? null : `${(side.parameters / 1e6).toFixed(1)}M`,
  ];
  const table = formatTable(
    ['', 'model', 'accuracy', 'explanation rate', 'p50 ms', 'p95 ms', 'answers/s', '$ per 1,000', 'parameters'],
    [row('teacher', comparison.teacher), row('student', comparison.student)],
  );
  return [
    `${comparison.task} ${comparison.split}, ${comparison.rows.length} rows (template ${comparison.template}'s recorded answers):`,
    table,
    `teacher $: ${comparison.teacher.cost_basis}; its latency is not recorded (n/a)`,
    `student $: ${comparison.student.cost_basis}`,
  ].join('\n');
}
