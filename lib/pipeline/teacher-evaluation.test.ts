import * as path from 'node:path';
import { DATA_ROOT, temporaryDirectory } from '../test-support/fixtures';
import { evaluateTeacher } from './teacher-evaluation';

// The recorded teacher evaluated in process: the published accuracy, the ranking, and where prompt metadata went.

test('svamp test, template 2: the published 0.72; nothing written for a test split', () => {
  const result = evaluateTeacher({ data: DATA_ROOT, workspace: temporaryDirectory(), task: 'svamp', split: 'test', templates: [2] });
  expect(result.ranked[0].evaluation.accuracy).toBeCloseTo(0.72, 10);
  expect(result.metadata).toEqual({ kind: 'not-written' });
});

test('a train split writes prompt metadata into the workspace, and is refused for the read-only data root', () => {
  const workspace = temporaryDirectory();
  const written = evaluateTeacher({ data: DATA_ROOT, workspace, task: 'cqa', split: 'train', templates: [1, 2] });
  expect(written.metadata).toEqual({ kind: 'written', file: path.join(workspace, 'prompt-metadata', 'cqa.yaml') });
  expect(written.ranked.map((report) => report.id)).toEqual(['2', '1']);
  const readOnly = evaluateTeacher({ data: DATA_ROOT, workspace: path.join(DATA_ROOT, 'zero-shot'), task: 'cqa', split: 'train', templates: [1] });
  expect(readOnly.metadata).toEqual({ kind: 'read-only', workspace: path.join(DATA_ROOT, 'zero-shot') });
});

test('a split the task does not have is a usage error naming the splits', () => {
  expect(() => evaluateTeacher({ data: DATA_ROOT, workspace: temporaryDirectory(), task: 'svamp', split: 'dev' })).toThrow(
    /--split dev is not a split of svamp; expected one of/,
  );
});
