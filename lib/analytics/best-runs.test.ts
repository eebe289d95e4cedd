import * as aq from 'arquero';
import { DATA_ROOT } from '../test-support/fixtures';
import { bestRunsMean } from './best-runs';
import { studyTrackingTable } from './tracking-table';

describe('bestRunsMean (the study aggregation: mean of the 3 best runs by validation accuracy)', () => {
  const configurations = bestRunsMean(studyTrackingTable(DATA_ROOT));
  const find = (criteria: Record<string, unknown>) => {
    const rows = configurations.objects().filter((row) => Object.entries(criteria).every(([key, value]) => (row as Record<string, unknown>)[key] === value));
    expect(rows).toHaveLength(1);
    return rows[0] as Record<string, number & number[]>;
  };
  const base = { model: 't5-v1_1-base', subsample: 1, label_type: 'gt', lr: 5e-5 };

  test('reproduces the published full-data numbers of T5-v1_1-base (ANLI1 and CQA)', () => {
    expect(find({ ...base, dataset: 'anli1', mode: 'standard', llm: 'None' }).mean).toBeCloseTo(0.423, 3);
    expect(find({ ...base, dataset: 'anli1', mode: 'task_prefix', llm: 'palm' }).mean).toBeCloseTo(0.463, 3);
    expect(find({ ...base, dataset: 'anli1', mode: 'task_prefix', llm: 'gpt35', prompt_mix: '6' }).mean).toBeCloseTo(0.47, 3);
    expect(find({ ...base, dataset: 'cqa', mode: 'standard', llm: 'None' }).mean).toBeCloseTo(0.589, 3);
    expect(find({ ...base, dataset: 'cqa', mode: 'task_prefix', llm: 'gpt35', prompt_mix: '7' }).mean).toBeCloseTo(0.603, 3);
    expect(find({ ...base, dataset: 'cqa', mode: 'task_prefix', llm: 'palm' }).mean).toBeCloseTo(0.592, 3);
  });

  test('pools batch sizes and groups: PaLM step-by-step takes the batch-64 run and two batch-32 reruns', () => {
    const palm = find({ ...base, dataset: 'anli1', mode: 'task_prefix', llm: 'palm' });
    expect(palm.values).toEqual([0.496, 0.469, 0.423]);
    expect(palm.n).toBe(3);
    expect(palm.runs).toBe(3);
    // standard fine-tuning: 5 runs of the study and its reruns plus 2 hand-entered rows
    expect(find({ ...base, dataset: 'anli1', mode: 'standard', llm: 'None' }).runs).toBe(7);
    // sample SD / sqrt(3)
    const mean = (0.496 + 0.469 + 0.423) / 3;
    const sd = Math.sqrt(((0.496 - mean) ** 2 + (0.469 - mean) ** 2 + (0.423 - mean) ** 2) / 2);
    expect(palm.sem).toBeCloseTo(sd / Math.sqrt(3), 10);
  });

  test('reproduces the model-size numbers of step-by-step with gpt-3.5 rationales', () => {
    const sizes = { 't5-v1_1-small': 0.411, 't5-v1_1-base': 0.47, 't5-v1_1-large': 0.621, 't5-v1_1-xl': 0.709 };
    for (const [model, published] of Object.entries(sizes)) {
      expect(find({ ...base, model, dataset: 'anli1', mode: 'task_prefix', llm: 'gpt35', prompt_mix: '6' }).mean).toBeCloseTo(published, 3);
    }
  });

  test('the hand-entered rows (run 100) are needed for standard fine-tuning at 0.423; without them it is 0.382', () => {
    const measured = (bestRunsMean(studyTrackingTable(DATA_ROOT).filter('d => d.run !== 100')).objects() as Record<string, unknown>[]).find(
      (row) =>
        row.dataset === 'anli1' &&
        row.model === 't5-v1_1-base' &&
        row.mode === 'standard' &&
        row.llm === 'None' &&
        row.subsample === 1 &&
        row.label_type === 'gt' &&
        row.lr === 5e-5,
    ) as Record<string, number>;
    expect(measured.mean).toBeCloseTo(0.3817, 4);
  });

  test('a configuration with one run has no SEM; runs without accuracy are left out; an empty table gives an empty result', () => {
    const table = aq.from([
      {
        dataset: 'x',
        model: 'm',
        mode: 'standard',
        llm: 'None',
        subsample: 1,
        prompt_mix: '0',
        label_type: 'gt',
        alpha: 0.5,
        max_input_length: 8,
        optimizer: 'AdamW',
        lr: 1e-3,
        eval_acc: 0.5,
      },
      {
        dataset: 'x',
        model: 'm',
        mode: 'standard',
        llm: 'None',
        subsample: 1,
        prompt_mix: '0',
        label_type: 'gt',
        alpha: 0.5,
        max_input_length: 8,
        optimizer: 'AdamW',
        lr: 1e-3,
        eval_acc: null,
      },
    ]);
    const [row] = bestRunsMean(table).objects() as Record<string, unknown>[];
    expect(row).toMatchObject({ n: 1, runs: 1, mean: 0.5, sem: null });
    expect(bestRunsMean(table.filter('d => false')).numRows()).toBe(0);
  });
});
