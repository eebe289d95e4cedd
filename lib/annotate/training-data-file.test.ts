import * as fs from 'node:fs';
import * as path from 'node:path';
import { isZsdError } from '../core/errors';
import { temporaryDirectory, writeFile } from '../test-support/fixtures';
import { formatTrainingLines, modelSlug, readTrainingData, trainingDataFile, writeTrainingData } from './training-data-file';

test('files are named as the study named them and written as json.dump wrote them', () => {
  expect(modelSlug('gpt-3.5-turbo')).toBe('gpt_35_turbo');
  expect(modelSlug('meta-llama/Llama-3.1-8B-Instruct')).toBe('meta_llama_Llama_31_8B_Instruct');
  const root = temporaryDirectory();
  const file = trainingDataFile(root, 'svamp', 'gpt-3.5-turbo', '4', 'train');
  expect(path.relative(root, file)).toBe(path.join('datasets', 'svamp', 'gpt_35_turbo', '4', 'train_CoT.json'));
  writeTrainingData(file, [
    { label: '42', explanation: 'Half of 84 is 42 — so “42”.' },
    { label: null, explanation: null },
  ]);
  expect(fs.readFileSync(file, 'utf8')).toBe(
    '{"label": "42", "explanation": "Half of 84 is 42 \\u2014 so \\u201c42\\u201d."}\n{"label": null, "explanation": null}\n',
  );
  expect(formatTrainingLines([])).toBe('');
});

test('what is written reads back the same; a bad line is refused naming the file, line and key', () => {
  const file = trainingDataFile(temporaryDirectory(), 'cqa', 'gpt-3.5-turbo', '1', 'test');
  const lines = [
    { label: 'river', explanation: 'Fish live in water.' },
    { label: null, explanation: 'no label' },
    { label: 'b', explanation: null },
  ];
  writeTrainingData(file, lines);
  expect(readTrainingData(file)).toEqual(lines);
  const bad = writeFile(path.join(temporaryDirectory(), 'test_CoT.json'), '{"label": "a", "explanation": null}\n{"label": 3, "explanation": null}\n');
  let caught: unknown;
  try {
    readTrainingData(bad);
  } catch (error) {
    caught = error;
  }
  expect(isZsdError(caught) && caught.kind).toBe('invalid-file');
  expect((caught as Error).message).toMatch(/test_CoT\.json:2, key label.*expected "label" to be a string or null, got 3/);
  expect(() => readTrainingData(path.join(path.dirname(bad), 'missing_CoT.json'))).toThrow(/no training-data file/);
});
