import { loadSplit } from '../data/datasets';
import { getTask } from '../data/tasks';
import { evaluateEquation } from '../evaluate/equation';
import { DATA_ROOT } from '../test-support/fixtures';
import { mapNumbers, mapStudentExample, numberMappingOf, unmapNumbers } from './number-mapping';
import { answerIsCorrect, resolveTrainerConfig } from './trainer';
import type { StudentExample } from './student-examples';

test('distinct numbers in order of first appearance become n0, n1, ...; labels and rationales are matched by value', () => {
  const problem = 'Luke scored 84 points after 2 rounds. Then 84 more in 3.5 hours.';
  const mapping = numberMappingOf(problem);
  expect(mapping).toEqual({ literals: ['84', '2', '3.5'], values: [84, 2, 3.5] });
  expect(mapNumbers(problem, mapping)).toBe('Luke scored n0 points after n1 rounds. Then n0 more in n2 hours.');
  expect(mapNumbers('( 84.0 / 2.0 )', mapping)).toBe('( n0 / n1 )');
  // a rationale's intermediate result (42) is not a problem number and stays
  expect(mapNumbers('84 / 2 = 42, so 42 points per round.', mapping)).toBe('n0 / n1 = 42, so 42 points per round.');
  expect(unmapNumbers('( n0 / n1 ) + n2', mapping)).toBe('( 84 / 2 ) + 3.5');
  // numbers inside words or placeholders are not numbers of the problem
  expect(mapNumbers('the 2nd of n1, 84', mapping)).toBe('the 2nd of n1, n0');
});

test('a placeholder the problem has no number for stays, so the answer scores as wrong, not as an error', () => {
  const mapping = numberMappingOf('She had 8 cakes and sold 5.');
  const answer = unmapNumbers('( n0 - n7 )', mapping);
  expect(answer).toBe('( 8 - n7 )');
  expect(Number.isNaN(evaluateEquation(answer))).toBe(true);
  expect(answerIsCorrect('equation', answer, '( 8.0 - 5.0 )')).toBe(false);
  expect(answerIsCorrect('equation', unmapNumbers('( n0 - n1 )', mapping), '( 8.0 - 5.0 )')).toBe(true);
});

test.each(['train', 'test'])('round trip on every svamp %s row: the input comes back exactly, the label to the same value', (split) => {
  const rows = loadSplit(getTask('svamp'), split, [DATA_ROOT]).rows;
  expect(rows.length).toBeGreaterThan(100);
  let fullyMapped = 0;
  for (const row of rows) {
    const input = row.promptValues.question;
    const mapping = numberMappingOf(input);
    const mappedInput = mapNumbers(input, mapping);
    expect(unmapNumbers(mappedInput, mapping)).toBe(input);
    expect(mappedInput).not.toMatch(/(?<![A-Za-z_\d.])\d+(?:\.\d+)?(?![A-Za-z_\d])/); // every number of the problem is a placeholder
    const mappedLabel = mapNumbers(row.goldLabel, mapping);
    expect(evaluateEquation(unmapNumbers(mappedLabel, mapping))).toBe(evaluateEquation(row.goldLabel));
    if (!/\d/.test(mappedLabel.replace(/n\d+/g, ''))) fullyMapped++;
  }
  // nearly every svamp equation uses only the problem's own numbers
  expect(fullyMapped / rows.length).toBeGreaterThan(0.95);
});

test('mapStudentExample maps the input, the training label and the rationales, and keeps the gold label', () => {
  const example: StudentExample = {
    index: 0,
    split: 'train',
    input: 'Tom has 10 apples and eats 3.',
    label: '( 10.0 - 3.0 )',
    goldLabel: '( 10.0 - 3.0 )',
    labelFrom: 'gold',
    rationales: [
      { source: 'palm', text: 'Tom had 10 and ate 3, so 10 - 3 = 7.', weight: 1 },
      { source: 'gpt35', text: null, weight: 0 },
    ],
  };
  expect(mapStudentExample(example)).toEqual({
    ...example,
    input: 'Tom has n0 apples and eats n1.',
    label: '( n0 - n1 )',
    rationales: [
      { source: 'palm', text: 'Tom had n0 and ate n1, so n0 - n1 = 7.', weight: 1 },
      { source: 'gpt35', text: null, weight: 0 },
    ],
  });
});

test('number mapping is refused for tasks whose labels are not equations, naming the key', () => {
  expect(() => resolveTrainerConfig({ task: 'anli1', mode: 'standard', batchSize: 4, maxInputLength: 64, seed: 0, maxSteps: 10, numberMapping: true })).toThrow(
    /number mapping is for tasks whose labels are equations \(svamp\), not anli1/,
  );
  expect(resolveTrainerConfig({ task: 'svamp', mode: 'standard', batchSize: 4, maxInputLength: 64, seed: 0, maxSteps: 10 }).numberMapping).toBe(false);
});
