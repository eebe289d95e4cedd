import { DATA_ROOT } from '../test-support/fixtures';
import { computeBaselines } from './compute-baselines';

test('computeBaselines: svamp test against rules chosen on train (the floor the demo reads its students against)', () => {
  const report = computeBaselines({ task: 'svamp', data: DATA_ROOT });
  expect(report.split).toBe('test');
  expect(report.referenceSplit).toBe('train');
  expect(report.baselines.map(({ name, rule, accuracy }) => ({ name, rule, accuracy }))).toEqual([
    { name: 'best single rule', rule: '( max - min )', accuracy: 0.21 },
    { name: 'oracle operation', rule: 'the right + - * / on two of the numbers', accuracy: 0.79 },
  ]);
});
