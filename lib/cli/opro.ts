import { Command } from 'commander';
import * as path from 'node:path';
import { STUDY_EXPERIMENT_SEED } from '../annotate/experiment';
import type { OproEstimate } from '../opro/estimate';
import { oproProgression } from '../opro/run-log';
import type { OproPlan, OproResult } from '../opro/search';
import { runOpro } from '../pipeline/run-opro';
import { printEvents } from './event-printer';
import { addCommonOptions, parseIdList, rootOptionsOf, type CommonOptions, numberFlag } from './options';
import { formatCount, withInterrupt } from './progress';
import { formatTable } from './table';
import { addTeacherOptions, queryingOptionsOf, teacherOptionsOf, type TeacherFlags } from './teacher-run';

interface OproOptions extends CommonOptions, TeacherFlags {
  task: string;
  split: string;
  rounds: number;
  candidates: number;
  evalSamples: number;
  keepBest: number;
  seed: number;
  startTemplates?: number[];
  parseTemplate?: number;
  metaPrompt?: string;
  optimizerModel?: string;
  scorerModel?: string;
  optimizerTemperature: number;
  run?: string;
  finalTop: number;
  finalSamples?: number;
  validationSplit: string;
  validationSamples?: number;
}

/**
 * `zsd opro`: prompt search with an LLM as optimiser (lib/pipeline/run-opro.ts): the estimate table of a dry run,
 * the rounds as they finish, the progression table, the best instruction, and the spending summary.
 */
export function oproCommand(): Command {
  const count = (name: string, min = 1) => numberFlag(name, { min, integer: true });
  const command = new Command('opro')
    .description(
      'Search for better zero-shot instructions with an LLM as optimiser (OPRO): rounds of proposals scored on the same seeded rows; resumable, with estimates and a budget',
    )
    .requiredOption('--task <task>', 'cqa, svamp, anli1, esnli, or your own task')
    .option('--rounds <n>', 'optimisation rounds after round 0 (which scores the start templates)', count('--rounds', 0), 20)
    .option('--candidates <k>', 'candidate instructions asked of the optimiser per round', count('--candidates'), 8)
    .option('--eval-samples <n>', 'rows each candidate is scored on (the same seeded rows for all)', count('--eval-samples'), 25)
    .option('--keep-best <b>', 'best instructions (with scores) shown in the meta-prompt', count('--keep-best'), 10)
    .option(
      '--seed <n>',
      'seed of the row sample (numpy, as `experiment`)',
      numberFlag('--seed', { min: 0, max: 2 ** 32 - 1, integer: true }),
      STUDY_EXPERIMENT_SEED,
    )
    .option('--split <split>', 'split the rows are scored on (anli1 and esnli ship no train split)', 'train')
    .option(
      '--start-templates <ids>',
      "templates scored in round 0, the first entries of the meta-prompt (default: the lowest id using the task's usual parse patterns)",
      parseIdList,
    )
    .option(
      '--parse-template <id>',
      "template whose label/explanation patterns every candidate gets (default: the patterns most of the task's templates use)",
      count('--parse-template', 0),
    )
    .option('--meta-prompt <file>', "meta-prompt template (default: prompt-templates/opro/<task>.txt, else the study's, else built in)")
    .option('--optimizer-model <name>', 'model that proposes instructions (default: --model)')
    .option('--scorer-model <name>', 'model that answers the rows (default: --model)')
    .option('--optimizer-temperature <t>', 'optimiser sampling temperature (OPRO used 1.0)', numberFlag('--optimizer-temperature', { min: 0, max: 2 }), 1)
    .option('--run <name>', 'name of the run (default: <task>-<hash of the settings>, so the same command resumes it)')
    .option(
      '--final-top <n>',
      'final step: re-score the n best instructions on --final-samples rows, name the winner and score it on --validation-split (0: no final step)',
      count('--final-top', 0),
      0,
    )
    .option(
      '--final-samples <n>',
      'rows of the final re-scoring (same seed, so it includes the search rows; default 4 x --eval-samples)',
      count('--final-samples'),
    )
    .option('--validation-split <split>', 'split the winner is scored on in the final step ("none" to skip)', 'valid')
    .option('--validation-samples <n>', 'rows of the validation split (same seed; default: all)', count('--validation-samples'));
  addTeacherOptions(command);
  addCommonOptions(command);
  return command.action((options: OproOptions) => runOproCommand(options));
}

export async function runOproCommand(options: OproOptions): Promise<void> {
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const err = (line: string) => process.stderr.write(`${line}\n`);
  const outcome = await withInterrupt(err, (signal) =>
    runOpro({
      ...rootOptionsOf(options),
      task: options.task,
      split: options.split,
      rounds: options.rounds,
      candidates: options.candidates,
      evalSamples: options.evalSamples,
      keepBest: options.keepBest,
      seed: options.seed,
      startTemplates: options.startTemplates,
      parseTemplate: options.parseTemplate,
      metaPrompt: options.metaPrompt,
      optimizerModel: options.optimizerModel,
      scorerModel: options.scorerModel,
      optimizerTemperature: options.optimizerTemperature,
      runName: options.run,
      finalTop: options.finalTop,
      finalSamples: options.finalSamples,
      validationSplit: options.validationSplit,
      validationSamples: options.validationSamples,
      teacher: teacherOptionsOf(options),
      querying: queryingOptionsOf(options),
      onEvent: printEvents(),
      signal,
    }),
  );
  if (outcome.kind === 'estimate') {
    printEstimate(outcome.estimate, outcome.plan, err);
    return;
  }
  printResult(outcome.result, out, err);
  if (!outcome.result.finished) process.exitCode = 1;
}

function printEstimate(estimate: OproEstimate, plan: OproPlan, log: (line: string) => void): void {
  log(`dry run: nothing sent. Optimiser ${plan.optimizer.model}, scorer ${plan.scorer.model}:`);
  const header = ['phase', 'to send', 'in store', 'prompt tokens', 'completion tokens', 'dollars', 'kind'];
  const rows = estimate.phases.map((phase) => [
    phase.phase,
    phase.queries,
    phase.cached,
    formatCount(phase.promptTokens),
    formatCount(phase.completionTokens),
    phase.costUsd.toFixed(4),
    phase.exact ? 'exact prompts' : 'upper bound',
  ]);
  log(formatTable(header, rows));
  log(
    `total: ${estimate.queries} queries, ${formatCount(estimate.promptTokens)} prompt + ~${formatCount(estimate.completionTokens)} completion tokens, ~$${estimate.costUsd.toFixed(4)}` +
      (estimate.loggedRounds > 0 ? ` (${estimate.loggedRounds} rounds already in the log cost nothing)` : ''),
  );
}

function printResult(result: OproResult, out: (line: string) => void, err: (line: string) => void): void {
  const progression = oproProgression(result.log);
  if (progression.length > 0) {
    const header = ['round', 'scored', 'dup', 'invalid', 'best round', 'best so far', 'template', 'round $', 'run $'];
    const fixed = (value: number | null) => (value === null ? '-' : value.toFixed(3));
    out(
      formatTable(
        header,
        progression.map((row) => [
          row.round,
          row.scored,
          row.duplicates,
          row.invalid,
          fixed(row.best_this_round),
          fixed(row.best_so_far),
          row.best_template_id ?? '-',
          row.round_cost_usd.toFixed(4),
          row.run_cost_usd.toFixed(4),
        ]),
      ),
    );
  }
  if (result.best)
    out(
      `best instruction: template ${result.best.templateId} (accuracy ${result.best.accuracy.toFixed(3)} on the search rows, round ${result.best.round}): ${JSON.stringify(result.best.instruction)}`,
    );
  if (result.final)
    out(`winner: template ${result.final.winner.template_id} (accuracy ${result.final.winner.accuracy.toFixed(3)} on ${result.final.n_rows} rows)`);
  if (result.validation && !('skipped' in result.validation)) {
    out(
      `validation: template ${result.validation.template_id} on ${result.validation.split}: accuracy ${result.validation.accuracy.toFixed(3)} (${result.validation.n_rows} rows)`,
    );
  }
  const relative = path.relative(process.cwd(), result.logFile);
  out(`log: ${relative.startsWith('..') ? result.logFile : relative}`);
  const { optimizer, scoring, cached, savedUsd, retries } = result.spend;
  err(
    `spent: ${optimizer.queries + scoring.queries} queries, ${formatCount(optimizer.promptTokens + scoring.promptTokens)} prompt + ${formatCount(optimizer.completionTokens + scoring.completionTokens)} completion tokens, ` +
      `$${(optimizer.costUsd + scoring.costUsd).toFixed(4)} (optimiser ${optimizer.queries} queries $${optimizer.costUsd.toFixed(4)}, scoring ${scoring.queries} queries $${scoring.costUsd.toFixed(4)})` +
      (retries > 0 ? ` (${retries} retries)` : ''),
  );
  err(`saved by the store: ${cached} answers, $${savedUsd.toFixed(4)}`);
  if (result.stoppedBecause) {
    err(`stopped: ${result.stoppedBecause}`);
    err('every answer so far is stored and every finished round is in the log: run the same command again to resume');
  }
}
