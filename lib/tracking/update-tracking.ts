import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../core/paths';
import { listRuns, trackingRow, TRACKING_COLUMNS, type RunRecord } from '../student/train-results';
import { formatCsv } from './csv';

/**
 * `zsd track update`: every run of `<workspace>/results/` as one row of `results/experiment-tracking.csv`, the
 * study's columns first (in its order, spelled as its CSV spells them: subsample 1.0, lr 5e-05), then zsd's own.
 * The file lives beside the runs it summarises. Rows are in path order and nothing time-dependent is written, so
 * running it again over the same results writes the same bytes (and does not rewrite an unchanged file).
 */

/** Columns zsd adds after the study's. */
export const ZSD_TRACKING_COLUMNS = [
  /** finished (test.json written) or unfinished */
  'status',
  /** update count of the tested checkpoint */
  'selected_step',
  /** validation or last-step */
  'selected_by',
  'test_examples',
  'stop_reason',
  /** evaluations on the validation split logged so far */
  'evaluations',
  /** the run's directory, relative to results/ */
  'run_directory',
] as const;

export const TRACKING_FILE_NAME = 'experiment-tracking.csv';

export function trackingFile(workspaceRoot: string): string {
  return path.join(workspaceRoot, 'results', TRACKING_FILE_NAME);
}

export type TrackingCsvRow = Record<string, string | number | null>;

/** A run as a row: the study's columns (trackingRow) and zsd's. */
export function trackingCsvRow(run: RunRecord, resultsRoot: string): TrackingCsvRow {
  return {
    ...trackingRow(run),
    status: run.test ? 'finished' : 'unfinished',
    selected_step: run.test?.step ?? null,
    selected_by: run.test ? (run.test.selectedBy === 'validation-accuracy' ? 'validation' : 'last-step') : null,
    test_examples: run.test?.examples ?? null,
    stop_reason: run.test?.stopReason ?? null,
    evaluations: run.eval.length,
    run_directory: path.relative(resultsRoot, run.directory).split(path.sep).join('/'),
  };
}

export interface TrackingUpdate {
  file: string;
  runs: number;
  finished: number;
  /** false when the file already held exactly these rows */
  changed: boolean;
}

/** Collects `<workspace>/results/` into `results/experiment-tracking.csv`, atomically. */
export function updateTracking(workspaceRoot: string): TrackingUpdate {
  const resultsRoot = path.join(workspaceRoot, 'results');
  const runs = listRuns(resultsRoot);
  const content = formatCsv(
    [...TRACKING_COLUMNS, ...ZSD_TRACKING_COLUMNS],
    runs.map((run) => trackingCsvRow(run, resultsRoot)),
  );
  const file = trackingFile(workspaceRoot);
  const unchanged = fs.existsSync(file) && fs.readFileSync(file, 'utf8') === content;
  if (!unchanged) writeFileAtomic(file, content);
  return { file, runs: runs.length, finished: runs.filter((run) => run.test !== null).length, changed: !unchanged };
}
