import * as fs from 'node:fs';
import * as path from 'node:path';
import { isZsdError } from '../core/errors';
import { temporaryDirectory, thrownBy } from '../test-support/fixtures';
import {
  appendLogGroup,
  defaultRunName,
  logFileOf,
  openRun,
  oproProgression,
  readOproLog,
  scoredInstructions,
  type CandidateLogLine,
  type OproRunIdentity,
  type RoundLogLine,
} from './run-log';

const identity: OproRunIdentity = {
  task: 'cqa',
  split: 'train',
  seed: 42,
  eval_samples: 25,
  candidates: 8,
  keep_best: 10,
  start_templates: [2],
  parse: { label_parse: '(a)', explanation_parse: '.?(.*)', swap: false, escape_values: false, from_template: 2 },
  scorer: { model: 'gpt-3.5-turbo', endpoint: 'chat', parameters: { temperature: 0.7 } },
  optimizer: { model: 'gpt-3.5-turbo', endpoint: 'chat', parameters: { temperature: 1 } },
  meta_prompt: '<[PREVIOUS_BEST]>',
};

function candidate(round: number, index: number, templateId: number, accuracy: number): CandidateLogLine {
  return {
    type: 'candidate',
    round,
    candidate: index,
    template_id: templateId,
    new_template: round > 0,
    instruction: `instruction ${templateId}`,
    accuracy,
    explanation_rate: 1,
    n_rows: 4,
    n_correct: Math.round(accuracy * 4),
    n_parse_errors: 0,
    prompt_tokens: 100,
    completion_tokens: 40,
    cost_usd: 0.001,
    evaluation: {} as CandidateLogLine['evaluation'],
  };
}

function summary(round: number, best: number, bestId: number, runCost: number): RoundLogLine {
  const entry = { template_id: bestId, accuracy: best, instruction: `instruction ${bestId}`, round };
  return {
    type: 'round',
    round,
    optimizer: round === 0 ? null : { prompt_tokens: 500, completion_tokens: 100, cost_usd: 0.0009 },
    proposed: 2,
    scored: 2,
    duplicates: 0,
    invalid: 0,
    extra: 0,
    rejected: [],
    best_this_round: entry,
    best_so_far: entry,
    round_cost_usd: 0.002,
    run_cost_usd: runCost,
  };
}

test('a run is named by its settings; a resumed run must have the same identity, rounds aside', () => {
  expect(defaultRunName(identity)).toMatch(/^cqa-[0-9a-f]{10}$/);
  expect(defaultRunName({ ...identity })).toBe(defaultRunName(identity));
  expect(defaultRunName({ ...identity, seed: 43 })).not.toBe(defaultRunName(identity));
  const directory = path.join(temporaryDirectory(), 'run');
  expect(openRun(directory, 'r', identity, 'built-in').created).toBe(true);
  expect(openRun(directory, 'r', JSON.parse(JSON.stringify(identity)), 'elsewhere').created).toBe(false);
  const error = thrownBy(() => openRun(directory, 'r', { ...identity, keep_best: 5, scorer: { ...identity.scorer, model: 'gpt-4o-mini' } }, 'built-in'));
  expect(isZsdError(error) && error.kind).toBe('usage');
  expect((error as Error).message).toMatch(/run\.json: OPRO run "r" was begun with other settings \(keep_best, scorer differ\)/);
});

test('the log holds whole rounds: an unfinished group is ignored by readers and moved to log.jsonl.torn by the next append', () => {
  const file = logFileOf(temporaryDirectory());
  appendLogGroup(file, [candidate(0, 0, 2, 0.5), summary(0, 0.5, 2, 0.002)]);
  // A crash in the middle of round 1's group: one whole candidate line and half of the next.
  const whole = `${JSON.stringify(candidate(1, 0, 94, 0.75))}\n`;
  const half = JSON.stringify(candidate(1, 1, 95, 0.25)).slice(0, 40);
  fs.appendFileSync(file, whole + half);
  const interrupted = readOproLog(file);
  expect([...interrupted.rounds.keys()]).toEqual([0]);
  expect(interrupted.unfinished).toBe(2);
  expect(scoredInstructions(interrupted).map((entry) => entry.templateId)).toEqual([2]);

  appendLogGroup(file, [candidate(1, 0, 94, 0.75), candidate(1, 1, 95, 0.25), summary(1, 0.75, 94, 0.004)]);
  expect(fs.readFileSync(`${file}.torn`, 'utf8')).toBe(whole + half);
  const log = readOproLog(file);
  expect(log.unfinished).toBe(0);
  expect(fs.readFileSync(file, 'utf8').trim().split('\n')).toHaveLength(5);
  expect(scoredInstructions(log).map((entry) => [entry.round, entry.templateId, entry.accuracy])).toEqual([
    [0, 2, 0.5],
    [1, 94, 0.75],
    [1, 95, 0.25],
  ]);
  expect(oproProgression(log)).toEqual([
    { round: 0, scored: 2, duplicates: 0, invalid: 0, best_this_round: 0.5, best_so_far: 0.5, best_template_id: 2, round_cost_usd: 0.002, run_cost_usd: 0.002 },
    {
      round: 1,
      scored: 2,
      duplicates: 0,
      invalid: 0,
      best_this_round: 0.75,
      best_so_far: 0.75,
      best_template_id: 94,
      round_cost_usd: 0.002,
      run_cost_usd: 0.004,
    },
  ]);
  expect(() => appendLogGroup(file, [candidate(2, 0, 96, 1)])).toThrow(/must end with a round/);
});
