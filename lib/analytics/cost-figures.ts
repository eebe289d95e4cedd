import type { AnnotationCosts, FewShotTokenEstimate } from './annotation-costs';
import type { NamedFigure } from './figure';
import { baseLayout, figureOf, PALETTE, rounded } from './plotly-layout';

/**
 * Costs (notebook 03): what annotating ANLI1's train split costs few-shot with PaLM against zero-shot with gpt-3.5
 * plus the OPRO search (stacked bars), and the tokens one query sends and receives either way. The numbers come
 * from annotation-costs.ts; the study's published figures ride along in the JSON for comparison only.
 */

/** The study's published costs (method.md): reference values, never used to compute. */
export const STUDY_PUBLISHED_COSTS = {
  fewShotPalm: 55.92,
  zeroShotGpt35: 5.08,
  opro: 1.66,
  saving: 0.879,
  zeroShotPromptTokens: 120,
  zeroShotCompletionTokens: 61,
  fewShotPromptTokens: 1205,
} as const;

export function annotationCostFigure(costs: AnnotationCosts): NamedFigure {
  const settings = ['few-shot PaLM', 'zero-shot gpt-3.5'];
  const dollars = (value: number) => `$${value.toFixed(2)}`;
  const traces = [
    {
      type: 'bar',
      name: `annotating ${costs.trainRows.toLocaleString('en-US')} train rows`,
      x: settings,
      y: [costs.fewShotAnnotation, costs.zeroShotAnnotation],
      text: [dollars(costs.fewShotAnnotation), dollars(costs.zeroShotAnnotation)],
      textposition: 'inside',
      marker: { color: PALETTE[0] },
    },
    {
      type: 'bar',
      name: 'OPRO prompt search (recorded scoring queries)',
      x: settings,
      y: [0, costs.opro.cost],
      text: ['', dollars(costs.opro.cost)],
      textposition: 'outside',
      marker: { color: PALETTE[3] },
    },
  ];
  const title = `Cost to annotate ${costs.task.toUpperCase()} train: ${dollars(costs.fewShotAnnotation)} few-shot vs ${dollars(costs.zeroShotTotal)} zero-shot (${(costs.saving * 100).toFixed(1)}% less)`;
  return {
    name: `annotation-cost-${costs.task}`,
    title,
    figure: figureOf(traces, baseLayout(title, 'teacher', 'US dollars', { barmode: 'stack' })),
    data: {
      task: costs.task,
      trainRows: costs.trainRows,
      trainRowsSource: costs.trainRowsSource,
      price: costs.price,
      zeroShot: { ...costs.zeroShot, costPerQuery: rounded(costs.zeroShot.costPerQuery, 8), annotation: rounded(costs.zeroShotAnnotation, 4) },
      opro: { ...costs.opro, cost: rounded(costs.opro.cost, 4) },
      fewShot: {
        costPerQuery: costs.fewShotCostPerQuery,
        costPerQuerySource: "the study's assumption for PaLM",
        annotation: rounded(costs.fewShotAnnotation, 4),
      },
      zeroShotTotal: rounded(costs.zeroShotTotal, 4),
      saving: rounded(costs.saving, 4),
      published: STUDY_PUBLISHED_COSTS,
    },
  };
}

export function tokensPerQueryFigure(costs: AnnotationCosts, fewShot: FewShotTokenEstimate): NamedFigure {
  const settings = [`zero-shot gpt-3.5 (template ${costs.zeroShot.template})`, `${fewShot.shots}-shot PaLM (estimated)`];
  const traces = [
    {
      type: 'bar',
      name: 'prompt tokens',
      x: settings,
      y: [costs.zeroShot.promptTokensPerQuery, fewShot.promptTokensPerQuery],
      text: [costs.zeroShot.promptTokensPerQuery, fewShot.promptTokensPerQuery].map((value) => value.toFixed(0)),
      textposition: 'inside',
      marker: { color: PALETTE[0] },
    },
    {
      type: 'bar',
      name: 'completion tokens',
      x: settings,
      y: [costs.zeroShot.completionTokensPerQuery, fewShot.completionTokensPerQuery],
      text: [costs.zeroShot.completionTokensPerQuery, fewShot.completionTokensPerQuery].map((value) => value.toFixed(0)),
      textposition: 'inside',
      marker: { color: PALETTE[1] },
    },
  ];
  const title = `${costs.task.toUpperCase()}: tokens per query, zero-shot vs few-shot`;
  return {
    name: `tokens-per-query-${costs.task}`,
    title,
    figure: figureOf(traces, baseLayout(title, 'prompting', 'tokens per query (gpt-3.5 tokenizer)', { barmode: 'stack' })),
    data: {
      zeroShot: {
        template: costs.zeroShot.template,
        promptTokens: rounded(costs.zeroShot.promptTokensPerQuery, 2),
        completionTokens: rounded(costs.zeroShot.completionTokensPerQuery, 2),
        queries: costs.zeroShot.queries,
        source: costs.zeroShot.source,
      },
      fewShot: {
        shots: fewShot.shots,
        promptTokens: rounded(fewShot.promptTokensPerQuery, 2),
        completionTokens: rounded(fewShot.completionTokensPerQuery, 2),
        source: fewShot.source,
      },
      published: {
        zeroShotPromptTokens: STUDY_PUBLISHED_COSTS.zeroShotPromptTokens,
        zeroShotCompletionTokens: STUDY_PUBLISHED_COSTS.zeroShotCompletionTokens,
        fewShotPromptTokens: STUDY_PUBLISHED_COSTS.fewShotPromptTokens,
      },
    },
  };
}
