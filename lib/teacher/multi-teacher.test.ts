import * as path from 'node:path';
import { DATA_ROOT, temporaryDirectory, writeFile } from '../test-support/fixtures';
import { readMultiTeacherOutputs, splitMultiTeacherOutput } from './multi-teacher';

test('the split of one output, and what is missing', () => {
  expect(splitMultiTeacherOutput('A because B. Thus, the answer is (a) A\n\nQ: x\n(a) A llama rationale:  Step 1. \n')).toEqual({
    flan: 'A because B.',
    llama: 'Step 1.',
  });
  expect(splitMultiTeacherOutput('no answer phrase here')).toEqual({ flan: null, llama: null });
});

test('outputs are read from every chunk in order; a file that is not an array of strings is refused, naming it', () => {
  const { files, outputs } = readMultiTeacherOutputs(DATA_ROOT, 'obqa', 'train');
  expect(files.map((file) => path.basename(file))[0]).toBe('train_CoT_0.json');
  expect(outputs).toHaveLength(4957);
  const root = temporaryDirectory();
  writeFile(path.join(root, 'multi-teacher', 'toy', 'llm', 'train_CoT_0.json'), '["a", 3]');
  expect(() => readMultiTeacherOutputs(root, 'toy', 'train')).toThrow(/train_CoT_0\.json, key 1: element 1 is not a string/);
  expect(() => readMultiTeacherOutputs(root, 'toy', 'test')).toThrow(/no multi-teacher rationales for toy test/);
});
