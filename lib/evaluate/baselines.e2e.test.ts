import type { ExampleRow } from '../data/datasets';
import { getTask } from '../data/tasks';
import { DATA_ROOT, runCliAsync } from '../test-support/fixtures';
import { computeBaselines, oracleSolves, problemNumbers, taskBaselines } from './baselines';

function mathRow(index: number, question: string, goldLabel: string): ExampleRow {
  return { index, promptValues: { question }, goldLabel, humanRationale: null };
}

function nliRow(index: number, goldLabel: string): ExampleRow {
  return { index, promptValues: { premise: 'p', hypothesis: 'h' }, goldLabel, humanRationale: null };
}

test('the numbers of a problem, in order, with thousands separators and decimals', () => {
  expect(problemNumbers('Jack had 1,200 marbles, gave 3.5 kg and 7 of them. 0.25 left.')).toEqual([1200, 3.5, 7, 0.25]);
  expect(problemNumbers('no numbers here')).toEqual([]);
});

describe('svamp rules, by hand on a few rows', () => {
  const train = [
    mathRow(0, 'Tom has 10 apples and eats 3.', '( 10.0 - 3.0 )'), // max - min = 7, first - second = 7
    mathRow(1, 'There are 4 boxes with 9 pens each.', '( 4.0 * 9.0 )'), // max - min = 5: wrong; first * second right
    mathRow(2, 'A rope of 2 m is cut from one of 12 m.', '( 12.0 - 2.0 )'), // max - min = 10, first - second = -10
  ];
  const scoredRows = [
    mathRow(0, 'She had 8 cakes and sold 5.', '( 8.0 - 5.0 )'), // max - min right
    mathRow(1, 'Each of 6 bags has 7 balls.', '( 6.0 * 7.0 )'), // max - min wrong; oracle right
    mathRow(2, 'He had 3 and found 4 and 6.', '( 3.0 + 4.0 + 6.0 )'), // no two-number operation gives 13
  ];

  test('the best rule on train (ties keep the first) scored on test; the oracle counts rows some operation solves', () => {
    const report = computeBaselines(getTask('svamp'), { split: 'test', rows: scoredRows }, { split: 'train', rows: train });
    const [rule, oracle] = report.baselines;
    // on train: (max - min) 2/3 and (first * second) 1/3, (first - second) 1/3
    expect(rule).toMatchObject({ name: 'best single rule', rule: '( max - min )', correct: 1, rows: 3 });
    expect(rule.referenceAccuracy).toBeCloseTo(2 / 3, 12);
    expect(rule.accuracy).toBeCloseTo(1 / 3, 12);
    expect(oracle).toMatchObject({ name: 'oracle operation', referenceAccuracy: null, correct: 2, rows: 3 });
    expect(scoredRows.map(oracleSolves)).toEqual([true, true, false]);
  });
});

test('classification: the majority label of the reference split, scored on the scored split', () => {
  const reference = [nliRow(0, 'neutral'), nliRow(1, 'neutral'), nliRow(2, 'entailment')];
  const scored = [nliRow(0, 'neutral'), nliRow(1, 'contradiction'), nliRow(2, 'contradiction'), nliRow(3, 'entailment')];
  const report = computeBaselines(getTask('anli1'), { split: 'test', rows: scored }, { split: 'valid', rows: reference });
  expect(report.baselines).toEqual([{ name: 'majority label', rule: 'neutral', referenceAccuracy: 2 / 3, accuracy: 0.25, correct: 1, rows: 4 }]);
  expect(() => computeBaselines(getTask('anli1'), { split: 'test', rows: [] }, { split: 'valid', rows: reference })).toThrow(/split test: no rows/);
});

test('on the real svamp test split: ( max - min ) chosen on train scores 0.210, the oracle 0.790', () => {
  const report = taskBaselines(getTask('svamp'), 'test', [DATA_ROOT]);
  expect(report.referenceSplit).toBe('train');
  expect(report.baselines.map((baseline) => [baseline.rule, baseline.accuracy])).toEqual([
    ['( max - min )', 0.21],
    ['the right + - * / on two of the numbers', 0.79],
  ]);
});

test('zsd baselines prints the table; anli1 (no train split here) chooses on valid', async () => {
  const result = await runCliAsync(['baselines', '--task', 'anli1', '--split', 'test', '--json']);
  expect(result.status).toBe(0);
  const report = JSON.parse(result.stdout);
  expect(report).toMatchObject({ task: 'anli1', split: 'test', referenceSplit: 'valid' });
  expect(report.baselines[0]).toMatchObject({ name: 'majority label', rows: 1000 });
  const table = await runCliAsync(['baselines', '--task', 'svamp']);
  expect(table.stdout).toContain('( max - min )');
  expect(table.stdout).toContain('0.210 (42/200)');
  const bad = await runCliAsync(['baselines', '--task', 'svamp', '--split', 'nope']);
  expect(bad.status).not.toBe(0);
  expect(bad.stderr).toContain('nope');
});
