import { getTask } from '../data/tasks';
import { taskBaselines, type BaselineReport } from '../evaluate/baselines';
import { resolveRoots, type RootOptions } from './roots';

/** What needs no training scores on a split (`zsd baselines`): the majority label, or svamp's operation rules. */
export interface ComputeBaselinesOptions extends RootOptions {
  task: string;
  /** the split scored (default test); rules are chosen on another (lib/evaluate/baselines.ts) */
  split?: string;
}

export function computeBaselines(options: ComputeBaselinesOptions): BaselineReport {
  const { dataRoot, workspace } = resolveRoots(options);
  const roots = [dataRoot, workspace.root];
  return taskBaselines(getTask(options.task, roots), options.split ?? 'test', roots);
}
