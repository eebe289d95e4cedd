import { resolveDataRoot, resolveWorkspace, type Workspace } from '../core/paths';

/** Where a step reads the shared data and where it works; every step takes these. */
export interface RootOptions {
  /** Data root with datasets/ and the recorded study (default: $ZSD_DATA, else ../shared/data). */
  data?: string;
  /** Workspace for templates, mixes, query results, metadata and results (default: the current directory). */
  workspace?: string;
  /** Use the recorded study's responses as answers (default true); its templates and mixes are read either way. */
  recorded?: boolean;
}

export interface Roots {
  dataRoot: string;
  workspace: Workspace;
}

export function resolveRoots(options: RootOptions): Roots {
  const dataRoot = resolveDataRoot(options.data);
  const workspace = resolveWorkspace(dataRoot, options.workspace, { recordedResponses: options.recorded !== false });
  return { dataRoot, workspace };
}
