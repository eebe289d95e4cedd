import * as fs from 'node:fs';
import * as path from 'node:path';
import { ZsdError } from '../core/errors';
import type { Workspace } from '../core/paths';
import { T5_PRESETS } from '../student/t5-config';
import { listRuns, pythonFloatString, type RunKey } from '../student/train-results';
import { readTrackingFile, runKeyIdentity, runKeyOfRecord, studyTrackingFile, type TrackingRecord } from './tracking-records';

/**
 * `zsd track plan`: which planned runs have no results yet, as `zsd train` command lines.
 *
 * The plan is a table with the study's columns, one row per run: `--plan FILE`, else `<workspace>/experiment-plan.csv`,
 * else the study's own `paper/experiment_tracking.csv` (its rows of a group are the runs that reproduce it). A
 * planned row is done when `<workspace>/results/` holds a finished run with the same key (the results directory
 * levels; standard-mode runs compare without alpha, which zsd stores as 1); a run that exists but has not finished is
 * printed with `--resume`. The study's rows with run = 100 were typed in by hand from Hsieh et al.'s paper (no run
 * of theirs stands behind them), so they are not planned unless asked for.
 */

export const PLAN_FILE_NAME = 'experiment-plan.csv';

/** The run number the study gave to the numbers it copied from the original paper. */
export const HAND_ENTERED_RUN = 100;

/** Columns `zsd track plan` can filter on, by flag name. */
export const PLAN_FILTERS = {
  category: 'category',
  dataset: 'dataset',
  model: 'model',
  mode: 'mode',
  llm: 'llm',
  subsample: 'subsample',
  mix: 'prompt_mix',
  labelType: 'label_type',
  lr: 'lr',
  run: 'run',
} as const satisfies Record<string, keyof TrackingRecord>;

export type PlanFilterName = keyof typeof PLAN_FILTERS;
export type PlanFilters = Partial<Record<PlanFilterName, string>>;

const NUMERIC_FILTERS: ReadonlySet<PlanFilterName> = new Set(['subsample', 'lr', 'run']);

export interface PlanRequest {
  workspace: Workspace;
  dataRoot: string;
  /** the plan file; default: <workspace>/experiment-plan.csv, else the study's tracking file */
  planFile?: string;
  group: string;
  filters?: PlanFilters;
  /** also plan the study's hand-entered rows (run = 100) */
  includeHandEntered?: boolean;
  /** where pretrained students live for `--init-from DIR/<model>` (models that are not a zsd preset) */
  modelsDirectory?: string;
  /** flags appended to every command (default: the study's schedule, STUDY_TRAINING_FLAGS) */
  extraFlags?: readonly string[];
}

/** The study's schedule: up to 10k updates, validation every 250. */
export const STUDY_TRAINING_FLAGS: readonly string[] = ['--max-steps', '10000', '--eval-steps', '250'];

export interface PlannedRun {
  record: TrackingRecord;
  key: RunKey;
  /** missing: no run directory; unfinished: a run without a test result (resume it) */
  status: 'missing' | 'unfinished';
  /** `zsd train ...` as arguments */
  args: string[];
}

export interface Plan {
  file: string;
  group: string;
  /** rows of the group that pass the filters (duplicates and hand-entered rows included) */
  rows: number;
  handEnteredSkipped: number;
  /** rows naming a key another row already named */
  duplicates: number;
  /** planned keys with a finished run */
  done: number;
  pending: PlannedRun[];
}

export function defaultPlanFile(workspace: Workspace, dataRoot: string): string {
  const own = path.join(workspace.root, PLAN_FILE_NAME);
  return fs.existsSync(own) ? own : studyTrackingFile(dataRoot);
}

export function planRuns(request: PlanRequest): Plan {
  const file = request.planFile ? path.resolve(request.planFile) : defaultPlanFile(request.workspace, request.dataRoot);
  const records = readTrackingFile(file);
  const inGroup = selectGroup(records, request.group, file);
  const rows = applyFilters(inGroup, request.filters ?? {}, request.group, file);

  const runs = new Map(listRuns(path.join(request.workspace.root, 'results')).map((run) => [runKeyIdentity(run.config.key), run]));
  const seen = new Set<string>();
  let handEnteredSkipped = 0;
  let duplicates = 0;
  let done = 0;
  const pending: PlannedRun[] = [];
  for (const record of rows) {
    if (record.run === HAND_ENTERED_RUN && !request.includeHandEntered) {
      handEnteredSkipped++;
      continue;
    }
    const key = runKeyOfRecord(record);
    const identity = runKeyIdentity(key);
    if (seen.has(identity)) {
      duplicates++;
      continue;
    }
    seen.add(identity);
    const run = runs.get(identity);
    if (run?.test) {
      done++;
      continue;
    }
    const args = trainArguments(record, { modelsDirectory: request.modelsDirectory, extraFlags: request.extraFlags });
    pending.push({ record, key, status: run ? 'unfinished' : 'missing', args: run ? [...args, '--resume'] : args });
  }
  return { file, group: inGroup[0].experiment_group ?? request.group, rows: rows.length, handEnteredSkipped, duplicates, done, pending };
}

function selectGroup(records: readonly TrackingRecord[], group: string, file: string): TrackingRecord[] {
  const wanted = group.trim().toLowerCase();
  const selected = records.filter((record) => (record.experiment_group ?? '').trim().toLowerCase() === wanted);
  if (selected.length === 0) {
    const groups = [...new Set(records.map((record) => record.experiment_group).filter((name): name is string => name !== null))].sort();
    throw new ZsdError(
      'usage',
      groups.length === 0
        ? `--group "${group}": the plan has no experiment_group column values`
        : `unknown experiment group "${group}"; the plan's groups are: ${groups.map((name) => `"${name}"`).join(', ')}`,
      { file, key: 'experiment_group' },
    );
  }
  return selected;
}

function applyFilters(records: TrackingRecord[], filters: PlanFilters, group: string, file: string): TrackingRecord[] {
  let selected = records;
  for (const [name, wanted] of Object.entries(filters) as [PlanFilterName, string | undefined][]) {
    if (wanted === undefined) continue;
    const column = PLAN_FILTERS[name];
    if (!column) throw new ZsdError('usage', `unknown filter "${name}"; expected one of ${Object.keys(PLAN_FILTERS).join(', ')}`);
    const flag = `--${name.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)}`;
    let matches: (record: TrackingRecord) => boolean;
    if (NUMERIC_FILTERS.has(name)) {
      const value = Number(wanted);
      if (wanted.trim() === '' || !Number.isFinite(value)) throw new ZsdError('usage', `${flag} expects a number, got "${wanted}"`);
      matches = (record) => record[column] === value;
    } else {
      matches = (record) => String(record[column] ?? '').toLowerCase() === wanted.trim().toLowerCase();
    }
    const kept = selected.filter(matches);
    if (kept.length === 0) {
      const values = [...new Set(records.map((record) => displayValue(record[column])))].sort();
      throw new ZsdError('usage', `${flag} ${wanted} matches no planned row of group "${group}"; its ${column} values are: ${values.join(', ')}`, {
        file,
        key: column,
      });
    }
    selected = kept;
  }
  return selected;
}

function displayValue(value: string | number | null): string {
  if (value === null) return '(empty)';
  return typeof value === 'number' ? pythonFloatOrInteger(value) : value;
}

function pythonFloatOrInteger(value: number): string {
  return Number.isInteger(value) && Math.abs(value) >= 1 ? String(value) : pythonFloatString(value);
}

/**
 * The `zsd train` arguments that run a planned row: the row's configuration as flags, the seed and run number
 * from its run, then the extra flags (the study's schedule by default). Models that are not a zsd preset (the
 * study's pretrained t5-v1_1-base, -large, -xl) start from `--init-from <models>/<name>`, whose directory name
 * becomes the run key's model, so the run lands on the planned key.
 */
export function trainArguments(record: TrackingRecord, options: { modelsDirectory?: string; extraFlags?: readonly string[] } = {}): string[] {
  const where = { file: record.origin.replace(/:\d+$/, ''), line: Number(/:(\d+)$/.exec(record.origin)?.[1]) || undefined };
  if (record.mode !== 'standard' && record.mode !== 'task_prefix') {
    throw new ZsdError('invalid-file', `mode "${record.mode}" is not one zsd trains; expected standard or task_prefix`, { ...where, key: 'mode' });
  }
  if (record.label_type !== 'gt' && record.label_type !== 'llm') {
    throw new ZsdError('invalid-file', `label_type "${record.label_type}"; expected gt (gold labels) or llm (teacher labels)`, { ...where, key: 'label_type' });
  }
  const optimizer = record.optimizer.toLowerCase();
  if (optimizer !== 'adamw' && optimizer !== 'adafactor') {
    throw new ZsdError('invalid-file', `optimizer "${record.optimizer}"; expected AdamW or Adafactor`, { ...where, key: 'optimizer' });
  }
  const rationales = record.llm === 'None' ? [] : record.llm.split('+');
  if (record.mode === 'task_prefix' && rationales.length === 0) {
    throw new ZsdError('invalid-file', 'a task_prefix (step-by-step) row needs rationales: llm is None', { ...where, key: 'llm' });
  }
  const args = ['zsd', 'train', '--task', record.dataset, '--mode', record.mode];
  if (rationales.length > 0) args.push('--rationales', rationales.join(','));
  args.push('--mix', record.prompt_mix, '--label-source', record.label_type === 'gt' ? 'gold' : 'teacher', '--subsample', pythonFloatString(record.subsample));
  if (record.mode === 'task_prefix') args.push('--alpha', pythonFloatString(record.alpha));
  args.push(
    '--max-input-length',
    String(record.max_input_length),
    '--batch-size',
    String(record.batch_size),
    '--optimizer',
    optimizer,
    '--lr',
    pythonFloatString(record.lr),
  );
  args.push('--seed', String(record.run), '--run', String(record.run));
  if (Object.hasOwn(T5_PRESETS, record.model)) args.push('--model', record.model);
  else args.push('--init-from', path.posix.join(options.modelsDirectory ?? 'models', record.model));
  args.push(...(options.extraFlags ?? STUDY_TRAINING_FLAGS));
  return args;
}

/** A command line a POSIX shell reads back as the same arguments. */
export function shellCommand(args: readonly string[]): string {
  return args.map((arg) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`)).join(' ');
}
