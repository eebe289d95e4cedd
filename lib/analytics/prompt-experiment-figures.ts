import type { NamedFigure } from './figure';
import { leastSquares } from './least-squares';
import { baseLayout, figureOf, PALETTE, rounded, missingDataNotes } from './plotly-layout';
import type { PromptMetadataRecords } from './prompt-metadata-table';

/**
 * The prompt experiments (notebook 02): how the characteristics of a template's explanations are distributed over
 * the templates, and how the teacher's accuracy goes with them.
 * - four histograms: Flesch reading ease, words per explanation, explanation rate, SD of explanation length;
 * - four scatter plots of teacher accuracy against each, with the least-squares line, fitted (as the study did) on
 *   the templates with at least 5 explanations. The JSON carries each task's slope and intercept and the study's
 *   published ANLI1 slopes beside them.
 */

/** The characteristics, by metadata field. */
export const PROMPT_CHARACTERISTICS = [
  { field: 'flesch_reading_ease', slug: 'fre', label: 'Flesch reading ease' },
  { field: 'avg_nr_of_words', slug: 'words', label: 'words per explanation' },
  { field: 'explanation_rate', slug: 'explanation-rate', label: 'explanation rate' },
  { field: 'sd_length_of_explanations', slug: 'explanation-sd', label: 'SD of explanation length (characters)' },
] as const;

export type PromptCharacteristic = (typeof PROMPT_CHARACTERISTICS)[number]['field'];

/**
 * The study's ANLI1 slopes (accuracy per unit of the characteristic, templates with at least 5 explanations), as
 * published: reference values to compare with, never used to compute anything.
 */
export const STUDY_ANLI1_SLOPES: Readonly<Record<PromptCharacteristic, number>> = {
  flesch_reading_ease: 0.00376,
  avg_nr_of_words: -0.00187,
  explanation_rate: 0.0974,
  sd_length_of_explanations: -0.00079,
};

/** Templates with fewer explanations than this are left out of the fits (their statistics are noise). */
export const MIN_EXPLANATIONS_FOR_FIT = 5;

export interface SlopeResult {
  task: string;
  /** null when the task has no accuracies (no gold labels) or fewer than 2 usable templates */
  slope: number | null;
  intercept: number | null;
  /** templates the line was fitted on */
  templates: number;
  /** why there is no slope */
  reason?: string;
}

export interface ScatterFigureData {
  characteristic: PromptCharacteristic;
  minExplanations: number;
  slopes: SlopeResult[];
  /** the study's ANLI1 slope for this characteristic */
  publishedAnli1Slope: number;
  points: { task: string; template_id: number; x: number; accuracy: number }[];
}

export function promptHistogramFigure(tables: readonly PromptMetadataRecords[], characteristic: (typeof PROMPT_CHARACTERISTICS)[number]): NamedFigure {
  const traces: Record<string, unknown>[] = [];
  const data: Record<string, { template_id: number; value: number }[]> = {};
  tables.forEach((table, index) => {
    const values = table.records
      .filter((record) => record[characteristic.field] !== null)
      .map((record) => ({ template_id: record.template_id, value: record[characteristic.field] as number }));
    data[table.task] = values;
    traces.push({
      type: 'histogram',
      name: `${table.task} (${values.length} templates)`,
      x: values.map((value) => value.value),
      opacity: 0.65,
      nbinsx: 20,
      marker: { color: PALETTE[index % PALETTE.length] },
    });
  });
  const title = `Prompt templates: ${characteristic.label}`;
  return {
    name: `prompt-${characteristic.slug}-histogram`,
    title,
    figure: figureOf(traces, baseLayout(title, characteristic.label, 'templates', { barmode: 'overlay' })),
    data: { characteristic: characteristic.field, sources: sourcesOf(tables), values: data },
  };
}

export function accuracyScatterFigure(tables: readonly PromptMetadataRecords[], characteristic: (typeof PROMPT_CHARACTERISTICS)[number]): NamedFigure {
  const traces: Record<string, unknown>[] = [];
  const slopes: SlopeResult[] = [];
  const points: ScatterFigureData['points'] = [];
  tables.forEach((table, index) => {
    const color = PALETTE[index % PALETTE.length];
    const usable = table.records.filter(
      (record) => record.accuracy !== null && record[characteristic.field] !== null && (record.n_explanations ?? 0) >= MIN_EXPLANATIONS_FOR_FIT,
    );
    if (usable.length === 0) {
      const noAccuracy = table.records.every((record) => record.accuracy === null);
      slopes.push({
        task: table.task,
        slope: null,
        intercept: null,
        templates: 0,
        reason: noAccuracy
          ? `no teacher accuracy for ${table.task}: ${table.source.goldUnavailable ?? `${table.source.location} has no accuracies`}`
          : `no ${table.task} template with accuracy and at least ${MIN_EXPLANATIONS_FOR_FIT} explanations`,
      });
      return;
    }
    const xs = usable.map((record) => record[characteristic.field] as number);
    const ys = usable.map((record) => record.accuracy as number);
    for (const record of usable)
      points.push({ task: table.task, template_id: record.template_id, x: record[characteristic.field] as number, accuracy: record.accuracy as number });
    traces.push({
      type: 'scatter',
      mode: 'markers',
      name: `${table.task} templates`,
      x: xs,
      y: ys,
      text: usable.map((record) => `template ${record.template_id}`),
      marker: { color, size: 7, opacity: 0.75 },
      legendgroup: table.task,
    });
    const fit = leastSquares(xs, ys);
    slopes.push({
      task: table.task,
      slope: fit ? fit.slope : null,
      intercept: fit ? fit.intercept : null,
      templates: usable.length,
      reason: fit ? undefined : 'fewer than 2 distinct values to fit a line to',
    });
    if (fit) {
      const low = Math.min(...xs);
      const high = Math.max(...xs);
      traces.push({
        type: 'scatter',
        mode: 'lines',
        name: `${table.task} least squares (slope ${fit.slope.toPrecision(3)})`,
        x: [low, high],
        y: [fit.intercept + fit.slope * low, fit.intercept + fit.slope * high],
        line: { color, dash: 'dash' },
        legendgroup: table.task,
      });
    }
  });
  const missing = slopes.filter((slope) => slope.slope === null);
  const title = `Teacher accuracy vs ${characteristic.label}`;
  const layout = baseLayout(title, characteristic.label, 'teacher accuracy (train sample)', {
    annotations: missingDataNotes(missing.map((slope) => slope.reason)),
  });
  const data: ScatterFigureData = {
    characteristic: characteristic.field,
    minExplanations: MIN_EXPLANATIONS_FOR_FIT,
    slopes: slopes.map((slope) => ({ ...slope, slope: rounded(slope.slope, 8), intercept: rounded(slope.intercept, 8) })),
    publishedAnli1Slope: STUDY_ANLI1_SLOPES[characteristic.field],
    points,
  };
  return { name: `prompt-accuracy-vs-${characteristic.slug}`, title, figure: figureOf(traces, layout), data: { ...data, sources: sourcesOf(tables) } };
}

export function promptExperimentFigures(tables: readonly PromptMetadataRecords[]): NamedFigure[] {
  return [
    ...PROMPT_CHARACTERISTICS.map((characteristic) => promptHistogramFigure(tables, characteristic)),
    ...PROMPT_CHARACTERISTICS.map((characteristic) => accuracyScatterFigure(tables, characteristic)),
  ];
}

function sourcesOf(tables: readonly PromptMetadataRecords[]): Record<string, PromptMetadataRecords['source']> {
  return Object.fromEntries(tables.map((table) => [table.task, table.source]));
}
