/**
 * The results of student training runs on disk, one directory per run, laid out as the study laid out its runs
 * (distilling step-by-step's `<dataset>/<model>/<mode>/<llm>/<subsample>/<label_type>/<alpha>/<max_input>/<batch>/
 * <optimizer>/<lr>/<run>`, with the prompt mix added after the subsample):
 *
 *   results/<task>/<model>/<mode>/<llm>/<subsample>/<mix>/<label_type>/<alpha>/<max_input>/<batch>/<optimizer>/<lr>/<run>/
 *     config.json       the run's key, its tracking columns and its full training config
 *     train.json        one entry per logged update (loss, learning rate, tokens/s, ...)
 *     eval.json         one entry per evaluation on the validation split (accuracy; which one is the best so far)
 *     test.json         the test accuracy of the selected checkpoint (best validation accuracy; never chosen on test)
 *     predictions.json  that checkpoint's test predictions
 *
 * Numbers in directory names are spelled as Python's str() spells them (subsample 1.0, lr 5e-05), so a run here
 * and the study's run of the same configuration share a path. Every file is written atomically (temporary sibling,
 * fsync, rename). `listRuns` reads a results tree back, and `trackingRow` gives a run as a row with the columns of
 * the study's experiment_tracking.csv, for the notebooks.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ZsdError } from '../core/errors';
import { writeFileAtomic } from '../core/paths';

/** What names a run: the directory levels, in order. */
export interface RunKey {
  /** dataset: cqa, anli1, esnli, svamp, ... */
  task: string;
  /** the student, e.g. t5-v1_1-base or t5-efficient-tiny */
  model: string;
  /** standard or task_prefix */
  mode: string;
  /** where rationales or teacher labels came from (palm, gpt35, several joined with +); "None" for gold-label standard runs */
  llm: string;
  /** fraction of the train split, (0, 1] */
  subsample: number;
  /** prompt mix id ("0" for the PaLM rationales of the original paper) */
  mix: string;
  /** gt (gold labels) or llm (teacher labels) */
  labelType: string;
  alpha: number;
  maxInputLength: number;
  /** effective batch size: per-step batch times gradient accumulation (as the study's path) */
  batchSize: number;
  /** AdamW or Adafactor, as the study spells it */
  optimizer: string;
  learningRate: number;
  /** run number (the seed index) */
  run: number;
}

/** The directory levels, in path order. */
export const RUN_KEY_FIELDS = [
  'task',
  'model',
  'mode',
  'llm',
  'subsample',
  'mix',
  'labelType',
  'alpha',
  'maxInputLength',
  'batchSize',
  'optimizer',
  'learningRate',
  'run',
] as const satisfies readonly (keyof RunKey)[];

const FLOAT_FIELDS: ReadonlySet<keyof RunKey> = new Set(['subsample', 'alpha', 'learningRate']);
const INTEGER_FIELDS: ReadonlySet<keyof RunKey> = new Set(['maxInputLength', 'batchSize', 'run']);

/**
 * Python's repr/str of a float: the shortest decimal that round-trips (as JavaScript's), written in exponent form
 * when the decimal exponent is below -4 or at least 16 (two-digit exponent at least: 5e-05, 1e+16), and with ".0"
 * when integral (1.0).
 */
export function pythonFloatString(value: number): string {
  if (Number.isNaN(value)) return 'nan';
  if (!Number.isFinite(value)) return value > 0 ? 'inf' : '-inf';
  if (value === 0) return Object.is(value, -0) ? '-0.0' : '0.0';
  const [mantissa, exponentText] = value.toExponential().split('e');
  const exponent = Number(exponentText);
  if (exponent < -4 || exponent >= 16) {
    const sign = exponent < 0 ? '-' : '+';
    return `${mantissa}e${sign}${String(Math.abs(exponent)).padStart(2, '0')}`;
  }
  const digits = mantissa.replace('-', '').replace('.', '');
  const negative = value < 0 ? '-' : '';
  let text: string;
  if (exponent < 0) text = `0.${'0'.repeat(-exponent - 1)}${digits}`;
  else if (digits.length <= exponent + 1) text = `${digits}${'0'.repeat(exponent + 1 - digits.length)}.0`;
  else text = `${digits.slice(0, exponent + 1)}.${digits.slice(exponent + 1)}`;
  return `${negative}${text}`;
}

/** One directory level's name for a key field (checked: no separators, no "." or "..", not empty). */
export function runKeySegment(field: keyof RunKey, value: RunKey[keyof RunKey]): string {
  let text: string;
  if (FLOAT_FIELDS.has(field)) {
    if (typeof value !== 'number' || !Number.isFinite(value))
      throw new ZsdError('usage', `run key ${field} must be a finite number, got ${JSON.stringify(value)}`, { key: field });
    text = pythonFloatString(value);
  } else if (INTEGER_FIELDS.has(field)) {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0)
      throw new ZsdError('usage', `run key ${field} must be a non-negative integer, got ${JSON.stringify(value)}`, { key: field });
    text = String(value);
  } else {
    if (typeof value !== 'string') throw new ZsdError('usage', `run key ${field} must be a string, got ${JSON.stringify(value)}`, { key: field });
    text = value;
  }
  if (text === '' || text === '.' || text === '..' || /[/\\\0]/.test(text)) {
    throw new ZsdError('usage', `run key ${field} = ${JSON.stringify(text)} cannot name a directory (empty, "." or "..", or a path separator)`, { key: field });
  }
  return text;
}

/** results/<task>/.../<run> below `resultsRoot`. */
export function runDirectory(resultsRoot: string, key: RunKey): string {
  return path.join(resultsRoot, ...RUN_KEY_FIELDS.map((field) => runKeySegment(field, key[field])));
}

// ---------------------------------------------------------------------------------------------------------------
// File contents

export const RUN_FILES = {
  config: 'config.json',
  train: 'train.json',
  eval: 'eval.json',
  test: 'test.json',
  predictions: 'predictions.json',
} as const;

/** Marks a config.json as a run's (a checkpoint directory's config.json is a model config). */
export const RUN_CONFIG_KIND = 'zsd-student-run';

export interface RunConfigFile {
  kind: typeof RUN_CONFIG_KIND;
  formatVersion: 1;
  key: RunKey;
  /** the study's grouping labels (experiment_tracking.csv's experiment_group and category), when the run has them */
  experimentGroup: string | null;
  category: string | null;
  /** everything the run was trained with (trainer config, model config, data options) */
  config: Record<string, unknown>;
}

/** One logged update: averages over the updates since the previous log entry. */
export interface TrainLogEntry {
  /** optimizer updates done */
  step: number;
  /** fractional epochs done */
  epoch: number;
  loss: number;
  labelLoss: number;
  /** the weighted rationale loss (null in standard mode) */
  rationaleLoss: number | null;
  /** the scheduled learning rate of the update (null for Adafactor with relative steps, which sets its own) */
  learningRate: number | null;
  /** global gradient norm before clipping, when clipping is on */
  gradientNorm: number | null;
  /** non-padding input and label tokens per second over the logged updates */
  tokensPerSecond: number;
  elapsedSeconds: number;
}

export interface EvalEntry {
  step: number;
  epoch: number;
  accuracy: number;
  examples: number;
  /** the best validation accuracy so far, this one included */
  bestAccuracy: number;
  bestStep: number;
  elapsedSeconds: number;
}

export interface TestResult {
  /** the update count of the checkpoint that was tested */
  step: number;
  /** how it was chosen: best validation accuracy, or the last one when there was no validation */
  selectedBy: 'validation-accuracy' | 'last-step';
  accuracy: number;
  examples: number;
  /** that checkpoint's validation accuracy (null without validation) */
  evalAccuracy: number | null;
  /** updates done in the whole run */
  trainSteps: number;
  trainDurationSeconds: number;
  stopReason: string;
}

export interface Prediction {
  index: number;
  input: string;
  /** the gold label as the dataset has it */
  label: string;
  /** the answer scored against `label` (with number mapping: the model's output with the problem's numbers put back) */
  prediction: string;
  /** with number mapping only: what the model wrote, placeholders and all */
  modelOutput?: string;
  correct: boolean;
}

// ---------------------------------------------------------------------------------------------------------------
// Writing

/**
 * Writes one run's files. Appends keep the entries in memory and rewrite the file atomically, so a reader (or a
 * crash) sees the entries up to some point, never half a file. `rewindTo` drops the entries after a checkpoint's
 * step when a run resumes from it (they will be produced again).
 */
export class RunResultsWriter {
  private train: TrainLogEntry[] = [];
  private eval: EvalEntry[] = [];

  private constructor(readonly directory: string) {}

  /**
   * Opens a run directory. A new run refuses a directory that already holds a run (nothing is overwritten by
   * accident); a resumed run requires the same key and config and continues its train and eval entries.
   */
  static open(resultsRoot: string, contents: Omit<RunConfigFile, 'kind' | 'formatVersion'>, options: { resume?: boolean } = {}): RunResultsWriter {
    const directory = runDirectory(resultsRoot, contents.key);
    const writer = new RunResultsWriter(directory);
    const configFile = path.join(directory, RUN_FILES.config);
    const file: RunConfigFile = { kind: RUN_CONFIG_KIND, formatVersion: 1, ...contents };
    if (fs.existsSync(configFile)) {
      if (!options.resume) {
        throw new ZsdError('usage', `${directory} already holds a run; resume it, or choose another run number`, { file: configFile });
      }
      const existing = readRunConfig(configFile);
      const difference = firstDifference(canonical(existing), canonical(file));
      if (difference !== undefined) {
        throw new ZsdError('usage', `cannot resume: the run was made with another configuration (${difference})`, {
          file: configFile,
          key: difference.split(':')[0],
        });
      }
      writer.train = readJsonArray<TrainLogEntry>(path.join(directory, RUN_FILES.train));
      writer.eval = readJsonArray<EvalEntry>(path.join(directory, RUN_FILES.eval));
    } else {
      writeJson(configFile, file);
    }
    return writer;
  }

  recordTrain(entry: TrainLogEntry): void {
    this.train.push(entry);
    writeJson(path.join(this.directory, RUN_FILES.train), this.train);
  }

  recordEvaluation(entry: EvalEntry): void {
    this.eval.push(entry);
    writeJson(path.join(this.directory, RUN_FILES.eval), this.eval);
  }

  recordTest(result: TestResult, predictions: readonly Prediction[]): void {
    writeJson(path.join(this.directory, RUN_FILES.predictions), predictions);
    writeJson(path.join(this.directory, RUN_FILES.test), result); // last: its presence marks a finished run
  }

  /** Drops entries logged after `step` (a resumed run repeats them) and any test result. */
  rewindTo(step: number): void {
    this.train = this.train.filter((entry) => entry.step <= step);
    this.eval = this.eval.filter((entry) => entry.step <= step);
    writeJson(path.join(this.directory, RUN_FILES.train), this.train);
    writeJson(path.join(this.directory, RUN_FILES.eval), this.eval);
    for (const name of [RUN_FILES.test, RUN_FILES.predictions]) fs.rmSync(path.join(this.directory, name), { force: true });
  }

  trainEntries(): readonly TrainLogEntry[] {
    return this.train;
  }

  evalEntries(): readonly EvalEntry[] {
    return this.eval;
  }
}

function writeJson(file: string, value: unknown): void {
  writeFileAtomic(file, `${JSON.stringify(value, null, 2)}\n`);
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ZsdError('invalid-file', `cannot read JSON: ${(error as Error).message}`, { file });
  }
}

function readJsonArray<T>(file: string): T[] {
  if (!fs.existsSync(file)) return [];
  const value = readJson(file);
  if (!Array.isArray(value)) throw new ZsdError('invalid-file', 'expected a JSON array', { file });
  return value as T[];
}

function readRunConfig(file: string): RunConfigFile {
  const value = readJson(file) as Partial<RunConfigFile> | null;
  if (value === null || typeof value !== 'object' || value.kind !== RUN_CONFIG_KIND) {
    throw new ZsdError('invalid-file', `not a run's config.json (expected "kind": "${RUN_CONFIG_KIND}")`, { file, key: 'kind' });
  }
  if (value.formatVersion !== 1)
    throw new ZsdError('invalid-file', `expected formatVersion 1, got ${JSON.stringify(value.formatVersion)}`, { file, key: 'formatVersion' });
  if (value.key === undefined || typeof value.key !== 'object') throw new ZsdError('invalid-file', 'expected the run key object', { file, key: 'key' });
  return value as RunConfigFile;
}

/** JSON with sorted keys, as a comparable value. */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
        .map((key) => [key, canonical((value as Record<string, unknown>)[key])]),
    );
  }
  return value;
}

/** "path: old -> new" for the first differing leaf, or undefined when equal. */
function firstDifference(a: unknown, b: unknown, at = ''): string | undefined {
  if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object' && Array.isArray(a) === Array.isArray(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    for (const key of keys) {
      const found = firstDifference((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key], at === '' ? key : `${at}.${key}`);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  return JSON.stringify(a) === JSON.stringify(b) ? undefined : `${at}: ${JSON.stringify(a)} -> ${JSON.stringify(b)}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Reading

export interface RunRecord {
  directory: string;
  config: RunConfigFile;
  train: TrainLogEntry[];
  eval: EvalEntry[];
  /** absent while the run has not finished */
  test: TestResult | null;
}

/** Every run below a results root (directories at the depth of the layout holding a run's config.json), in path order. */
export function listRuns(resultsRoot: string): RunRecord[] {
  const runs: RunRecord[] = [];
  const walk = (directory: string, depth: number) => {
    if (depth === RUN_KEY_FIELDS.length) {
      const configFile = path.join(directory, RUN_FILES.config);
      if (fs.existsSync(configFile)) runs.push(readRun(directory));
      return;
    }
    const entries = fs.readdirSync(directory, { withFileTypes: true }).filter((entry) => entry.isDirectory());
    for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) walk(path.join(directory, entry.name), depth + 1);
  };
  if (fs.existsSync(resultsRoot)) walk(resultsRoot, 0);
  return runs;
}

export function readRun(directory: string): RunRecord {
  const config = readRunConfig(path.join(directory, RUN_FILES.config));
  const testFile = path.join(directory, RUN_FILES.test);
  return {
    directory,
    config,
    train: readJsonArray<TrainLogEntry>(path.join(directory, RUN_FILES.train)),
    eval: readJsonArray<EvalEntry>(path.join(directory, RUN_FILES.eval)),
    test: fs.existsSync(testFile) ? (readJson(testFile) as TestResult) : null,
  };
}

export function readPredictions(directory: string): Prediction[] {
  return readJsonArray<Prediction>(path.join(directory, RUN_FILES.predictions));
}

/** The columns of the study's experiment_tracking.csv, in its order. */
export const TRACKING_COLUMNS = [
  'experiment_group',
  'category',
  'dataset',
  'model',
  'mode',
  'llm',
  'subsample',
  'prompt_mix',
  'label_type',
  'alpha',
  'max_input_length',
  'batch_size',
  'optimizer',
  'lr',
  'run',
  'train_duration',
  'train_steps',
  'test_acc',
  'eval_acc',
] as const;

export type TrackingRow = Record<(typeof TRACKING_COLUMNS)[number], string | number | null>;

/**
 * A run as a row of the study's tracking table. Key fields keep the spelling of the directory names (subsample
 * "1.0", lr "5e-05", as the CSV has them); train_duration is in seconds; test_acc and eval_acc are the selected
 * checkpoint's accuracies, null until the run has finished.
 */
export function trackingRow(run: RunRecord): TrackingRow {
  const { key } = run.config;
  const segment = (field: keyof RunKey) => runKeySegment(field, key[field]);
  return {
    experiment_group: run.config.experimentGroup,
    category: run.config.category,
    dataset: key.task,
    model: key.model,
    mode: key.mode,
    llm: key.llm,
    subsample: segment('subsample'),
    prompt_mix: key.mix,
    label_type: key.labelType,
    alpha: segment('alpha'),
    max_input_length: key.maxInputLength,
    batch_size: key.batchSize,
    optimizer: key.optimizer,
    lr: segment('learningRate'),
    run: key.run,
    train_duration: run.test?.trainDurationSeconds ?? null,
    train_steps: run.test?.trainSteps ?? null,
    test_acc: run.test?.accuracy ?? null,
    eval_acc: run.test?.evalAccuracy ?? null,
  };
}
