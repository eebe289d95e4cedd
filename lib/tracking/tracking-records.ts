import * as fs from 'node:fs';
import * as path from 'node:path';
import { ZsdError } from '../core/errors';
import { runKeySegment, trackingRow, RUN_KEY_FIELDS, TRACKING_COLUMNS, type RunKey, type RunRecord } from '../student/train-results';
import { parseCsv } from './csv';

/**
 * Rows of an experiment-tracking table: the study's `paper/experiment_tracking.csv` (367 runs of its students), a
 * plan file with the same columns, or zsd's own results tree. One typed record per row, keeping the study's column
 * names (snake_case) so that tables built from them read like the study's pandas frames.
 */

export interface TrackingRecord {
  experiment_group: string | null;
  category: string | null;
  dataset: string;
  model: string;
  /** standard | task_prefix */
  mode: string;
  /** None | palm | gpt35 (several joined with +) */
  llm: string;
  subsample: number;
  prompt_mix: string;
  /** gt | llm */
  label_type: string;
  alpha: number;
  max_input_length: number;
  batch_size: number;
  optimizer: string;
  lr: number;
  run: number;
  train_duration: number | null;
  train_steps: number | null;
  test_acc: number | null;
  eval_acc: number | null;
  /** Where the row came from: `file:line`, or a run directory. */
  origin: string;
}

/** The study's tracking file below a data root. */
export function studyTrackingFile(dataRoot: string): string {
  return path.join(dataRoot, 'paper', 'experiment_tracking.csv');
}

/** Columns a tracking (or plan) file must have: those that name a configuration. */
export const CONFIGURATION_COLUMNS = TRACKING_COLUMNS.slice(TRACKING_COLUMNS.indexOf('dataset'), TRACKING_COLUMNS.indexOf('run') + 1);

/**
 * Reads a tracking or plan CSV. Configuration columns are required; experiment_group, category and the result
 * columns may be missing or empty (null). A value that is not what its column expects fails with file, line and
 * column.
 */
export function readTrackingFile(file: string): TrackingRecord[] {
  if (!fs.existsSync(file)) throw new ZsdError('not-found', 'tracking file not found', { file });
  const table = parseCsv(fs.readFileSync(file, 'utf8'), file);
  const missing = CONFIGURATION_COLUMNS.filter((column) => !table.header.includes(column));
  if (missing.length > 0) {
    throw new ZsdError(
      'invalid-file',
      `missing column${missing.length > 1 ? 's' : ''} ${missing.join(', ')}; expected the study's columns ${TRACKING_COLUMNS.join(',')}`,
      {
        file,
        line: 1,
      },
    );
  }
  return table.rows.map(({ line, values }) => {
    const where = (key: string) => ({ file, line, key });
    const text = (column: string): string => {
      const value = (values[column] ?? '').trim();
      if (value === '') throw new ZsdError('invalid-file', `empty ${column}; expected a value`, where(column));
      return value;
    };
    const optionalText = (column: string): string | null => {
      const value = (values[column] ?? '').trim();
      return value === '' ? null : value;
    };
    const number = (column: string, options: { integer?: boolean; min?: number; exclusiveMin?: boolean; max?: number } = {}): number => {
      const raw = text(column);
      const value = Number(raw);
      const fails =
        !Number.isFinite(value) ||
        (options.integer && !Number.isInteger(value)) ||
        (options.min !== undefined && (options.exclusiveMin ? value <= options.min : value < options.min)) ||
        (options.max !== undefined && value > options.max);
      if (fails) {
        const range = [
          options.min !== undefined ? `${options.exclusiveMin ? '>' : '>='} ${options.min}` : undefined,
          options.max !== undefined ? `<= ${options.max}` : undefined,
        ].filter(Boolean);
        throw new ZsdError(
          'invalid-file',
          `${column} "${raw}" is not ${options.integer ? 'an integer' : 'a number'}${range.length ? ` ${range.join(' and ')}` : ''}`,
          where(column),
        );
      }
      return value;
    };
    const optionalNumber = (column: string): number | null => {
      const raw = (values[column] ?? '').trim();
      if (raw === '' || raw.toLowerCase() === 'nan') return null;
      const value = Number(raw);
      if (!Number.isFinite(value)) throw new ZsdError('invalid-file', `${column} "${raw}" is not a number`, where(column));
      return value;
    };
    const record: TrackingRecord = {
      experiment_group: optionalText('experiment_group'),
      category: optionalText('category'),
      dataset: text('dataset'),
      model: text('model'),
      mode: text('mode'),
      llm: text('llm'),
      subsample: number('subsample', { min: 0, exclusiveMin: true, max: 1 }),
      prompt_mix: text('prompt_mix'),
      label_type: text('label_type'),
      alpha: number('alpha', { min: 0, max: 1 }),
      max_input_length: number('max_input_length', { integer: true, min: 1 }),
      batch_size: number('batch_size', { integer: true, min: 1 }),
      optimizer: text('optimizer'),
      lr: number('lr', { min: 0 }),
      run: number('run', { integer: true, min: 0 }),
      train_duration: optionalNumber('train_duration'),
      train_steps: optionalNumber('train_steps'),
      test_acc: optionalNumber('test_acc'),
      eval_acc: optionalNumber('eval_acc'),
      origin: `${file}:${line}`,
    };
    return record;
  });
}

/** A run of zsd's results tree as a tracking record (accuracies null until it has finished). */
export function trackingRecordOfRun(run: RunRecord): TrackingRecord {
  const row = trackingRow(run);
  const { key } = run.config;
  return {
    experiment_group: run.config.experimentGroup,
    category: run.config.category,
    dataset: key.task,
    model: key.model,
    mode: key.mode,
    llm: key.llm,
    subsample: key.subsample,
    prompt_mix: key.mix,
    label_type: key.labelType,
    alpha: key.alpha,
    max_input_length: key.maxInputLength,
    batch_size: key.batchSize,
    optimizer: key.optimizer,
    lr: key.learningRate,
    run: key.run,
    train_duration: row.train_duration as number | null,
    train_steps: row.train_steps as number | null,
    test_acc: row.test_acc as number | null,
    eval_acc: row.eval_acc as number | null,
    origin: run.directory,
  };
}

/** The run key a tracking record names (the results directory levels). */
export function runKeyOfRecord(record: TrackingRecord): RunKey {
  return {
    task: record.dataset,
    model: record.model,
    mode: record.mode,
    llm: record.llm,
    subsample: record.subsample,
    mix: record.prompt_mix,
    labelType: record.label_type,
    alpha: record.alpha,
    maxInputLength: record.max_input_length,
    batchSize: record.batch_size,
    optimizer: record.optimizer,
    learningRate: record.lr,
    run: record.run,
  };
}

/**
 * A run key as one comparable string (its directory path). zsd's standard mode trains labels only and stores
 * alpha 1 in the key, while the study's rows say 0.5 for the same runs, so standard-mode keys compare without alpha.
 */
export function runKeyIdentity(key: RunKey): string {
  return RUN_KEY_FIELDS.map((field) => (field === 'alpha' && key.mode === 'standard' ? '*' : runKeySegment(field, key[field]))).join('/');
}
