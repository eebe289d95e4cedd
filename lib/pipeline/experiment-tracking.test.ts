import * as path from 'node:path';
import { DATA_ROOT, temporaryDirectory } from '../test-support/fixtures';
import { planPendingRuns, updateTrackingTable } from './experiment-tracking';

// The tracking steps in process: the table of an empty results tree, the read-only data root refused, a plan.

test('an empty workspace gets an empty table, written once; the read-only data root is refused', () => {
  const workspace = temporaryDirectory();
  const first = updateTrackingTable({ data: DATA_ROOT, workspace });
  expect(first).toMatchObject({ runs: 0, finished: 0, changed: true, file: path.join(workspace, 'results', 'experiment-tracking.csv') });
  expect(updateTrackingTable({ data: DATA_ROOT, workspace }).changed).toBe(false);
  expect(() => updateTrackingTable({ data: DATA_ROOT, workspace: path.join(DATA_ROOT, 'zero-shot') })).toThrow(/inside the read-only data root/);
});

test('the study\'s group "Subsampling CQA GPT35", filtered, planned in a fresh workspace: every run still to do', () => {
  const plan = planPendingRuns({
    data: DATA_ROOT,
    workspace: temporaryDirectory(),
    group: 'Subsampling CQA GPT35',
    filters: { mode: 'task_prefix', labelType: 'gt' },
  });
  expect(plan).toMatchObject({ rows: 4, done: 0 });
  expect(plan.pending).toHaveLength(4);
  expect(plan.pending.every((run) => run.status === 'missing' && run.args.slice(0, 4).join(' ') === 'zsd train --task cqa')).toBe(true);
});
