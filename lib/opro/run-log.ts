import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ZsdError } from '../core/errors';
import { parseJsonLines } from '../core/jsonl';
import { writeFileAtomic } from '../core/paths';
import type { TemplateEvaluation } from '../evaluate/metrics';
import { canonicalJson, type SamplingParameters, type TeacherEndpoint } from '../teacher/request-key';

/**
 * The record of one OPRO run, in `results/opro/<task>/<run>/` of the workspace:
 * - `run.json`: what the run is (its identity: task, split, seed, rows, candidates per round, instructions kept,
 *   start templates, parse patterns, scorer and optimiser settings, the meta-prompt text), written once, before
 *   any query, atomically. A resumed run must have the same identity; `--rounds` and the final step are not part
 *   of it, so a finished run can be extended.
 * - `log.jsonl`: one JSON object per line, appended and fsynced in groups. A round is one group: a `candidate`
 *   line per scored instruction, then the `round` summary line; a `final` and a `validation` line are groups of
 *   their own. A group is written in one write: a crash leaves at most an unfinished last group, which readers
 *   ignore and the next append moves to `log.jsonl.torn`. So the log always holds whole rounds only.
 */

export const OPRO_RUN_FORMAT = 'zsd-opro-run-v1';

export interface ParsePatterns {
  label_parse: string;
  explanation_parse: string;
  swap: boolean;
  escape_values: boolean;
}

export interface TeacherIdentity {
  model: string;
  endpoint: TeacherEndpoint;
  parameters: SamplingParameters;
}

/** Everything that decides what the run asks and how it scores: equal identities give equal runs. */
export interface OproRunIdentity {
  task: string;
  split: string;
  seed: number;
  eval_samples: number;
  candidates: number;
  keep_best: number;
  start_templates: number[];
  /** The patterns every candidate template gets, and the template they were taken from. */
  parse: ParsePatterns & { from_template: number };
  scorer: TeacherIdentity;
  optimizer: TeacherIdentity;
  /** The meta-prompt template text (placeholders unfilled). */
  meta_prompt: string;
}

export interface OproRunFile {
  format: typeof OPRO_RUN_FORMAT;
  name: string;
  identity: OproRunIdentity;
  /** Where the meta-prompt text was read from when the run began. */
  meta_prompt_source: string;
  created_at: string;
}

export interface TokenCost {
  prompt_tokens: number;
  completion_tokens: number;
  cost_usd: number;
}

export interface CandidateLogLine extends TokenCost {
  type: 'candidate';
  round: number;
  /** Position in the optimiser's answer (round 0: in --start-templates). */
  candidate: number;
  template_id: number;
  /** True when this run added the template to prompt-templates/<task>.yaml. */
  new_template: boolean;
  instruction: string;
  accuracy: number;
  explanation_rate: number;
  n_rows: number;
  n_correct: number;
  n_parse_errors: number;
  evaluation: TemplateEvaluation;
}

export interface RejectedCandidate {
  candidate: number;
  reason: 'duplicate' | 'invalid' | 'extra';
  detail: string;
  instruction: string;
}

export interface BestInstruction {
  template_id: number;
  accuracy: number;
  instruction: string;
  round: number;
}

export interface RoundLogLine {
  type: 'round';
  round: number;
  /** The optimiser's answer (null in round 0, which scores the start templates). */
  optimizer: TokenCost | null;
  /** Candidates in the answer (round 0: start templates). */
  proposed: number;
  scored: number;
  duplicates: number;
  invalid: number;
  /** Candidates past --candidates, not scored. */
  extra: number;
  rejected: RejectedCandidate[];
  best_this_round: BestInstruction | null;
  best_so_far: BestInstruction | null;
  /** What the round's answers cost (optimiser + scoring), whether paid now or earlier. */
  round_cost_usd: number;
  run_cost_usd: number;
}

export interface FinalScore {
  template_id: number;
  search_accuracy: number;
  accuracy: number;
  explanation_rate: number;
}

export interface FinalLogLine {
  type: 'final';
  after_round: number;
  n_rows: number;
  scores: FinalScore[];
  winner: BestInstruction;
  cost_usd: number;
}

export type ValidationLogLine =
  | {
      type: 'validation';
      after_round: number;
      split: string;
      template_id: number;
      n_rows: number;
      accuracy: number;
      explanation_rate: number;
      cost_usd: number;
    }
  | { type: 'validation'; after_round: number; split: string; template_id: number; skipped: string };

export type OproLogLine = CandidateLogLine | RoundLogLine | FinalLogLine | ValidationLogLine;

export interface LoggedRound {
  candidates: CandidateLogLine[];
  summary: RoundLogLine;
}

export interface OproLog {
  file: string;
  /** Completed rounds by number. */
  rounds: Map<number, LoggedRound>;
  finals: FinalLogLine[];
  validations: ValidationLogLine[];
  /** Lines after the last complete group (an interrupted append), left out. */
  unfinished: number;
}

/** Mean completion tokens per scorer answer in the log so far (estimates and budgets for templates not yet scored). */
export function scorerCompletionMean(log: OproLog): number | undefined {
  let tokens = 0;
  let answers = 0;
  for (const { candidates } of log.rounds.values()) {
    for (const line of candidates) {
      tokens += line.completion_tokens;
      answers += line.n_rows;
    }
  }
  return answers > 0 ? tokens / answers : undefined;
}

export function oproRunsDirectory(workspaceRoot: string, task: string): string {
  return path.join(workspaceRoot, 'results', 'opro', task);
}

export function oproRunDirectory(workspaceRoot: string, task: string, name: string): string {
  return path.join(oproRunsDirectory(workspaceRoot, task), name);
}

export function runFileOf(directory: string): string {
  return path.join(directory, 'run.json');
}

export function logFileOf(directory: string): string {
  return path.join(directory, 'log.jsonl');
}

/** `<task>-<first 10 hex digits of sha256(canonical identity)>`: the same settings name the same run. */
export function defaultRunName(identity: OproRunIdentity): string {
  return `${identity.task}-${createHash('sha256').update(canonicalJson(identity)).digest('hex').slice(0, 10)}`;
}

const RUN_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

export function checkRunName(name: string): string {
  if (!RUN_NAME.test(name)) throw new ZsdError('usage', `--run "${name}" is not a usable name; expected letters, digits, ".", "_" or "-"`);
  return name;
}

export function readRunFile(directory: string): OproRunFile | undefined {
  const file = runFileOf(directory);
  if (!fs.existsSync(file)) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ZsdError('invalid-file', `not JSON (${(error as Error).message}); expected the run's settings`, { file });
  }
  const run = value as Partial<OproRunFile>;
  if (run?.format !== OPRO_RUN_FORMAT || typeof run.identity !== 'object' || run.identity === null) {
    throw new ZsdError('invalid-file', `expected {"format": "${OPRO_RUN_FORMAT}", "identity": {...}}`, { file });
  }
  return run as OproRunFile;
}

/**
 * Begins a run (writes run.json) or checks that an existing one has the same identity. A resumed run with other
 * settings would ask other questions and mix two searches in one log, so it is refused, naming what differs.
 */
export function openRun(
  directory: string,
  name: string,
  identity: OproRunIdentity,
  metaPromptSource: string,
  now = new Date(),
): { created: boolean; run: OproRunFile } {
  const existing = readRunFile(directory);
  if (existing) {
    const differing = (Object.keys({ ...identity, ...existing.identity }) as (keyof OproRunIdentity)[]).filter(
      (key) => canonicalJson(identity[key]) !== canonicalJson(existing.identity[key]),
    );
    if (differing.length > 0) {
      throw new ZsdError(
        'usage',
        `OPRO run "${name}" was begun with other settings (${differing.join(', ')} differ); use the run's settings to resume it, or --run NAME for a new run`,
        { file: runFileOf(directory) },
      );
    }
    return { created: false, run: existing };
  }
  const run: OproRunFile = { format: OPRO_RUN_FORMAT, name, identity, meta_prompt_source: metaPromptSource, created_at: now.toISOString() };
  writeFileAtomic(runFileOf(directory), `${JSON.stringify(run, null, 2)}\n`);
  return { created: true, run };
}

/** Lines that close a group: after one of these the log is consistent. */
function closesGroup(line: OproLogLine): boolean {
  return line.type !== 'candidate';
}

export function readOproLog(file: string): OproLog {
  const log: OproLog = { file, rounds: new Map(), finals: [], validations: [], unfinished: 0 };
  if (!fs.existsSync(file)) return log;
  const { lines, tornTail } = parseJsonLines<OproLogLine>(fs.readFileSync(file, 'utf8'), file);
  let group: CandidateLogLine[] = [];
  for (const { line, value } of lines) {
    if (typeof value !== 'object' || value === null || !['candidate', 'round', 'final', 'validation'].includes((value as { type?: string }).type ?? '')) {
      throw new ZsdError('invalid-file', 'expected a log line with "type" candidate, round, final or validation', { file, line });
    }
    if (value.type === 'candidate') {
      group.push(value);
      continue;
    }
    if (value.type === 'round') {
      if (group.some((candidate) => candidate.round !== value.round)) {
        throw new ZsdError('invalid-file', `candidate lines of another round before the summary of round ${value.round}`, { file, line });
      }
      log.rounds.set(value.round, { candidates: group, summary: value });
    } else if (value.type === 'final') log.finals.push(value);
    else log.validations.push(value);
    group = [];
  }
  log.unfinished = group.length + (tornTail ? 1 : 0);
  return log;
}

/**
 * Appends one group of lines in one write, then fsync. Before the first append of a process, an unfinished
 * group (a crash mid-append) is cut off and kept in `log.jsonl.torn`.
 */
export function appendLogGroup(file: string, lines: readonly OproLogLine[]): void {
  if (lines.length === 0 || !closesGroup(lines[lines.length - 1]))
    throw new ZsdError('internal', 'a log group must end with a round, final or validation line');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  cutUnfinishedGroup(file);
  const handle = fs.openSync(file, 'a');
  try {
    fs.writeSync(handle, lines.map((line) => `${JSON.stringify(line)}\n`).join(''));
    fs.fsyncSync(handle);
  } finally {
    fs.closeSync(handle);
  }
}

function cutUnfinishedGroup(file: string): void {
  if (!fs.existsSync(file)) return;
  const content = fs.readFileSync(file, 'utf8');
  let keep = 0;
  let offset = 0;
  for (const raw of content.split('\n')) {
    const end = offset + raw.length + 1;
    if (end > content.length) break; // the last line has no newline: never complete
    try {
      const value = JSON.parse(raw) as OproLogLine;
      if (closesGroup(value)) keep = end;
    } catch {
      // an unparseable line can only follow the last complete group
    }
    offset = end;
  }
  if (keep === content.length) return;
  fs.appendFileSync(`${file}.torn`, content.slice(keep));
  fs.truncateSync(file, Buffer.byteLength(content.slice(0, keep), 'utf8'));
}

/** A scored instruction, as the meta-prompt and the search use them. */
export interface ScoredInstruction {
  round: number;
  candidate: number;
  templateId: number;
  instruction: string;
  accuracy: number;
  explanationRate: number;
}

/** Every instruction scored in the completed rounds, in log order. */
export function scoredInstructions(log: OproLog): ScoredInstruction[] {
  return [...log.rounds.keys()]
    .sort((a, b) => a - b)
    .flatMap((round) =>
      log.rounds.get(round)!.candidates.map((line) => ({
        round: line.round,
        candidate: line.candidate,
        templateId: line.template_id,
        instruction: line.instruction,
        accuracy: line.accuracy,
        explanationRate: line.explanation_rate,
      })),
    );
}

/** Higher accuracy first; then higher explanation rate; then the earlier one (round, position). Total and deterministic. */
export function compareScored(a: ScoredInstruction, b: ScoredInstruction): number {
  return b.accuracy - a.accuracy || b.explanationRate - a.explanationRate || a.round - b.round || a.candidate - b.candidate;
}

export function bestOf(scored: readonly ScoredInstruction[]): ScoredInstruction | undefined {
  return [...scored].sort(compareScored)[0];
}

export function asBest(scored: ScoredInstruction | undefined): BestInstruction | null {
  return scored ? { template_id: scored.templateId, accuracy: scored.accuracy, instruction: scored.instruction, round: scored.round } : null;
}

/** One row per completed round, for tables and the 04-opro notebook: the running best is what OPRO's plot shows. */
export interface ProgressionRow {
  round: number;
  scored: number;
  duplicates: number;
  invalid: number;
  best_this_round: number | null;
  best_so_far: number | null;
  best_template_id: number | null;
  round_cost_usd: number;
  run_cost_usd: number;
}

export function oproProgression(log: OproLog): ProgressionRow[] {
  return [...log.rounds.values()]
    .sort((a, b) => a.summary.round - b.summary.round)
    .map(({ summary }) => ({
      round: summary.round,
      scored: summary.scored,
      duplicates: summary.duplicates,
      invalid: summary.invalid,
      best_this_round: summary.best_this_round?.accuracy ?? null,
      best_so_far: summary.best_so_far?.accuracy ?? null,
      best_template_id: summary.best_so_far?.template_id ?? null,
      round_cost_usd: summary.round_cost_usd,
      run_cost_usd: summary.run_cost_usd,
    }));
}

/** Every OPRO run of a task in a workspace (names), for notebooks. */
export function listOproRuns(workspaceRoot: string, task: string): string[] {
  const directory = oproRunsDirectory(workspaceRoot, task);
  if (!fs.existsSync(directory)) return [];
  return fs
    .readdirSync(directory)
    .filter((name) => fs.existsSync(runFileOf(path.join(directory, name))))
    .sort();
}
