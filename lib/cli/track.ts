import { Command } from 'commander';
import { planPendingRuns, updateTrackingTable } from '../pipeline/experiment-tracking';
import { PLAN_FILTERS, shellCommand, STUDY_TRAINING_FLAGS, type PlanFilterName, type PlanFilters } from '../tracking/plan';
import { addCommonOptions, rootOptionsOf, type CommonOptions } from './options';

/**
 * `zsd track`: experiment tracking over the results tree.
 * - `update` collects <workspace>/results/ into results/experiment-tracking.csv (the study's columns, then zsd's).
 * - `plan --group G` prints the `zsd train` commands of the group's planned runs that have no results yet.
 */

interface PlanOptions extends CommonOptions {
  group: string;
  plan?: string;
  models?: string;
  extra?: string;
  includeHandEntered?: boolean;
  category?: string;
  dataset?: string;
  model?: string;
  mode?: string;
  llm?: string;
  subsample?: string;
  mix?: string;
  labelType?: string;
  lr?: string;
  run?: string;
}

export function trackCommand(): Command {
  const track = new Command('track').description('Experiment tracking: collect results/ into a table; plan the training runs still to do');

  const update = new Command('update').description("Collect <workspace>/results/ into results/experiment-tracking.csv (the study's columns, then zsd's)");
  addCommonOptions(update);
  update.action((options: CommonOptions) => {
    const result = updateTrackingTable(rootOptionsOf(options));
    process.stdout.write(
      `${result.runs} run${result.runs === 1 ? '' : 's'} (${result.finished} finished) ${result.changed ? 'written to' : 'already in'} ${result.file}\n`,
    );
  });

  const plan = new Command('plan')
    .description('Print the `zsd train` commands for the planned runs of an experiment group that have no results yet')
    .requiredOption('--group <name>', 'experiment_group of the plan, e.g. "Subsampling ANLI1" (case-insensitive)')
    .option('--plan <file>', "plan CSV with the study's columns (default: <workspace>/experiment-plan.csv, else <data>/paper/experiment_tracking.csv)")
    .option('--models <dir>', 'directory of pretrained students for models that are not a zsd preset (--init-from DIR/<model>)', 'models')
    .option('--extra <flags>', 'flags appended to every command', STUDY_TRAINING_FLAGS.join(' '))
    .option('--include-hand-entered', "also plan the study's rows with run = 100 (numbers copied by hand from Hsieh et al.)");
  for (const name of Object.keys(PLAN_FILTERS) as PlanFilterName[]) {
    const flag = name.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
    plan.option(`--${flag} <value>`, `only rows whose ${PLAN_FILTERS[name]} is this value`);
  }
  addCommonOptions(plan);
  plan.action((options: PlanOptions) => {
    const filters: PlanFilters = {};
    for (const name of Object.keys(PLAN_FILTERS) as PlanFilterName[]) if (options[name] !== undefined) filters[name] = options[name];
    const result = planPendingRuns({
      ...rootOptionsOf(options),
      planFile: options.plan,
      group: options.group,
      filters,
      includeHandEntered: options.includeHandEntered,
      modelsDirectory: options.models,
      extraFlags: (options.extra ?? '').split(/\s+/).filter((part) => part !== ''),
    });
    for (const run of result.pending) process.stdout.write(`${shellCommand(run.args)}\n`);
    const notes = [
      `${result.pending.length} run${result.pending.length === 1 ? '' : 's'} to do (${result.pending.filter((run) => run.status === 'unfinished').length} to resume)`,
      `${result.done} done`,
      result.duplicates > 0 ? `${result.duplicates} duplicate row${result.duplicates === 1 ? '' : 's'}` : undefined,
      result.handEnteredSkipped > 0
        ? `${result.handEnteredSkipped} hand-entered row${result.handEnteredSkipped === 1 ? '' : 's'} (run 100) skipped`
        : undefined,
    ].filter(Boolean);
    process.stderr.write(`group "${result.group}" of ${result.file}: ${result.rows} planned row${result.rows === 1 ? '' : 's'}; ${notes.join(', ')}\n`);
  });

  // main() turns commander's errors into exit code 2 for top-level commands; these nested ones need the same.
  for (const command of [update, plan]) track.addCommand(command.exitOverride());
  return track;
}
