import { DATA_ROOT, studyWorkspace } from '../test-support/fixtures';
import { annotationCosts, fewShotTokenEstimate } from './annotation-costs';
import { annotationCostFigure, STUDY_PUBLISHED_COSTS, tokensPerQueryFigure } from './cost-figures';

const workspace = studyWorkspace();
const costs = annotationCosts({ dataRoot: DATA_ROOT, workspace });

describe('cost to annotate ANLI1 train', () => {
  test("few-shot PaLM: 16,946 rows at the study's $0.0033 per query = $55.92", () => {
    expect(costs.trainRows).toBe(16946);
    expect(costs.trainRowsSource).toMatch(/not in the data root/);
    expect(costs.fewShotAnnotation.toFixed(2)).toBe(STUDY_PUBLISHED_COSTS.fewShotPalm.toFixed(2));
  });

  test('zero-shot gpt-3.5: template 100 priced from its 2,000 recorded valid/test answers comes within 1% of $5.08', () => {
    expect(costs.zeroShot.queries).toBe(2000);
    expect(costs.zeroShot.promptTokensPerQuery).toBeGreaterThan(115);
    expect(costs.zeroShot.promptTokensPerQuery).toBeLessThan(125); // published: 120
    expect(costs.zeroShot.completionTokensPerQuery).toBeGreaterThan(55);
    expect(costs.zeroShot.completionTokensPerQuery).toBeLessThan(65); // published: 61
    expect(Math.abs(costs.zeroShotAnnotation - STUDY_PUBLISHED_COSTS.zeroShotGpt35) / STUDY_PUBLISHED_COSTS.zeroShotGpt35).toBeLessThan(0.01);
  });

  test('OPRO: the recorded scoring queries of candidates 4-99 cost less than the published $1.66 (the optimizer calls are not recorded)', () => {
    expect(costs.opro.templates[0]).toBe(4);
    expect(costs.opro.templates).toHaveLength(96); // 4..99; template 100's train answers are not shipped
    expect(costs.opro.notCovered.join('; ')).toMatch(/optimizer calls/);
    expect(costs.opro.notCovered.join('; ')).toMatch(/template 100/);
    expect(costs.opro.cost).toBeGreaterThan(1.2);
    expect(costs.opro.cost).toBeLessThan(STUDY_PUBLISHED_COSTS.opro);
    // the saving stays near the published 87.9%
    expect(costs.saving).toBeGreaterThan(0.87);
    expect(costs.saving).toBeLessThan(0.9);
  });

  test('the stacked bar carries the derived numbers and the published ones', () => {
    const figure = annotationCostFigure(costs);
    expect(figure.name).toBe('annotation-cost-anli1');
    expect(figure.figure.layout?.barmode).toBe('stack');
    const data = JSON.parse(JSON.stringify(figure.data));
    expect(data.fewShot.annotation).toBeCloseTo(55.92, 2);
    expect(data.published.opro).toBe(1.66);
    expect(data.opro.cost).toBeCloseTo(costs.opro.cost, 4);
  });
});

describe('tokens per query', () => {
  test('zero-shot template 100 sends about a tenth of a 6-shot prompt', () => {
    const fewShot = fewShotTokenEstimate({ dataRoot: DATA_ROOT, workspace });
    const figure = tokensPerQueryFigure(costs, fewShot);
    const data = figure.data as { zeroShot: { promptTokens: number }; fewShot: { promptTokens: number; completionTokens: number } };
    expect(data.fewShot.promptTokens).toBeGreaterThan(6 * data.zeroShot.promptTokens);
    expect(data.fewShot.completionTokens).toBeGreaterThan(100);
    expect(figure.figure.data).toHaveLength(2);
  });
});
