import { resolveDataRoot, resolveWorkspace, type Workspace } from '../core/paths';

/** Where a step reads the data and does its work: the same three settings every CLI command takes as flags. */
export interface RootsOptions {
  /** data root with datasets/ and the recorded study (default: $ZSD_DATA or ../shared/data) */
  data?: string;
  /** workspace for templates, mixes, query results, metadata and results (default: the current directory) */
  workspace?: string;
  /** false: do not read the recorded study's responses as answers (its templates and mixes are still read) */
  recorded?: boolean;
}

export interface Roots {
  dataRoot: string;
  workspace: Workspace;
}

export function resolveRoots(options: RootsOptions): Roots {
  const dataRoot = resolveDataRoot(options.data);
  const workspace = resolveWorkspace(dataRoot, options.workspace, { recordedResponses: options.recorded !== false });
  return { dataRoot, workspace };
}
