import * as fs from 'node:fs';
import * as path from 'node:path';
import { listOproRuns, logFileOf, oproProgression, oproRunDirectory, readOproLog, type ProgressionRow } from '../opro/run-log';
import type { OproRunLog } from './opro-figures';

/**
 * The OPRO runs `zsd opro` recorded in a workspace (`results/opro/<task>/<run>/log.jsonl`, lib/opro/run-log.ts), as
 * the figure builder takes them (`oproRunFigure`, opro-figures.ts): one row per scored candidate of each completed
 * round. Rounds cut short by a crash (no `round` line yet) are left out, as the runner's own reader leaves them out.
 */

export interface WorkspaceOproRun {
  task: string;
  name: string;
  log: OproRunLog;
  /** one row per completed round: best this round, best so far, costs (lib/opro's `oproProgression`, as table rows) */
  progression: { [K in keyof ProgressionRow]: ProgressionRow[K] }[];
}

/** Every OPRO run of every task in the workspace, by task and run name. */
export function workspaceOproRuns(workspaceRoot: string): WorkspaceOproRun[] {
  const tasksDirectory = path.join(workspaceRoot, 'results', 'opro');
  if (!fs.existsSync(tasksDirectory)) return [];
  const tasks = fs
    .readdirSync(tasksDirectory, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort();
  return tasks.flatMap((task) =>
    listOproRuns(workspaceRoot, task).map((name) => {
      const log = readOproLog(logFileOf(oproRunDirectory(workspaceRoot, task, name)));
      const rows = [...log.rounds.values()]
        .sort((a, b) => a.summary.round - b.summary.round)
        .flatMap((round) =>
          round.candidates.map((line) => ({ round: line.round, candidate: line.candidate, instruction: line.instruction, accuracy: line.accuracy })),
        );
      return { task, name, log: { task, name, rows }, progression: oproProgression(log).map((row) => ({ ...row })) };
    }),
  );
}
