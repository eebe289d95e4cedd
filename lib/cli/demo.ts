import * as path from 'node:path';
import { Command } from 'commander';
import { formatDuration } from '../core/durations';
import { runDemo, DEMO_DEFAULTS as D, type DemoOptions, type DemoStep, type DemoSummary } from '../pipeline/demo';
import type { OnPipelineEvent } from '../pipeline/events';
import { parsePriceFlag } from '../teacher/prices';
import { formatComparison } from './compare';
import { printEvents } from './event-printer';
import { printRanking } from './experiment';
import { formatTrainingDataFiles } from './generate';
import { studentEventPrinter } from './student-progress';
import { formatTable } from './table';
import { printTeacherRun } from './teacher-run';
import { formatTrainResult } from './train';
import { numberFlag } from './options';

/**
 * `zsd demo`: the main job, offline, in minutes (lib/pipeline/demo.ts). Phases, decisions and each step's result on
 * stdout, teacher and training progress on stderr, then the summary read back from the files the demo wrote.
 */

type DemoFlags = Omit<DemoOptions, 'signal' | 'onEvent'>;

export function demoCommand(): Command {
  return new Command('demo')
    .description(
      'The main job, offline: evaluate prompt templates on a replayed teacher, annotate with the best, train students standard and step-by-step, track, plot, summarise',
    )
    .option('--task <task>', 'task of the demo (its recorded responses must cover the train split)', D.task)
    .option('--data <dir>', 'data root (default: $ZSD_DATA or ../shared/data)')
    .option('--workspace <dir>', 'workspace for query results, training data, results and figures (default: current directory)')
    .option('--base-url <url>', 'a live OpenAI-compatible teacher instead of the replayed study (with --model)')
    .option('--api-key <key>', 'API key of the live teacher (default: $OPENAI_API_KEY or .env in the workspace)')
    .option('--model <name>', 'teacher model', D.model)
    .option('--max-cost <dollars>', 'with a live teacher: stop before spending more than this', numberFlag('--max-cost', { min: 0 }), D.maxCost)
    .option(
      '--price <prompt,completion>',
      'with a live teacher: dollars per 1K prompt and completion tokens when the price table does not know the model (0,0 for a free local server)',
      parsePriceFlag,
    )
    .option(
      '--completion-tokens <n>',
      'with a live teacher: expected completion tokens per answer, for the estimate and the budget',
      numberFlag('--completion-tokens', { min: 1 }),
      D.completionTokens,
    )
    .option('--samples <n>', 'train rows each template is compared on', numberFlag('--samples', { min: 1, integer: true }), D.samples)
    .option('--epochs <n>', 'student training epochs', numberFlag('--epochs', { min: 1, integer: true }), D.epochs)
    .option(
      '--subsample <fraction>',
      'fraction of the train split the students see',
      numberFlag('--subsample', { min: 0, exclusiveMin: true, max: 1 }),
      D.subsample,
    )
    .option('--quick', 'smoke-test settings: 20 rows per template, 10% of train, 1 epoch')
    .option('--no-figures', 'do not render figures (they need Debian chromium)')
    .action(async (options: DemoFlags) => {
      await runDemoCommand(options);
    });
}

async function runDemoCommand(options: DemoFlags): Promise<void> {
  const controller = new AbortController();
  const onInterrupt = () => {
    controller.abort();
    process.stderr.write('\ninterrupted: stopping after the queries in flight or at the next training update (run the demo again to resume)\n');
  };
  process.on('SIGINT', onInterrupt);
  try {
    const summary = await runDemo({ ...options, signal: controller.signal, onEvent: demoEventPrinter() });
    printSummary(summary);
    process.stdout.write(`\ndemo finished in ${formatDuration(summary.seconds)}\n`);
  } finally {
    process.off('SIGINT', onInterrupt);
    if (controller.signal.aborted) process.exitCode = 130;
  }
}

function demoEventPrinter(): OnPipelineEvent {
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const err = (line: string) => process.stderr.write(`${line}\n`);
  const teacher = printEvents({ info: out });
  const student = studentEventPrinter(err);
  return (event) => {
    switch (event.kind) {
      case 'info':
        out(event.message);
        return;
      case 'phase':
        out(`\n== ${event.title} (${formatDuration(event.elapsedSeconds)})`);
        return;
      case 'train-progress':
      case 'train-evaluation':
        student(event);
        return;
      case 'demo-step':
        printStep(event.step, out, err);
        return;
      default:
        teacher(event);
    }
  };
}

function printStep(step: DemoStep, out: (line: string) => void, err: (line: string) => void): void {
  switch (step.step) {
    case 'prompt-experiment':
      printTeacherRun(step.result.teacherRun, err);
      if (step.result.kind === 'ranked') printRanking(step.result, out);
      return;
    case 'generate-training-data':
      printTeacherRun(step.result.teacherRun, err);
      if (step.result.kind === 'written') out(formatTrainingDataFiles(step.result.files));
      return;
    case 'train-student':
      out(formatTrainResult(step.result));
      return;
    case 'compare':
      // printed in the summary
      return;
  }
}

function printSummary(summary: DemoSummary): void {
  const workspaceRoot = summary.workspace;
  const format = (value: number | null) => (value === null ? 'n/a' : value.toFixed(3));
  const { teacher, annotation } = summary;
  process.stdout.write('\nSummary\n');
  process.stdout.write(
    `${formatTable(
      ['', 'value'],
      [
        [
          'best template',
          `${teacher.bestTemplate} (teacher accuracy ${format(teacher.accuracy)} on ${teacher.rows} train rows, explanation rate ${format(teacher.explanationRate)})`,
        ],
        ['teacher cost (template comparison + annotation, at list price)', `$${teacher.costUsd.toFixed(4)}`],
        [
          'annotated train rows',
          `${annotation.rows} (explanation rate ${format(annotation.explanationRate)}; half copy ${format(annotation.halfExplanationRate)})`,
        ],
      ],
    )}\n\n`,
  );
  const rows = summary.students.map((student) => [
    student.name,
    format(student.validationAccuracy),
    format(student.testAccuracy),
    student.trainSeconds === null ? 'n/a' : formatDuration(student.trainSeconds),
    student.reused ? 'reused' : 'trained',
    path.relative(workspaceRoot, student.results),
  ]);
  for (const baseline of summary.baselines) {
    const chosen = baseline.referenceAccuracy === null ? '' : ` (chosen on ${baseline.referenceSplit})`;
    rows.push([`no training: ${baseline.name}`, '-', format(baseline.testAccuracy), '-', '', `${baseline.rule}${chosen}`]);
  }
  process.stdout.write(`${formatTable(['student', 'validation acc', 'test acc', 'train time', '', 'results'], rows)}\n\n`);
  if (summary.teacherVsStudent) process.stdout.write(`teacher vs student (zsd compare), ${formatComparison(summary.teacherVsStudent)}\n\n`);
  for (const note of summary.notes) process.stdout.write(`note: ${note}\n`);
  if (summary.notes.length > 0) process.stdout.write('\n');
  process.stdout.write('where everything is:\n');
  for (const [what, where] of Object.entries(summary.outputs)) process.stdout.write(`  ${what.padEnd(20)}${where}\n`);
}
