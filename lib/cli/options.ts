import { InvalidArgumentError, type Command } from 'commander';
import { resolveDataRoot, resolveWorkspace, type Workspace } from '../core/paths';

/** Options every command shares: where the data is and where to work. */
export interface CommonOptions {
  data?: string;
  workspace?: string;
  recorded?: boolean;
}

export function addCommonOptions(command: Command): Command {
  return command
    .option('--data <dir>', 'data root with datasets/ and the recorded study (default: $ZSD_DATA or ../shared/data)')
    .option('--workspace <dir>', 'workspace for templates, mixes, query results, metadata and results (default: current directory)')
    .option('--no-recorded', 'do not read the recorded study (<data>/zero-shot) as a read-only layer under the workspace');
}

export function resolveRoots(options: CommonOptions): { dataRoot: string; workspace: Workspace } {
  const dataRoot = resolveDataRoot(options.data);
  const workspace = resolveWorkspace(dataRoot, options.workspace, { recordedStudy: options.recorded !== false });
  return { dataRoot, workspace };
}

/** `--templates 1,2,10` */
export function parseIdList(value: string): number[] {
  const ids = value.split(',').map((part) => part.trim()).filter((part) => part !== '');
  if (ids.length === 0 || !ids.every((id) => /^\d+$/.test(id))) {
    throw new InvalidArgumentError(`expected comma-separated template ids such as 1,2,10, got "${value}"`);
  }
  return ids.map(Number);
}
