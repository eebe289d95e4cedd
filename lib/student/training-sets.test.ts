import { isZsdError } from '../core/errors';
import { DATA_ROOT, temporaryDirectory } from '../test-support/fixtures';
import { loadTrainingSets, rationaleSourcesFor, VALIDATION_CARVE } from './training-sets';

const COMMON = { dataRoot: DATA_ROOT, teacherModel: 'gpt-3.5-turbo', seed: 0 } as const;

test('a task without a validation split: a seeded tenth of train is carved off, the same rows for every seed of the run', () => {
  const workspaceRoot = temporaryDirectory();
  const sets = loadTrainingSets({ ...COMMON, workspaceRoot, task: 'svamp', mode: 'task_prefix', labelSource: 'gold', subsample: 1 });
  expect(sets.multiTeacher).toBe(false);
  expect(sets.rationaleSources.map((source) => source.name)).toEqual(['palm']);
  expect(sets.validation).toHaveLength(800 * VALIDATION_CARVE.fraction);
  expect(sets.train.examples).toHaveLength(720);
  expect(sets.test).toHaveLength(200);
  const again = loadTrainingSets({ ...COMMON, workspaceRoot, task: 'svamp', mode: 'task_prefix', labelSource: 'gold', subsample: 1, seed: 7 });
  expect(again.validation.map((example) => example.index)).toEqual(sets.validation.map((example) => example.index));
});

test('a multi-teacher task: its own validation split, the FLAN-T5 and LLaMA-2 rationales by default', () => {
  const sets = loadTrainingSets({ ...COMMON, workspaceRoot: temporaryDirectory(), task: 'obqa', mode: 'task_prefix', labelSource: 'gold', subsample: 0.05 });
  expect(sets.multiTeacher).toBe(true);
  expect(sets.rationaleSources.map((source) => source.name)).toEqual(['flan', 'llama']);
  expect(sets.train.validation).toBeUndefined();
  expect(sets.validation.length).toBeGreaterThan(0);
  expect(new Set(sets.validation.map((example) => example.split))).toEqual(new Set(['valid']));
});

test('standard training on gold labels reads no rationales', () => {
  const sets = loadTrainingSets({ ...COMMON, workspaceRoot: temporaryDirectory(), task: 'svamp', mode: 'standard', labelSource: 'gold', subsample: 0.1 });
  expect(sets.rationaleSources).toEqual([]);
  expect(sets.train.examples.every((example) => example.rationales.length === 0)).toBe(true);
});

test('rationale sources by name: gpt35 needs a mix, flan and llama a multi-teacher task, weights name a chosen source', () => {
  const options = { workspaceRoot: '/workspace', teacherModel: 'gpt-3.5-turbo' };
  expect(rationaleSourcesFor({ ...options, mix: 'm1' }, 'svamp', false)).toEqual([
    { name: 'gpt35', weight: 1, source: { kind: 'generated', file: '/workspace/datasets/svamp/gpt_35_turbo/m1' } },
  ]);
  expect(rationaleSourcesFor(options, 'obqa', true).map((source) => source.name)).toEqual(['flan', 'llama']);
  const usage = (action: () => unknown) => {
    try {
      action();
    } catch (error) {
      return isZsdError(error) && error.kind === 'usage' ? error.message : `not a usage error: ${String(error)}`;
    }
    return 'no error';
  };
  expect(usage(() => rationaleSourcesFor({ ...options, rationales: ['gpt35'] }, 'svamp', false))).toMatch(/the gpt35 rationales need --mix/);
  expect(usage(() => rationaleSourcesFor({ ...options, rationales: ['llama'] }, 'svamp', false))).toMatch(/multi-teacher tasks only/);
  expect(usage(() => rationaleSourcesFor({ ...options, rationaleWeights: new Map([['gpt35', 1]]) }, 'svamp', false))).toMatch(
    /names "gpt35", which is not among the rationale sources palm/,
  );
});
