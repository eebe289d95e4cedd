import * as aq from 'arquero';
import * as path from 'node:path';
import { isZsdError } from '../core/errors';
import { DATA_ROOT, studyWorkspace, temporaryDirectory, thrownBy, writeFile } from '../test-support/fixtures';
import type { AnnotationCosts, FewShotTokenEstimate } from './annotation-costs';
import type { NamedFigure } from './figure';
import {
  annotatedRows,
  annotationCostRows,
  boxGroupRows,
  exampleRows,
  figureNamed,
  mixPartRows,
  mixRowTemplates,
  rowsOf,
  slopeRows,
  studentPointRows,
  taskSplitCounts,
  teacherRows,
  templateRows,
  withPointLabels,
} from './notebook-tables';
import { promptExperimentFigures } from './prompt-experiment-figures';
import type { PromptMetadataRecord, PromptMetadataRecords } from './prompt-metadata-table';

const roots = { dataRoot: DATA_ROOT, workspace: studyWorkspace() };

describe('01: tasks, rows, templates, mixes', () => {
  test('rows per split from the data root; a split that is not shipped has null rows and says so', () => {
    const counts = taskSplitCounts(roots);
    expect(counts.find((row) => row.task === 'svamp' && row.split === 'train')).toMatchObject({ rows: 800, recorded_templates: 3, note: '' });
    expect(counts.find((row) => row.task === 'svamp' && row.split === 'test')).toMatchObject({ rows: 200 });
    expect(counts.find((row) => row.task === 'anli1' && row.split === 'train')).toMatchObject({
      rows: null,
      recorded_templates: 177,
      note: expect.stringMatching(/not shipped/),
    });
    expect(counts.map((row) => row.task)).toEqual(['cqa', 'cqa', 'svamp', 'svamp', 'anli1', 'anli1', 'anli1', 'esnli', 'esnli', 'esnli']);
  });

  test('example rows carry the prompt values, the gold label and the human rationale', () => {
    const [first] = exampleRows(roots, 'anli1', 'test', 1);
    expect(Object.keys(first)).toEqual(['index', 'premise', 'hypothesis', 'label', 'gold_label', 'human_rationale']);
    expect(first.gold_label).toBe('entailment');
    expect(exampleRows(roots, 'svamp', 'test', 2).map((row) => row.gold_label)).toEqual(['( 10.0 * 45.0 )', '( 10.0 - ( 6.0 + 3.0 ) )']);
  });

  test("a task's templates by id, with their messages and parse patterns", () => {
    const rows = templateRows(roots.workspace, 'svamp');
    expect(rows.map((row) => row.id)).toEqual([1, 2, 3]);
    expect(rows[0]).toMatchObject({ user_message: '{question}', label_parse: '(\\d*\\.?\\d+)', swap: true });
  });

  test("a mix's parts: rows per template add up to the split, and one template's label and explanation rows coincide", () => {
    const rows = mixPartRows(roots.workspace, 'svamp', '2', 800);
    expect(rows.map((row) => [row.part, row.template_id, row.rows])).toEqual([
      ['label', 1, 400],
      ['label', 3, 400],
      ['explanation', 1, 400],
      ['explanation', 2, 400],
    ]);
    expect(rows[0].first_rows).toBe(rows[2].first_rows);
    const perRow = mixRowTemplates(roots.workspace, 'svamp', '2', 800, 8);
    expect(perRow).toHaveLength(8);
    for (const row of perRow) expect([row.label_template, row.explanation_template]).toEqual(row.label_template === 1 ? [1, 1] : [3, 2]);
  });
});

describe('02: slopes beside the published ones', () => {
  function record(task: string, templateId: number, x: number, accuracy: number | null): PromptMetadataRecord {
    const nulls = Object.fromEntries(
      [
        'n_correct',
        'n_wrong',
        'n_none_responses',
        'n_parse_errors',
        'avg_len_of_explanations',
        'avg_nr_of_sentences',
        'variance_length_of_explanations',
        'queries',
        'avg_nr_tokens_sent',
        'avg_nr_tokens_received',
        'avg_cost_per_query',
        'total_accumulated_costs',
      ].map((field) => [field, null]),
    );
    return {
      ...nulls,
      task,
      template_id: templateId,
      accuracy,
      n_responses: 10,
      n_explanations: 10,
      explanation_rate: x / 100,
      flesch_reading_ease: x,
      avg_nr_of_words: x,
      sd_length_of_explanations: x,
    } as PromptMetadataRecord;
  }
  // cqa on the line accuracy = 0.5 - 0.002 x (x = every characteristic's value, so every slope is -0.002, except
  // explanation rate = x / 100: -0.2); anli1 without accuracies.
  const tables: PromptMetadataRecords[] = [
    {
      task: 'anli1',
      source: { kind: 'recorded study', location: 'x', goldUnavailable: 'no gold labels here' },
      records: [record('anli1', 1, 10, null), record('anli1', 2, 20, null)],
    },
    { task: 'cqa', source: { kind: 'recorded study', location: 'y' }, records: [10, 20, 40].map((x, index) => record('cqa', index + 1, x, 0.5 - 0.002 * x)) },
  ];

  test('one row per characteristic and task: the fitted slope, the published ANLI1 slope, whether the signs agree, why a slope is missing', () => {
    const rows = slopeRows(promptExperimentFigures(tables));
    expect(rows).toHaveLength(8);
    const fre = rows.filter((row) => row.characteristic === 'Flesch reading ease');
    expect(fre[0]).toMatchObject({
      task: 'anli1',
      slope: null,
      templates: 0,
      same_sign: null,
      published_anli1_slope: 0.00376,
      note: expect.stringMatching(/no gold labels here/),
    });
    expect(fre[1]).toMatchObject({ task: 'cqa', templates: 3, same_sign: false, note: '' });
    expect(fre[1].slope).toBeCloseTo(-0.002, 8);
    const words = rows.find((row) => row.characteristic === 'words per explanation' && row.task === 'cqa')!;
    expect(words.same_sign).toBe(true); // published -0.00187
    expect(rows.find((row) => row.characteristic === 'explanation rate' && row.task === 'cqa')!.slope).toBeCloseTo(-0.2, 8);
  });
});

describe('03: costs beside the published ones', () => {
  const costs = {
    task: 'anli1',
    trainRows: 100,
    trainRowsSource: 'test',
    price: { prompt: 0.0015, completion: 0.002 },
    zeroShot: { template: 100, queries: 10, promptTokensPerQuery: 120, completionTokensPerQuery: 60, costPerQuery: 0.0003, source: 'recorded' },
    zeroShotAnnotation: 0.03,
    opro: { templates: [4, 5], queries: 20, cost: 0.01, source: 'metadata', notCovered: ['the meta-prompts'] },
    fewShotCostPerQuery: 0.0033,
    fewShotAnnotation: 0.33,
    zeroShotTotal: 0.04,
    saving: 1 - 0.04 / 0.33,
  } as unknown as AnnotationCosts;
  const fewShot: FewShotTokenEstimate = { shots: 6, promptTokensPerQuery: 900, completionTokensPerQuery: 110, source: 'estimated' };

  test('each number once, with its published value where the study gave one', () => {
    const rows = annotationCostRows(costs, fewShot);
    const byQuantity = Object.fromEntries(rows.map((row) => [row.quantity, row]));
    expect(byQuantity['few-shot PaLM annotation']).toMatchObject({ zsd: 0.33, published: 55.92, unit: '$' });
    expect(byQuantity['OPRO prompt search']).toMatchObject({
      zsd: 0.01,
      published: 1.66,
      how: expect.stringMatching(/20 recorded scoring queries of 2 candidate templates; not covered: the meta-prompts/),
    });
    expect(byQuantity['zero-shot total (annotation + OPRO)'].published).toBeCloseTo(6.74, 10);
    expect(byQuantity['6-shot prompt tokens per query']).toMatchObject({ zsd: 900, published: 1205 });
    expect(byQuantity['6-shot completion tokens per query'].published).toBeNull();
  });
});

describe('05: the numbers behind student figures', () => {
  const line: NamedFigure = {
    name: 'students-x',
    title: 'x',
    figure: { data: [] },
    data: {
      series: [
        {
          name: 'standard fine-tuning',
          points: [
            { x: 0.5, mean: 0.4, sem: 0.01, n: 3, runs: 4, values: [] },
            { x: 1, mean: 0.423, sem: 0.004, n: 3, runs: 7, values: [] },
          ],
        },
        { name: 'step-by-step PaLM', points: [{ x: 1, mean: 0.463, sem: 0.02, n: 3, runs: 3, values: [] }] },
      ],
      teachers: [{ name: 'PaLM few-shot', accuracy: 0.668, measuredOn: 'anli1 valid' }],
    },
  };

  test('points of a line figure, all or at one x; teacher lines; box groups', () => {
    expect(studentPointRows(line)).toHaveLength(3);
    expect(studentPointRows(line, 1)).toEqual([
      { series: 'standard fine-tuning', x: 1, mean: 0.423, sem: 0.004, n: 3, runs: 7 },
      { series: 'step-by-step PaLM', x: 1, mean: 0.463, sem: 0.02, n: 3, runs: 3 },
    ]);
    expect(teacherRows(line)).toEqual([{ name: 'PaLM few-shot', accuracy: 0.668, measured_on: 'anli1 valid' }]);
    const box: NamedFigure = {
      name: 'b',
      title: 'b',
      figure: { data: [] },
      data: {
        source: 's',
        metric: 'eval_acc',
        notes: [],
        groups: [{ label: '33%', trace: 't5-v1_1-base', values: [0.5, 0.4], bestMean: 0.45, bestSem: 0.05 }],
      },
    };
    expect(boxGroupRows(box)).toEqual([{ group: '33%', student: 't5-v1_1-base', runs: 2, best_3_mean: 0.45, sem: 0.05 }]);
  });

  test('withPointLabels writes each series value beside its point at x, in log10 units on a log axis, leaving the data alone', () => {
    const figure: NamedFigure = {
      ...line,
      figure: { data: [{ name: 'standard fine-tuning', mode: 'lines+markers', line: { color: '#1f77b4' } }], layout: { xaxis: { type: 'log' } } },
    };
    const labelled = withPointLabels(figure, 1);
    expect(labelled.figure.layout!.annotations).toEqual([
      expect.objectContaining({ x: 0, y: 0.423, text: '0.423', font: { size: 12, color: '#1f77b4' } }),
      expect.objectContaining({ x: 0, y: 0.463, text: '0.463', font: { size: 12, color: '#333' } }),
    ]);
    expect(labelled.data).toEqual(line.data);
    expect(figure.figure.layout!.annotations).toBeUndefined();
  });

  test('figureNamed finds a figure, or fails naming the ones there are', () => {
    expect(figureNamed([line], 'students-x')).toBe(line);
    const error = thrownBy(() => figureNamed([line], 'students-y'));
    expect(isZsdError(error) && error.kind).toBe('not-found');
    expect(String(error)).toMatch(/no figure "students-y" among students-x/);
  });
});

describe('helpers for displayTable', () => {
  test('rowsOf takes interface-typed rows and arquero tables', () => {
    interface Point {
      x: number;
    }
    const points: Point[] = [{ x: 1 }, { x: 2 }];
    expect(rowsOf(points)).toEqual([{ x: 1 }, { x: 2 }]);
    expect(rowsOf(aq.from(points).orderby(aq.desc('x')))).toEqual([{ x: 2 }, { x: 1 }]);
  });

  test("annotatedRows: the training data a teacher wrote beside the rows' gold labels", () => {
    const workspaceRoot = temporaryDirectory();
    writeFile(
      path.join(workspaceRoot, 'datasets', 'svamp', 'gpt_35_turbo', 'm', 'train_CoT.json'),
      '{"label": "42", "explanation": "Divide 84 by 2."}\n{"label": null, "explanation": null}\n{"label": "1", "explanation": null}\n',
    );
    const rows = annotatedRows({ dataRoot: DATA_ROOT, workspaceRoot, task: 'svamp', model: 'gpt-3.5-turbo', mix: 'm', split: 'train', count: 2 });
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({ row: 0, gold_label: '( 84.0 / 2.0 )', teacher_label: '42', teacher_explanation: 'Divide 84 by 2.' });
    expect(rows[0].input).toMatch(/^Luke scored 84 points/);
    expect(rows[1]).toMatchObject({ teacher_label: null, teacher_explanation: null });
  });
});
