import { ZsdError } from '../core/errors';
import { writeFileAtomic } from '../core/paths';
import { getTask } from '../data/tasks';
import {
  compareTeacherAndStudent as compareAnswers,
  comparisonFile,
  DEFAULT_MACHINE_USD_PER_HOUR,
  type Comparison,
  type StudentEndpoint,
} from '../serve/compare';
import { startStudentServer, type StudentServer } from '../serve/server';
import { studentModelDetails, StudentAnswerer } from '../serve/student-answerer';
import { initBackend, type BackendPreference } from '../student/backend';
import { loadPriceTable, priceFor, type ModelPrice } from '../teacher/prices';
import { STUDY_MODEL } from '../teacher/recorded-responses';
import { ignoreEvents, type OnPipelineEvent } from './events';
import { resolveRoots, type RootOptions } from './roots';

/**
 * Teacher vs student on the same rows (`zsd compare`): the teacher's recorded answers with one template, and a
 * student (a checkpoint served here, or a running `zsd serve`) asked the same rows; accuracy, explanation rate,
 * latency, throughput, dollars per 1,000 answers and size (lib/serve/compare.ts). Written where `zsd figures` reads it.
 */
export interface CompareTeacherAndStudentOptions extends RootOptions {
  task: string;
  /** split whose recorded teacher answers are compared (default test) */
  split?: string;
  /** the template whose recorded answers are the teacher's */
  template: number;
  /** the teacher model whose recorded answers to read (default the study's) */
  teacher?: string;
  /** the teacher's dollars per 1K tokens (default: prices.yaml) */
  price?: ModelPrice;
  /** the student (a run, checkpoints directory or checkpoint), served here; or studentUrl */
  model?: string;
  /** a running `zsd serve`, e.g. http://127.0.0.1:8000/v1 */
  studentUrl?: string;
  /** the served student's model name (default zsd-student) */
  studentName?: string;
  studentApiKey?: string;
  /** only the first n rows the teacher answered */
  rows?: number;
  /** student requests in flight at once (default 8) */
  concurrency?: number;
  /** what the student's machine costs, dollars per hour */
  machineCost?: number;
  /** with model: tokens per answer at most (default 64) and longest input in tokens (default 512) */
  maxNewTokens?: number;
  maxInputLength?: number;
  backend?: BackendPreference;
  onEvent?: OnPipelineEvent;
}

export interface CompareTeacherAndStudentResult {
  comparison: Comparison;
  /** where it was written; null in a read-only workspace */
  file: string | null;
}

export const COMPARE_DEFAULTS = {
  split: 'test',
  teacher: STUDY_MODEL,
  studentName: 'zsd-student',
  concurrency: 8,
  machineCost: DEFAULT_MACHINE_USD_PER_HOUR,
  maxNewTokens: 64,
  maxInputLength: 512,
  backend: 'auto',
} as const;

export async function compareTeacherAndStudent(options: CompareTeacherAndStudentOptions): Promise<CompareTeacherAndStudentResult> {
  if ((options.model === undefined) === (options.studentUrl === undefined))
    throw new ZsdError('usage', 'pass the student as --model <dir> (served here) or --student-url <url> (a running zsd serve), one of them');
  const onEvent = options.onEvent ?? ignoreEvents;
  const info = (message: string) => onEvent({ kind: 'info', message });
  const { dataRoot, workspace } = resolveRoots(options);
  const task = getTask(options.task, [dataRoot, workspace.root]);
  const teacherModel = options.teacher ?? COMPARE_DEFAULTS.teacher;
  const studentName = options.studentName ?? COMPARE_DEFAULTS.studentName;
  const price = priceFor(teacherModel, loadPriceTable(workspace.root), options.price);
  let server: StudentServer | undefined;
  let answerer: StudentAnswerer | undefined;
  let student: StudentEndpoint;
  try {
    if (options.model !== undefined) {
      const backend = await initBackend({ prefer: options.backend ?? COMPARE_DEFAULTS.backend });
      info(`backend: ${backend.description}`);
      answerer = StudentAnswerer.load(options.model, { maxInputTokens: options.maxInputLength ?? COMPARE_DEFAULTS.maxInputLength, dataRoot });
      server = await startStudentServer({
        answerer,
        modelId: studentName,
        port: 0,
        maxBatchSize: 16,
        batchWaitMs: 5,
        maxQueue: 1024,
        maxNewTokens: options.maxNewTokens ?? COMPARE_DEFAULTS.maxNewTokens,
        modelDetails: studentModelDetails(answerer),
      });
      info(`student: ${answerer.checkpoint}, served at ${server.baseUrl}`);
      student = { baseUrl: server.baseUrl, modelId: studentName };
    } else {
      student = {
        baseUrl: options.studentUrl!.replace(/\/+$/, ''),
        modelId: studentName,
        apiKey: options.studentApiKey ?? (process.env.ZSD_SERVE_API_KEY || undefined),
      };
    }
    const comparison = await compareAnswers({
      task,
      split: options.split ?? COMPARE_DEFAULTS.split,
      dataRoot,
      workspace,
      templateId: options.template,
      teacherModel,
      price,
      student,
      rows: options.rows,
      concurrency: options.concurrency ?? COMPARE_DEFAULTS.concurrency,
      machineUsdPerHour: options.machineCost ?? COMPARE_DEFAULTS.machineCost,
    });
    if (workspace.readOnly) {
      info(`not written: the workspace ${workspace.root} is inside the read-only data root (pass --workspace DIR)`);
      return { comparison, file: null };
    }
    const file = comparisonFile(workspace.root, comparison);
    writeFileAtomic(file, `${JSON.stringify(comparison, null, 2)}\n`);
    info(`written: ${file}`);
    return { comparison, file };
  } finally {
    await server?.close();
    answerer?.dispose();
  }
}
