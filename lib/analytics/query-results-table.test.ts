import { studyWorkspace } from '../test-support/fixtures';
import { queryResultsTable } from './query-results-table';

test('query results of svamp test: one row per recorded template, tokens and dollars per query', () => {
  const table = queryResultsTable({ workspace: studyWorkspace(), task: 'svamp', splits: ['test'] });
  const rows = table.objects() as Record<string, number | string>[];
  expect(rows.map((row) => row.templateId)).toEqual([1, 2, 3]);
  expect(rows.map((row) => row.queries)).toEqual([200, 200, 52]);
  for (const row of rows) {
    expect(row.costPerQuery).toBeCloseTo(((row.promptTokensPerQuery as number) * 0.0015 + (row.completionTokensPerQuery as number) * 0.002) / 1000, 12);
  }
  // arquero verbs work on it
  expect(table.rollup({ queries: 'd => op.sum(d.queries)' }).object()).toEqual({ queries: 452 });
});
