import { ZsdError } from '../core/errors';
import { planRuns, type Plan, type PlanRequest } from '../tracking/plan';
import { updateTracking, type TrackingUpdate } from '../tracking/update-tracking';
import { resolveRoots, type RootOptions } from './roots';

/**
 * Experiment tracking over the workspace's results tree: collect it into results/experiment-tracking.csv (the
 * study's columns, then zsd's), and plan the `zsd train` runs of an experiment group that have no results yet.
 */

/** Collects <workspace>/results/ into results/experiment-tracking.csv. */
export function updateTrackingTable(options: RootOptions = {}): TrackingUpdate {
  const { workspace } = resolveRoots(options);
  if (workspace.readOnly) throw new ZsdError('read-only', `the workspace ${workspace.root} is inside the read-only data root; pass --workspace DIR`);
  return updateTracking(workspace.root);
}

export type PlanPendingRunsOptions = RootOptions & Omit<PlanRequest, 'workspace' | 'dataRoot'>;

/** The planned runs of an experiment group that are missing or unfinished, each as `zsd train` arguments. */
export function planPendingRuns(options: PlanPendingRunsOptions): Plan {
  const { dataRoot, workspace } = resolveRoots(options);
  return planRuns({
    workspace,
    dataRoot,
    planFile: options.planFile,
    group: options.group,
    filters: options.filters,
    includeHandEntered: options.includeHandEntered,
    modelsDirectory: options.modelsDirectory,
    extraFlags: options.extraFlags,
  });
}
