import * as path from 'node:path';
import { DATA_ROOT, temporaryDirectory, writeFile } from '../test-support/fixtures';
import { multiTeacherSplitFile, multiTeacherTask, readMultiTeacherRows } from './multi-teacher';

test('a multi-teacher task is one whose directory exists under multi-teacher/, never a built-in task', () => {
  expect(multiTeacherTask('obqa', DATA_ROOT)).toMatchObject({ name: 'obqa', kind: 'multiple-choice', builtIn: false });
  expect(multiTeacherTask('obqa', DATA_ROOT)?.splits).toContain('train');
  expect(multiTeacherTask('cqa', DATA_ROOT)).toBeUndefined();
  expect(multiTeacherTask('no-such-task', DATA_ROOT)).toBeUndefined();
});

test('rows read as multiple choice with as many choices as they have; a bad row is refused naming file and key', () => {
  const rows = readMultiTeacherRows(multiTeacherSplitFile(DATA_ROOT, 'obqa', 'train'));
  expect(rows).toHaveLength(4957);
  expect(Object.keys(rows[0].promptValues)).toEqual(['question', 'choice_a', 'choice_b', 'choice_c', 'choice_d']);
  const file = writeFile(
    path.join(temporaryDirectory(), 'toy_train.json'),
    JSON.stringify([
      { id: 1, question: 'q', choices: ['a'], answer: 'a' },
      { id: 2, question: 'q', choices: [], answer: 'a' },
    ]),
  );
  expect(() => readMultiTeacherRows(file)).toThrow(/toy_train\.json, key 1\.choices: expected "choices" to be an array of 1 to 26 strings/);
});
