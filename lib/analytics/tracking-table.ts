import * as aq from 'arquero';
import * as path from 'node:path';
import type { Workspace } from '../core/paths';
import { listRuns, TRACKING_COLUMNS } from '../student/train-results';
import { readTrackingFile, studyTrackingFile, trackingRecordOfRun, type TrackingRecord } from '../tracking/tracking-records';

/**
 * Student-training runs as arquero tables with the study's columns (experiment_group, category, dataset, model,
 * mode, llm, subsample, prompt_mix, label_type, alpha, max_input_length, batch_size, optimizer, lr, run,
 * train_duration, train_steps, test_acc, eval_acc) plus `origin` (file:line or run directory):
 * - the study's `paper/experiment_tracking.csv` (367 runs), read and validated by lib/tracking;
 * - zsd's own `<workspace>/results/` tree, through lib/student/train-results listRuns (unfinished runs have
 *   null accuracies).
 *
 * Why arquero and not danfo.js: arquero is plain ESM JavaScript with no native or TensorFlow.js dependency (danfojs-node
 * pulls in @tensorflow/tfjs-node, and only lib/student may load TensorFlow.js), it is columnar, and its verbs
 * (filter, groupby, orderby, derive with window functions, rollup) express the study's pandas aggregation directly.
 */

export function studyTrackingRecords(dataRoot: string): TrackingRecord[] {
  return readTrackingFile(studyTrackingFile(dataRoot));
}

export function studyTrackingTable(dataRoot: string): aq.ColumnTable {
  return aq.from(studyTrackingRecords(dataRoot));
}

export function resultsTrackingRecords(workspace: Workspace): TrackingRecord[] {
  return listRuns(path.join(workspace.root, 'results')).map(trackingRecordOfRun);
}

export function resultsTrackingTable(workspace: Workspace): aq.ColumnTable {
  return trackingTable(resultsTrackingRecords(workspace));
}

/** Records as a table; an empty list still gets the columns, so verbs on it work. */
export function trackingTable(records: readonly TrackingRecord[]): aq.ColumnTable {
  if (records.length > 0) return aq.from(records);
  const columns: Record<string, unknown[]> = {};
  for (const name of TRACKING_RECORD_COLUMNS) columns[name] = [];
  return aq.table(columns);
}

export const TRACKING_RECORD_COLUMNS: readonly (keyof TrackingRecord)[] = [...TRACKING_COLUMNS, 'origin'];
