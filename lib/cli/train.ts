import { Command, InvalidArgumentError, Option } from 'commander';
import { formatDuration } from '../core/durations';
import { T5_PRESETS } from '../student/t5-config';
import { RATIONALE_NAMES } from '../student/training-sets';
import { trainStudent, TRAIN_STUDENT_DEFAULTS as D, type TrainStudentOptions, type TrainStudentResult } from '../pipeline/train-student';
import { backendOption } from './check-model';
import { addCommonOptions, parseNameList, numberFlag } from './options';
import { studentEventPrinter } from './student-progress';

/**
 * `zsd train`: distilling step-by-step or standard fine-tuning of a T5 student (lib/pipeline/train-student.ts).
 * Progress on stderr; the outcome and the run's directory on stdout; Ctrl-C stops at the next update with a
 * checkpoint (exit 130; `--resume` continues).
 */

export type TrainOptions = Omit<TrainStudentOptions, 'signal' | 'onEvent' | 'rationaleWeights'> & { rationaleWeights?: Map<string, number> };

export function trainCommand(): Command {
  const command = new Command('train')
    .description(
      'Train a T5 student: task_prefix (distilling step-by-step: labels and rationales) or standard; writes results/<task>/<model>/<mode>/<llm>/<subsample>/<mix>/<label>/<alpha>/<max_input>/<batch>/<optimizer>/<lr>/<run>/',
    )
    .requiredOption('--task <task>', 'cqa, svamp, anli1, esnli, a multi-teacher task (obqa, arc, riddle, pubmedqa, bioasq) or your own')
    .addOption(
      new Option('--mode <mode>', 'task_prefix (labels and rationales) or standard (labels only)').choices(['task_prefix', 'standard']).default(D.mode),
    )
    .option(
      '--rationales <names>',
      `rationale sources, comma-separated: ${RATIONALE_NAMES.join(', ')} (gpt35: the files \`zsd generate --mix\` wrote; flan, llama: multi-teacher tasks); default palm, or flan,llama on multi-teacher tasks`,
      parseNameList,
    )
    .option('--rationale-weights <weights>', 'weight per source, e.g. palm=0.5,gpt35=0.5 (normalised; default equal)', parseWeights)
    .option('--mix <id>', 'prompt mix of the gpt35 rationales: datasets/<task>/<teacher model>/<mix>/<split>_CoT.json in the workspace')
    .option('--teacher-model <model>', 'the model that wrote the gpt35 rationales (its directory name)', D.teacherModel)
    .addOption(
      new Option('--label-source <source>', "gold labels, or the teacher's (standard distillation)").choices(['gold', 'teacher']).default(D.labelSource),
    )
    .option(
      '--subsample <fraction>',
      'fraction of the train split, in (0, 1] (dsbs semantics, seeded by --seed)',
      numberFlag('--subsample', { min: 0, exclusiveMin: true, max: 1 }),
      D.subsample,
    )
    .option('--drop-missing-rationales', 'leave rows without a rationale out of the rationale loss (dsbs trained them on an empty target)')
    .option(
      '--number-mapping',
      "equation tasks (svamp): the problem's numbers become n0, n1, ... in inputs, labels and rationales, and are put back into predictions before scoring",
    )
    .option(
      '--label-smoothing <epsilon>',
      "label smoothing of the training loss: (1 - ε) -log p(label) + ε mean over the vocabulary of -log p (transformers' label_smoothing_factor)",
      numberFlag('--label-smoothing', { min: 0, max: 1, exclusiveMax: true }),
      D.labelSmoothing,
    )
    .option('--no-group-by-length', "random batches (transformers' default) instead of batches of similar input lengths (the default: less padding, faster)")
    .option('--model <name>', `random init of a named size: ${Object.keys(T5_PRESETS).join(', ')} (default ${D.model})`)
    .option('--config <file>', 'random init from a Hugging Face config.json')
    .option('--init-from <dir>', 'start from a checkpoint (config.json + model.safetensors)')
    .option('--alpha <a>', 'weight of the label loss', numberFlag('--alpha', { min: 0, max: 1 }), D.alpha)
    .addOption(new Option('--optimizer <name>', 'AdamW or Adafactor').choices(['adamw', 'adafactor']).default(D.optimizer))
    .option('--lr <rate>', 'learning rate', numberFlag('--lr', { min: 0 }), D.lr)
    .addOption(new Option('--schedule <kind>', 'learning-rate schedule after warm-up').choices(['linear', 'constant', 'cosine']).default(D.schedule))
    .option('--warmup-steps <n>', 'linear warm-up updates', numberFlag('--warmup-steps', { min: 0, integer: true }), D.warmupSteps)
    .option('--batch-size <n>', 'examples per micro-step', numberFlag('--batch-size', { min: 1, integer: true }), D.batchSize)
    .option('--grad-accum <n>', 'micro-steps per update', numberFlag('--grad-accum', { min: 1, integer: true }), D.gradAccum)
    .option('--max-input-length <n>', 'input tokens', numberFlag('--max-input-length', { min: 2, integer: true }), D.maxInputLength)
    .option('--max-target-length <n>', 'target tokens', numberFlag('--max-target-length', { min: 2, integer: true }), D.maxTargetLength)
    .option('--max-steps <n>', 'optimizer updates (or --epochs)', numberFlag('--max-steps', { min: 1, integer: true }))
    .option('--epochs <n>', 'passes over the train split (or --max-steps)', numberFlag('--epochs', { min: 1, integer: true }))
    .option('--eval-steps <n>', 'evaluate on the validation split every n updates (and at the end)', numberFlag('--eval-steps', { min: 1, integer: true }))
    .option(
      '--eval-max-new-tokens <n>',
      'tokens generated per validation or test answer',
      numberFlag('--eval-max-new-tokens', { min: 1, integer: true }),
      D.evalMaxNewTokens,
    )
    .option(
      '--eval-num-beams <n>',
      'beam search width for the test answers of the selected checkpoint (validation stays greedy)',
      numberFlag('--eval-num-beams', { min: 1, max: 64, integer: true }),
      D.evalNumBeams,
    )
    .option('--patience <n>', 'early stopping: evaluations without improvement', numberFlag('--patience', { min: 1, integer: true }))
    .option('--seed <n>', 'seed of init, dropout, batches and subsample', numberFlag('--seed', { min: 0, max: 2 ** 32 - 1, integer: true }), D.seed)
    .option('--run <n>', 'run number in the results path (default: the seed)', numberFlag('--run', { min: 0, integer: true }))
    .option('--resume', 'continue the run from its latest checkpoint')
    .option('--skip-finished', 'do nothing when this run has finished already (its test.json exists): for scripts that re-run a plan')
    .option(
      '--workers <n>',
      'worker threads computing gradients data-parallel, each with its share of the cores (2 uses both cores of a 2-core machine; on native TensorFlow, faster for small students than one worker on every core)',
      numberFlag('--workers', { min: 1, max: 64, integer: true }),
      D.workers,
    )
    .addOption(
      new Option(
        '--vocabulary <kind>',
        'full: the T5 vocabulary (32128 rows); task: only the pieces the training text uses, for a from-scratch student (saved with each checkpoint)',
      )
        .choices(['full', 'task'])
        .default(D.vocabulary),
    )
    .addOption(backendOption());
  addCommonOptions(command);
  return command.action(async (options: TrainOptions) => {
    await runTrain(options);
  });
}

function parseWeights(value: string): Map<string, number> {
  const weights = new Map<string, number>();
  for (const part of value.split(',')) {
    const match = /^\s*([A-Za-z0-9_-]+)\s*=\s*([^,]+)$/.exec(part);
    const weight = match ? Number(match[2]) : Number.NaN;
    if (!match || !Number.isFinite(weight) || weight < 0)
      throw new InvalidArgumentError(`expected name=weight pairs such as palm=0.5,gpt35=0.5 (weights >= 0), got "${value}"`);
    weights.set(match[1], weight);
  }
  return weights;
}

/** Trains (or finds finished, with --skip-finished) and prints the outcome. */
export async function runTrain(options: TrainOptions): Promise<TrainStudentResult> {
  const controller = new AbortController();
  const onInterrupt = () => {
    controller.abort();
    process.stderr.write('\ninterrupted: stopping at the next update with a checkpoint (resume with --resume)\n');
  };
  process.on('SIGINT', onInterrupt);
  try {
    const result = await trainStudent({ ...options, signal: controller.signal, onEvent: studentEventPrinter() });
    process.stdout.write(`${formatTrainResult(result)}\n`);
    if (result.kind === 'trained' && result.outcome.stopReason === 'interrupted') process.exitCode = 130;
    return result;
  } finally {
    process.off('SIGINT', onInterrupt);
  }
}

/** How a run ended (why it stopped, the selected step, its accuracies) and where its results are. */
export function formatTrainResult(result: TrainStudentResult): string {
  if (result.kind === 'finished-already') return `finished already: ${result.directory}`;
  const { outcome, directory } = result;
  const testNote = outcome.test ? `, test accuracy ${outcome.test.accuracy.toFixed(4)}` : '';
  return (
    `${outcome.stopReason} after ${outcome.steps} updates in ${formatDuration(outcome.durationSeconds)}; selected step ${outcome.selectedStep}` +
    `${outcome.best ? ` (validation accuracy ${outcome.best.accuracy.toFixed(4)})` : ''}${testNote}\nresults: ${directory}`
  );
}
