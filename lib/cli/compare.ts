import { Command } from 'commander';
import { ZsdError } from '../core/errors';
import { writeFileAtomic } from '../core/paths';
import { getTask } from '../data/tasks';
import { compareTeacherAndStudent, comparisonFile, DEFAULT_MACHINE_USD_PER_HOUR, type Comparison, type ComparisonSide, type StudentEndpoint } from '../serve/compare';
import { startStudentServer, type StudentServer } from '../serve/server';
import { studentModelDetails, StudentAnswerer } from '../serve/student-answerer';
import { initBackend, type BackendPreference } from '../student/backend';
import { loadPriceTable, parsePriceFlag, priceFor, type ModelPrice } from '../teacher/prices';
import { STUDY_MODEL } from '../teacher/recorded-responses';
import { backendOption } from './check-model';
import { addCommonOptions, resolveRoots, type CommonOptions } from './options';
import { formatTable } from './table';
import { numberFlag } from './teacher-run';

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
  /** print nothing (the demo prints the comparison in its summary) */
  quiet?: boolean;
}

/** `zsd compare`: the teacher's recorded answers and the served student on the same rows (lib/serve/compare.ts). */
export function compareCommand(): Command {
  const command = new Command('compare')
    .description('Teacher vs student on the same rows: accuracy, explanation rate, latency, throughput, $ per 1,000 answers, model size')
    .requiredOption('--task <task>', 'cqa, svamp, anli1, esnli, or your own task')
    .option('--split <split>', 'split whose recorded teacher answers are compared', 'test')
    .requiredOption('--template <id>', 'the template whose recorded answers are the teacher\'s', numberFlag('--template', { min: 0, integer: true }))
    .option('--teacher <model>', 'the teacher model whose recorded answers to read', STUDY_MODEL)
    .option('--price <prompt,completion>', 'the teacher\'s dollars per 1K prompt and completion tokens (default: prices.yaml)', parsePriceFlag)
    .option('--model <dir>', 'the student (a run, checkpoints directory or checkpoint), served here for the comparison')
    .option('--student-url <url>', 'or a running `zsd serve`, e.g. http://127.0.0.1:8000/v1')
    .option('--student-name <id>', 'the served student\'s model name', 'zsd-student')
    .option('--student-api-key <key>', 'the running server\'s --api-key (default: $ZSD_SERVE_API_KEY)')
    .option('--rows <n>', 'only the first n rows the teacher answered', numberFlag('--rows', { min: 1, integer: true }))
    .option('--concurrency <n>', 'student requests in flight at once', numberFlag('--concurrency', { min: 1, max: 1024, integer: true }), 8)
    .option('--machine-cost <dollars per hour>', `what the student's machine costs (default ${DEFAULT_MACHINE_USD_PER_HOUR}: a 2-vCPU on-demand cloud VM)`, numberFlag('--machine-cost', { min: 0 }), DEFAULT_MACHINE_USD_PER_HOUR)
    .option('--max-new-tokens <n>', 'with --model: tokens per answer at most', numberFlag('--max-new-tokens', { min: 1, integer: true }), 64)
    .option('--max-input-length <n>', 'with --model: longest input in tokens', numberFlag('--max-input-length', { min: 2, integer: true }), 512)
    .option('--json', 'print the comparison as JSON')
    .addOption(backendOption());
  addCommonOptions(command);
  return command.action(async (options: CompareCommandOptions) => {
    await runCompare(options);
  });
}

export async function runCompare(options: CompareCommandOptions): Promise<Comparison> {
  if ((options.model === undefined) === (options.studentUrl === undefined)) throw new ZsdError('usage', 'pass the student as --model <dir> (served here) or --student-url <url> (a running zsd serve), one of them');
  const { dataRoot, workspace } = resolveRoots(options);
  const task = getTask(options.task, [dataRoot, workspace.root]);
  const price = priceFor(options.teacher, loadPriceTable(workspace.root), options.price);
  let server: StudentServer | undefined;
  let answerer: StudentAnswerer | undefined;
  let student: StudentEndpoint;
  try {
    if (options.model !== undefined) {
      const backend = await initBackend({ prefer: options.backend });
      if (!options.quiet) process.stderr.write(`backend: ${backend.description}\n`);
      answerer = StudentAnswerer.load(options.model, { maxInputTokens: options.maxInputLength, dataRoot });
      server = await startStudentServer({ answerer, modelId: options.studentName, port: 0, maxBatchSize: 16, batchWaitMs: 5, maxQueue: 1024, maxNewTokens: options.maxNewTokens, modelDetails: studentModelDetails(answerer) });
      if (!options.quiet) process.stderr.write(`student: ${answerer.checkpoint}, served at ${server.baseUrl}\n`);
      student = { baseUrl: server.baseUrl, modelId: options.studentName };
    } else {
      student = { baseUrl: options.studentUrl!.replace(/\/+$/, ''), modelId: options.studentName, apiKey: options.studentApiKey ?? (process.env.ZSD_SERVE_API_KEY || undefined) };
    }
    const comparison = await compareTeacherAndStudent({
      task,
      split: options.split,
      dataRoot,
      workspace,
      templateId: options.template,
      teacherModel: options.teacher,
      price,
      student,
      rows: options.rows,
      concurrency: options.concurrency,
      machineUsdPerHour: options.machineCost,
    });
    if (workspace.readOnly) {
      process.stderr.write(`not written: the workspace ${workspace.root} is inside the read-only data root (pass --workspace DIR)\n`);
    } else {
      const file = comparisonFile(workspace.root, comparison);
      writeFileAtomic(file, `${JSON.stringify(comparison, null, 2)}\n`);
      if (!options.quiet) process.stderr.write(`written: ${file}\n`);
    }
    if (!options.quiet) process.stdout.write(options.json ? `${JSON.stringify(comparison, null, 2)}\n` : `${formatComparison(comparison)}\n`);
    return comparison;
  } finally {
    await server?.close();
    answerer?.dispose();
  }
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
