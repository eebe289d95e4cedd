import * as fs from 'node:fs';
import * as path from 'node:path';
import { appendLogGroup, logFileOf, openRun, oproRunDirectory, type CandidateLogLine, type OproRunIdentity, type RoundLogLine } from '../opro/run-log';
import { temporaryDirectory } from '../test-support/fixtures';
import { oproRunFigure } from './opro-figures';
import { workspaceOproRuns } from './opro-run-logs';

// A run as `zsd opro` records it (lib/opro/run-log.ts): run.json, then per round the candidates and a round line.
function candidate(round: number, position: number, accuracy: number): CandidateLogLine {
  return {
    type: 'candidate',
    round,
    candidate: position,
    template_id: 100 + round * 10 + position,
    new_template: round > 0,
    instruction: `instruction ${round}.${position}`,
    accuracy,
    explanation_rate: 1,
    n_rows: 50,
    n_correct: Math.round(accuracy * 50),
    n_parse_errors: 0,
    prompt_tokens: 1,
    completion_tokens: 1,
    cost_usd: 0.001,
  } as CandidateLogLine;
}

function roundLine(round: number, best: number, bestSoFar: number, runCost: number): RoundLogLine {
  const instruction = (accuracy: number) => ({ template_id: 1, accuracy, instruction: 'x', round });
  return {
    type: 'round',
    round,
    optimizer: null,
    proposed: 2,
    scored: 2,
    duplicates: 0,
    invalid: 0,
    extra: 0,
    rejected: [],
    best_this_round: instruction(best),
    best_so_far: instruction(bestSoFar),
    round_cost_usd: 0.002,
    run_cost_usd: runCost,
  };
}

function recordRun(workspaceRoot: string, task: string, name: string, rounds: [number, number][]): string {
  const directory = oproRunDirectory(workspaceRoot, task, name);
  openRun(directory, name, { task } as OproRunIdentity, 'built-in');
  let best = 0;
  rounds.forEach(([first, second], round) => {
    best = Math.max(best, first, second);
    appendLogGroup(logFileOf(directory), [
      candidate(round, 0, first),
      candidate(round, 1, second),
      roundLine(round, Math.max(first, second), best, 0.002 * (round + 1)),
    ]);
  });
  return directory;
}

describe('OPRO runs recorded in a workspace', () => {
  test('none: an empty list (the notebook then says so)', () => {
    expect(workspaceOproRuns(temporaryDirectory())).toEqual([]);
  });

  test('every run of every task: the scored candidates of completed rounds, as oproRunFigure takes them, and the progression', () => {
    const workspaceRoot = temporaryDirectory();
    const directory = recordRun(workspaceRoot, 'cqa', 'cqa-abc', [
      [0.5, 0.6],
      [0.55, 0.7],
    ]);
    recordRun(workspaceRoot, 'anli1', 'anli1-def', [[0.4, 0.45]]);
    // a crash mid-append: candidates of round 2 without their round line are not a round yet
    fs.appendFileSync(logFileOf(directory), `${JSON.stringify(candidate(2, 0, 0.9))}\n`);
    fs.mkdirSync(path.join(workspaceRoot, 'results', 'opro', 'svamp', 'not-a-run'), { recursive: true });

    const runs = workspaceOproRuns(workspaceRoot);
    expect(runs.map((run) => `${run.task}/${run.name}`)).toEqual(['anli1/anli1-def', 'cqa/cqa-abc']);
    const cqa = runs[1];
    expect(cqa.log.rows).toEqual([
      { round: 0, candidate: 0, instruction: 'instruction 0.0', accuracy: 0.5 },
      { round: 0, candidate: 1, instruction: 'instruction 0.1', accuracy: 0.6 },
      { round: 1, candidate: 0, instruction: 'instruction 1.0', accuracy: 0.55 },
      { round: 1, candidate: 1, instruction: 'instruction 1.1', accuracy: 0.7 },
    ]);
    expect(cqa.progression.map((row) => [row.round, row.best_this_round, row.best_so_far, row.run_cost_usd])).toEqual([
      [0, 0.6, 0.6, 0.002],
      [1, 0.7, 0.7, 0.004],
    ]);
    const figure = oproRunFigure(cqa.log);
    expect(figure.name).toBe('opro-run-cqa-abc');
    expect((figure.data as { best: { instruction: string } }).best.instruction).toBe('instruction 1.1');
  });
});
