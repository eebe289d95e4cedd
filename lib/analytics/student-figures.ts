import * as aq from 'arquero';
import type { TrackingRecord } from '../tracking/tracking-records';
import { bestRunsMean, CONFIGURATION_COLUMNS } from './best-runs';
import type { NamedFigure } from './figure';
import { bandTrace, baseLayout, figureOf, PALETTE, rounded } from './plotly-layout';
import { trackingTable } from './tracking-table';

/**
 * Student figures (notebook 05), from tracking records (the study's CSV or zsd's results tree): validation accuracy
 * (eval_acc) aggregated as the study did (best-runs.ts: per configuration the mean of the 3 best runs, SEM bands)
 * - against the training-set fraction (subsample), one line per method;
 * - against the student's size, with the teacher's accuracy as horizontal lines;
 * - against explanation length and explanation rate, as box plots of the runs.
 * A method is the (mode, teacher, label source) of a run: standard fine-tuning (gold labels), standard distillation
 * (teacher labels), step-by-step with PaLM or gpt-3.5 rationales.
 */

export interface AggregatedPoint {
  x: number | string;
  mean: number;
  sem: number | null;
  /** runs averaged (at most 3) */
  n: number;
  /** runs the configuration has */
  runs: number;
  /** the averaged accuracies, best first */
  values: number[];
}

export interface StudentSeries {
  name: string;
  points: AggregatedPoint[];
}

export interface StudentLineData {
  source: string;
  metric: 'eval_acc';
  aggregation: string;
  selection: Record<string, unknown>;
  series: StudentSeries[];
  teachers?: TeacherLine[];
}

export interface TeacherLine {
  name: string;
  accuracy: number;
  /** what it was measured on, e.g. "anli1 valid, template 100" */
  measuredOn: string;
}

export const AGGREGATION_NOTE = 'per configuration, the mean eval_acc of the 3 runs with the best eval_acc; bands: standard error of that mean';

const TEACHER_NAMES: Record<string, string> = { palm: 'PaLM', gpt35: 'gpt-3.5', None: 'none' };

/** The method a run belongs to, as the legend names it. */
export function methodName(record: Pick<TrackingRecord, 'mode' | 'llm' | 'label_type'>): string {
  const teacher = record.llm
    .split('+')
    .map((name) => TEACHER_NAMES[name] ?? name)
    .join(' + ');
  if (record.mode === 'standard') return record.label_type === 'gt' ? 'standard fine-tuning' : `standard distillation (${teacher})`;
  return `step-by-step ${teacher}${record.label_type === 'llm' ? ' (teacher labels)' : ''}`;
}

const METHOD_ORDER = ['standard fine-tuning', 'standard distillation (PaLM)', 'standard distillation (gpt-3.5)', 'step-by-step PaLM', 'step-by-step gpt-3.5'];

function methodRank(name: string): number {
  const index = METHOD_ORDER.findIndex((method) => name.includes(method));
  return index < 0 ? METHOD_ORDER.length : index;
}

export interface RecordSelection {
  dataset?: string;
  model?: string;
  subsample?: number;
  /** gt (fine-tuning) or llm (distillation) */
  labelType?: string;
  lr?: number;
  /** prompt mixes of the main annotation (others, e.g. label-given or explanation-rate mixes, are left out) */
  mixes?: readonly string[];
  /** also select by experiment_group, matched after removing the study's "RERUN " / "HSIEH ET AL " prefixes */
  groupPattern?: RegExp;
}

/** The experiment family a study group belongs to: "RERUN Subsampling ANLI1" and "HSIEH ET AL Subsampling ANLI1" are "Subsampling ANLI1". */
export function experimentFamily(group: string | null): string {
  return (group ?? '').replace(/^(?:RERUN|HSIEH ET AL)\s+/i, '').trim();
}

export function selectRecords(records: readonly TrackingRecord[], selection: RecordSelection): TrackingRecord[] {
  return records.filter(
    (record) =>
      (selection.dataset === undefined || record.dataset === selection.dataset) &&
      (selection.model === undefined || record.model === selection.model) &&
      (selection.subsample === undefined || record.subsample === selection.subsample) &&
      (selection.labelType === undefined || record.label_type === selection.labelType) &&
      (selection.lr === undefined || record.lr === selection.lr) &&
      (selection.mixes === undefined || selection.mixes.includes(record.prompt_mix)) &&
      (selection.groupPattern === undefined || selection.groupPattern.test(experimentFamily(record.experiment_group))),
  );
}

/**
 * Aggregates records per configuration and arranges them as series over the `xColumn` (one series per method, or per
 * `seriesOf`). Where two configurations of a series would share an x (say two learning rates), the series is split
 * and each part named by the settings that tell them apart, e.g. "step-by-step PaLM (lr=0.0005)".
 */
export function aggregateSeries(
  records: readonly TrackingRecord[],
  xColumn: 'subsample' | 'model',
  seriesOf: (configuration: Record<string, unknown>) => string = (configuration) => methodName(configuration as unknown as TrackingRecord),
  xOrder?: (a: number | string, b: number | string) => number,
): StudentSeries[] {
  const configurations = bestRunsMean(trackingTable(records)).objects() as Record<string, unknown>[];
  const byBaseName = new Map<string, Record<string, unknown>[]>();
  for (const configuration of configurations) {
    const name = seriesOf(configuration);
    byBaseName.set(name, [...(byBaseName.get(name) ?? []), configuration]);
  }
  const series = new Map<string, AggregatedPoint[]>();
  for (const [baseName, members] of byBaseName) {
    const xs = members.map((configuration) => String(configuration[xColumn]));
    const varying =
      new Set(xs).size === xs.length
        ? []
        : CONFIGURATION_COLUMNS.filter((column) => column !== xColumn && new Set(members.map((configuration) => String(configuration[column]))).size > 1);
    for (const configuration of members) {
      const name = varying.length === 0 ? baseName : `${baseName} (${varying.map((column) => `${column}=${String(configuration[column])}`).join(', ')})`;
      const points = series.get(name) ?? [];
      points.push({
        x: configuration[xColumn] as number | string,
        mean: configuration.mean as number,
        sem: (configuration.sem as number | null) ?? null,
        n: configuration.n as number,
        runs: configuration.runs as number,
        values: [...(configuration.values as number[])],
      });
      series.set(name, points);
    }
  }
  const compare =
    xOrder ?? ((a: number | string, b: number | string) => (typeof a === 'number' && typeof b === 'number' ? a - b : String(a).localeCompare(String(b))));
  for (const points of series.values()) points.sort((a, b) => compare(a.x, b.x));
  return [...series.entries()].sort(([a], [b]) => methodRank(a) - methodRank(b) || a.localeCompare(b)).map(([name, points]) => ({ name, points }));
}

function lineTraces(series: readonly StudentSeries[]): Record<string, unknown>[] {
  const traces: Record<string, unknown>[] = [];
  series.forEach((entry, index) => {
    const color = PALETTE[index % PALETTE.length];
    const x = entry.points.map((point) => point.x);
    const withBand = entry.points.every((point) => point.sem !== null);
    if (withBand && entry.points.length > 0) {
      traces.push(
        bandTrace(
          x,
          entry.points.map((point) => point.mean - (point.sem as number)),
          entry.points.map((point) => point.mean + (point.sem as number)),
          color,
          entry.name,
        ),
      );
    }
    traces.push({
      type: 'scatter',
      mode: 'lines+markers',
      name: entry.name,
      legendgroup: entry.name,
      x,
      y: entry.points.map((point) => point.mean),
      error_y: withBand
        ? undefined
        : { type: 'data', array: entry.points.map((point) => point.sem ?? 0), visible: entry.points.some((point) => point.sem !== null) },
      customdata: entry.points.map((point) => [point.n, point.runs]),
      hovertemplate: '%{y:.3f} (mean of %{customdata[0]} of %{customdata[1]} runs)<extra>%{fullData.name}</extra>',
      line: { color },
      marker: { color, size: 7 },
    });
  });
  return traces;
}

function roundedSeries(series: readonly StudentSeries[]): StudentSeries[] {
  return series.map((entry) => ({
    name: entry.name,
    points: entry.points.map((point) => ({ ...point, mean: rounded(point.mean) as number, sem: rounded(point.sem) })),
  }));
}

export interface SubsamplingFigureOptions {
  name: string;
  title: string;
  source: string;
  selection: RecordSelection;
  /** name series by dataset and model too (zsd's own results, which may mix them) */
  qualifySeries?: boolean;
}

/** Accuracy against the fraction of the training set, one line per method (SEM bands). */
export function subsamplingFigure(records: readonly TrackingRecord[], options: SubsamplingFigureOptions): NamedFigure {
  const selected = selectRecords(records, options.selection);
  const series = aggregateSeries(
    selected,
    'subsample',
    options.qualifySeries
      ? (configuration) => `${configuration.dataset} ${configuration.model}: ${methodName(configuration as unknown as TrackingRecord)}`
      : undefined,
  );
  const data: StudentLineData = {
    source: options.source,
    metric: 'eval_acc',
    aggregation: AGGREGATION_NOTE,
    selection: describeSelection(options.selection),
    series: roundedSeries(series),
  };
  const layout = baseLayout(options.title, 'fraction of the training set', 'validation accuracy', {
    xaxis: { title: { text: 'fraction of the training set' }, tickformat: '.1%', type: 'log', tickvals: [0.125, 0.25, 0.5, 1] },
  });
  return { name: options.name, title: options.title, figure: figureOf(lineTraces(series), layout), data };
}

/** The study's students, smallest first; other names sort after them by name. */
export const MODEL_SIZE_ORDER = [
  't5-efficient-tiny',
  't5-small',
  't5-v1_1-small',
  't5-base',
  't5-v1_1-base',
  't5-large',
  't5-v1_1-large',
  't5-v1_1-xl',
  't5-v1_1-xxl',
];

export function compareModels(a: number | string, b: number | string): number {
  const rank = (name: string) => {
    const index = MODEL_SIZE_ORDER.indexOf(name);
    return index < 0 ? MODEL_SIZE_ORDER.length : index;
  };
  return rank(String(a)) - rank(String(b)) || String(a).localeCompare(String(b));
}

export interface ModelSizeFigureOptions extends SubsamplingFigureOptions {
  teachers?: readonly TeacherLine[];
}

/** Accuracy against the student's size at one training-set fraction, with the teachers' accuracy as lines. */
export function modelSizeFigure(records: readonly TrackingRecord[], options: ModelSizeFigureOptions): NamedFigure {
  const selected = selectRecords(records, options.selection);
  const series = aggregateSeries(
    selected,
    'model',
    options.qualifySeries ? (configuration) => `${configuration.dataset}: ${methodName(configuration as unknown as TrackingRecord)}` : undefined,
    compareModels,
  );
  const models = [...new Set(series.flatMap((entry) => entry.points.map((point) => String(point.x))))].sort(compareModels);
  const traces = lineTraces(series);
  for (const teacher of options.teachers ?? []) {
    traces.push({
      type: 'scatter',
      mode: 'lines',
      name: `teacher: ${teacher.name} (${teacher.accuracy.toFixed(3)})`,
      x: models,
      y: models.map(() => teacher.accuracy),
      line: { dash: 'dot', color: '#555' },
      hovertemplate: `${teacher.name}, ${teacher.measuredOn}: %{y:.3f}<extra></extra>`,
    });
  }
  const data: StudentLineData = {
    source: options.source,
    metric: 'eval_acc',
    aggregation: AGGREGATION_NOTE,
    selection: describeSelection(options.selection),
    series: roundedSeries(series),
    teachers: options.teachers?.map((teacher) => ({ ...teacher, accuracy: rounded(teacher.accuracy) as number })),
  };
  const layout = baseLayout(options.title, 'student', 'validation accuracy', {
    xaxis: { title: { text: 'student' }, type: 'category', categoryorder: 'array', categoryarray: models },
  });
  return { name: options.name, title: options.title, figure: figureOf(traces, layout), data };
}

export interface BoxGroup {
  /** the x category */
  label: string;
  /** box traces: one per `trace` value (e.g. the student size) */
  trace: string;
  /** every run's accuracy */
  values: number[];
  /** the study aggregation of the same runs (mean of the 3 best, SEM) */
  bestMean: number;
  bestSem: number | null;
}

export interface BoxFigureData {
  source: string;
  metric: 'eval_acc';
  groups: BoxGroup[];
  notes: string[];
}

function boxFigure(
  name: string,
  title: string,
  xTitle: string,
  groups: readonly BoxGroup[],
  data: BoxFigureData,
  categoryOrder: readonly string[],
): NamedFigure {
  const traceNames = [...new Set(groups.map((group) => group.trace))].sort(compareModels);
  const traces = traceNames.map((traceName, index) => {
    const members = groups.filter((group) => group.trace === traceName);
    return {
      type: 'box',
      name: traceName,
      x: members.flatMap((group) => group.values.map(() => group.label)),
      y: members.flatMap((group) => group.values),
      boxpoints: 'all',
      jitter: 0.3,
      pointpos: 0,
      marker: { color: PALETTE[index % PALETTE.length], size: 5 },
    };
  });
  const layout = baseLayout(title, xTitle, 'validation accuracy', {
    boxmode: 'group',
    xaxis: { title: { text: xTitle }, type: 'category', categoryorder: 'array', categoryarray: [...categoryOrder] },
  });
  return { name, title, figure: figureOf(traces, layout), data };
}

function boxGroup(label: string, trace: string, records: readonly TrackingRecord[]): BoxGroup | undefined {
  const values = records.map((record) => record.eval_acc).filter((value): value is number => value !== null);
  if (values.length === 0) return undefined;
  const aggregated = aq.from(records.filter((record) => record.eval_acc !== null));
  const [best] = bestRunsMean(aggregated, { keys: ['dataset'] }).objects() as Record<string, number | null>[];
  return { label, trace, values: [...values].sort((a, b) => b - a), bestMean: rounded(best.mean) as number, bestSem: rounded(best.sem ?? null) };
}

export interface ExplanationRateStudy {
  dataset: string;
  /** the mix whose explanations the explanation-rate mixes subsample (100% explained) */
  fullRateMix: string;
}

/**
 * The study's explanation-rate experiments: groups "XR <rate> <DATASET> ..." trained step-by-step on gpt-3.5
 * rationales with only <rate>% of the train rows explained (mixes 10-14 for ANLI1 are mix 8's templates, 71-75 for
 * CQA mix 7's, subsampled at generation), against the same configuration with all rows explained.
 */
export const STUDY_EXPLANATION_RATE_STUDIES: readonly ExplanationRateStudy[] = [
  { dataset: 'anli1', fullRateMix: '8' },
  { dataset: 'cqa', fullRateMix: '7' },
];

/** Box plots of the runs' accuracy per explanation rate. */
export function explanationRateFigure(records: readonly TrackingRecord[], study: ExplanationRateStudy, source: string): NamedFigure {
  const groups: BoxGroup[] = [];
  const byRate = new Map<number, TrackingRecord[]>();
  for (const record of records) {
    if (record.dataset !== study.dataset) continue;
    const match = /^XR (\d+)\b/i.exec(experimentFamily(record.experiment_group));
    if (!match) continue;
    const rate = Number(match[1]) / 100;
    byRate.set(rate, [...(byRate.get(rate) ?? []), record]);
  }
  const notes: string[] = [];
  const reference = [...byRate.values()][0]?.[0];
  if (reference) {
    const full = records.filter(
      (record) =>
        record.dataset === study.dataset &&
        record.prompt_mix === study.fullRateMix &&
        record.model === reference.model &&
        record.mode === reference.mode &&
        record.llm === reference.llm &&
        record.label_type === reference.label_type &&
        record.subsample === reference.subsample &&
        record.lr === reference.lr,
    );
    if (full.length > 0) byRate.set(1, full);
    else notes.push(`no runs of mix ${study.fullRateMix} with the explanation-rate runs' configuration: 100% is missing`);
  }
  const rates = [...byRate.keys()].sort((a, b) => a - b);
  for (const rate of rates) {
    const group = boxGroup(`${Math.round(rate * 100)}%`, byRate.get(rate)![0].model, byRate.get(rate)!);
    if (group) groups.push(group);
  }
  const title = `${study.dataset.toUpperCase()}: student accuracy vs explanation rate (step-by-step, gpt-3.5)`;
  return boxFigure(
    `students-explanation-rate-${study.dataset}`,
    title,
    'train rows with an explanation',
    groups,
    { source, metric: 'eval_acc', groups, notes },
    groups.map((group) => group.label),
  );
}

/**
 * The study's explanation-length experiments (groups "LONG X ..."): the same students trained on rationales of
 * different length: PaLM's few-shot rationales (mix 0), gpt-3.5 template 100 (mix 6), template 179 with the label
 * given (mix 8) and template 1000, which asks for long explanations (mix 9). `sources` labels each mix (the caller
 * adds the mean words per explanation where the recorded responses give it); the category also says the training
 * fraction, which differs between the mixes in these groups.
 */
export function explanationLengthFigure(
  records: readonly TrackingRecord[],
  dataset: string,
  sources: ReadonlyMap<string, string>,
  source: string,
): NamedFigure {
  const selected = records.filter((record) => record.dataset === dataset && /^LONG X\b/i.test(experimentFamily(record.experiment_group)));
  const buckets = new Map<string, { label: string; model: string; records: TrackingRecord[]; order: number }>();
  const mixOrder = [...sources.keys()];
  for (const record of selected) {
    const label = `${sources.get(record.prompt_mix) ?? `mix ${record.prompt_mix}`}, ${Math.round(record.subsample * 100)}% data`;
    const key = `${label}|${record.model}`;
    const bucket = buckets.get(key) ?? {
      label,
      model: record.model,
      records: [],
      order: mixOrder.indexOf(record.prompt_mix) * 10 + (record.subsample < 1 ? 0 : 1),
    };
    bucket.records.push(record);
    buckets.set(key, bucket);
  }
  const ordered = [...buckets.values()].sort((a, b) => a.order - b.order || compareModels(a.model, b.model));
  const groups = ordered.map((bucket) => boxGroup(bucket.label, bucket.model, bucket.records)).filter((group): group is BoxGroup => group !== undefined);
  const categories = [...new Set(ordered.map((bucket) => bucket.label))];
  const title = `${dataset.toUpperCase()}: student accuracy vs explanation length (step-by-step, gold labels)`;
  return boxFigure(`students-explanation-length-${dataset}`, title, 'rationales', groups, { source, metric: 'eval_acc', groups, notes: [] }, categories);
}

function describeSelection(selection: RecordSelection): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(selection)
      .filter(([, value]) => value !== undefined)
      .map(([key, value]) => [key, value instanceof RegExp ? value.source : value]),
  );
}
