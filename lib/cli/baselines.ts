import { Command } from 'commander';
import { computeBaselines } from '../pipeline/compute-baselines';
import { addCommonOptions, type CommonOptions } from './options';
import { formatTable } from './table';

/** `zsd baselines --task T --split S`: what answers that need no training score (lib/pipeline/compute-baselines.ts). */

interface BaselinesOptions extends CommonOptions {
  task: string;
  split: string;
  json?: boolean;
}

export function baselinesCommand(): Command {
  const command = new Command('baselines')
    .description(
      'What needs no training scores on a split: the majority label, or for svamp the best single-operation rule (chosen on train) and the oracle operation',
    )
    .requiredOption('--task <task>', 'task name')
    .option('--split <split>', 'split to score', 'test')
    .option('--json', 'print the report as JSON');
  addCommonOptions(command);
  return command.action((options: BaselinesOptions) => runBaselines(options));
}

export function runBaselines(options: BaselinesOptions): void {
  const report = computeBaselines(options);
  if (options.json) {
    process.stdout.write(`${JSON.stringify(report)}\n`);
    return;
  }
  process.stdout.write(`baselines for ${report.task} ${report.split} (rules chosen on ${report.referenceSplit}):\n`);
  const rows = report.baselines.map((baseline) => [
    baseline.name,
    baseline.rule,
    baseline.referenceAccuracy === null ? '-' : baseline.referenceAccuracy.toFixed(3),
    `${baseline.accuracy.toFixed(3)} (${baseline.correct}/${baseline.rows})`,
  ]);
  process.stdout.write(`${formatTable(['baseline', 'answers', `accuracy on ${report.referenceSplit}`, `accuracy on ${report.split}`], rows)}\n`);
}
