import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { trainingDataFile } from '../annotate/training-data';
import { ZsdError } from '../core/errors';
import { getTask } from '../data/tasks';
import { STUDY_MODEL } from '../teacher/recorded-responses';
import { initBackend, type BackendPreference } from '../student/backend';
import { presetConfig, readT5Config, T5_PRESETS } from '../student/t5-config';
import { T5Model } from '../student/t5-model';
import { loadT5Checkpoint } from '../student/t5-weights';
import { mapStudentExample } from '../student/number-mapping';
import { buildTaskVocabulary, studentTrainingTexts } from '../student/task-vocabulary';
import { loadT5Tokenizer, t5TokenizerFile } from '../student/tokenizer';
import { ParallelGradientEngine } from '../student/parallel/parallel-gradient-engine';
import { RUN_FILES, RunResultsWriter, runDirectory, type RunKey } from '../student/train-results';
import { resolveTrainerConfig, trainStudent, type TrainOutcome, type TrainProgress } from '../student/trainer';
import { loadStudentSplit, type RationaleSourceOption, type StudentSplit } from '../student/training-data';
import { backendOption } from './check-model';
import { addCommonOptions, parseNameList, resolveRoots, type CommonOptions } from './options';
import { formatDuration } from './progress';
import { numberFlag } from './teacher-run';

/**
 * `zsd train`: distilling step-by-step (task_prefix: `predict:` -> label, `explain:` -> rationale, loss =
 * alpha * label + (1 - alpha) * weighted rationale losses) or standard fine-tuning / distillation, from a random
 * init (a named size or a config.json) or a checkpoint. Model selection on the validation split (a seeded 10% of
 * train where the task has none; never test), the test split scored once with the selected weights. Results in
 * the study's layout under <workspace>/results/; checkpoints beside them, so `--resume` continues a killed run.
 */

export interface TrainOptions extends CommonOptions {
  task: string;
  mode: 'task_prefix' | 'standard';
  rationales?: string[];
  rationaleWeights?: Map<string, number>;
  mix?: string;
  teacherModel: string;
  labelSource: 'gold' | 'teacher';
  subsample: number;
  dropMissingRationales?: boolean;
  numberMapping?: boolean;
  /** batches of similar input lengths (default true; false: random batches) */
  groupByLength?: boolean;
  labelSmoothing?: number;
  model?: string;
  config?: string;
  initFrom?: string;
  alpha: number;
  optimizer: 'adamw' | 'adafactor';
  lr: number;
  schedule: 'linear' | 'constant' | 'cosine';
  warmupSteps: number;
  batchSize: number;
  gradAccum: number;
  maxInputLength: number;
  maxTargetLength: number;
  maxSteps?: number;
  epochs?: number;
  evalSteps?: number;
  evalMaxNewTokens: number;
  evalNumBeams: number;
  patience?: number;
  seed: number;
  run?: number;
  resume?: boolean;
  skipFinished?: boolean;
  workers: number;
  vocabulary: 'full' | 'task';
  backend: BackendPreference;
}

/** The rationale sources zsd knows by name. */
const RATIONALE_NAMES = ['palm', 'gpt35', 'flan', 'llama'] as const;

export function trainCommand(): Command {
  const command = new Command('train')
    .description(
      'Train a T5 student: task_prefix (distilling step-by-step: labels and rationales) or standard; writes results/<task>/<model>/<mode>/<llm>/<subsample>/<mix>/<label>/<alpha>/<max_input>/<batch>/<optimizer>/<lr>/<run>/',
    )
    .requiredOption('--task <task>', 'cqa, svamp, anli1, esnli, a multi-teacher task (obqa, arc, riddle, pubmedqa, bioasq) or your own')
    .addOption(new Option('--mode <mode>', 'task_prefix (labels and rationales) or standard (labels only)').choices(['task_prefix', 'standard']).default('task_prefix'))
    .option('--rationales <names>', `rationale sources, comma-separated: ${RATIONALE_NAMES.join(', ')} (gpt35: the files \`zsd generate --mix\` wrote; flan, llama: multi-teacher tasks); default palm, or flan,llama on multi-teacher tasks`, parseNameList)
    .option('--rationale-weights <weights>', 'weight per source, e.g. palm=0.5,gpt35=0.5 (normalised; default equal)', parseWeights)
    .option('--mix <id>', 'prompt mix of the gpt35 rationales: datasets/<task>/<teacher model>/<mix>/<split>_CoT.json in the workspace')
    .option('--teacher-model <model>', 'the model that wrote the gpt35 rationales (its directory name)', STUDY_MODEL)
    .addOption(new Option('--label-source <source>', 'gold labels, or the teacher\'s (standard distillation)').choices(['gold', 'teacher']).default('gold'))
    .option('--subsample <fraction>', 'fraction of the train split, in (0, 1] (dsbs semantics, seeded by --seed)', numberFlag('--subsample', { min: 0, exclusiveMin: true, max: 1 }), 1)
    .option('--drop-missing-rationales', 'leave rows without a rationale out of the rationale loss (dsbs trained them on an empty target)')
    .option('--number-mapping', 'equation tasks (svamp): the problem\'s numbers become n0, n1, ... in inputs, labels and rationales, and are put back into predictions before scoring')
    .option('--label-smoothing <epsilon>', 'label smoothing of the training loss: (1 - ε) -log p(label) + ε mean over the vocabulary of -log p (transformers\' label_smoothing_factor)', numberFlag('--label-smoothing', { min: 0, max: 1, exclusiveMax: true }), 0)
    .option('--no-group-by-length', 'random batches (transformers\' default) instead of batches of similar input lengths (the default: less padding, faster)')
    .option('--model <name>', `random init of a named size: ${Object.keys(T5_PRESETS).join(', ')}`)
    .option('--config <file>', 'random init from a Hugging Face config.json')
    .option('--init-from <dir>', 'start from a checkpoint (config.json + model.safetensors)')
    .option('--alpha <a>', 'weight of the label loss', numberFlag('--alpha', { min: 0, max: 1 }), 0.5)
    .addOption(new Option('--optimizer <name>', 'AdamW or Adafactor').choices(['adamw', 'adafactor']).default('adamw'))
    .option('--lr <rate>', 'learning rate', numberFlag('--lr', { min: 0 }), 5e-5)
    .addOption(new Option('--schedule <kind>', 'learning-rate schedule after warm-up').choices(['linear', 'constant', 'cosine']).default('linear'))
    .option('--warmup-steps <n>', 'linear warm-up updates', numberFlag('--warmup-steps', { min: 0, integer: true }), 0)
    .option('--batch-size <n>', 'examples per micro-step', numberFlag('--batch-size', { min: 1, integer: true }), 8)
    .option('--grad-accum <n>', 'micro-steps per update', numberFlag('--grad-accum', { min: 1, integer: true }), 1)
    .option('--max-input-length <n>', 'input tokens', numberFlag('--max-input-length', { min: 2, integer: true }), 1024)
    .option('--max-target-length <n>', 'target tokens', numberFlag('--max-target-length', { min: 2, integer: true }), 256)
    .option('--max-steps <n>', 'optimizer updates (or --epochs)', numberFlag('--max-steps', { min: 1, integer: true }))
    .option('--epochs <n>', 'passes over the train split (or --max-steps)', numberFlag('--epochs', { min: 1, integer: true }))
    .option('--eval-steps <n>', 'evaluate on the validation split every n updates (and at the end)', numberFlag('--eval-steps', { min: 1, integer: true }))
    .option('--eval-max-new-tokens <n>', 'tokens generated per validation or test answer', numberFlag('--eval-max-new-tokens', { min: 1, integer: true }), 64)
    .option('--eval-num-beams <n>', 'beam search width for the test answers of the selected checkpoint (validation stays greedy)', numberFlag('--eval-num-beams', { min: 1, max: 64, integer: true }), 1)
    .option('--patience <n>', 'early stopping: evaluations without improvement', numberFlag('--patience', { min: 1, integer: true }))
    .option('--seed <n>', 'seed of init, dropout, batches and subsample', numberFlag('--seed', { min: 0, max: 2 ** 32 - 1, integer: true }), 0)
    .option('--run <n>', 'run number in the results path (default: the seed)', numberFlag('--run', { min: 0, integer: true }))
    .option('--resume', 'continue the run from its latest checkpoint')
    .option('--skip-finished', 'do nothing when this run has finished already (its test.json exists): for scripts that re-run a plan')
    .option('--workers <n>', 'worker threads computing gradients data-parallel, each with its share of the cores (2 uses both cores of a 2-core machine; on native TensorFlow, faster for small students than one worker on every core)', numberFlag('--workers', { min: 1, max: 64, integer: true }), 1)
    .addOption(
      new Option('--vocabulary <kind>', 'full: the T5 vocabulary (32128 rows); task: only the pieces the training text uses, for a from-scratch student (saved with each checkpoint)')
        .choices(['full', 'task'])
        .default('full'),
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
    if (!match || !Number.isFinite(weight) || weight < 0) throw new InvalidArgumentError(`expected name=weight pairs such as palm=0.5,gpt35=0.5 (weights >= 0), got "${value}"`);
    weights.set(match[1], weight);
  }
  return weights;
}

/** The run's directory, and the outcome of its training (null when --skip-finished found it finished). */
export async function runTrain(options: TrainOptions): Promise<{ directory: string; outcome: TrainOutcome | null }> {
  const { dataRoot, workspace } = resolveRoots(options);
  const multiTeacher = fs.existsSync(path.join(dataRoot, 'multi-teacher', options.task));
  const task = multiTeacher ? options.task : getTask(options.task, [dataRoot, workspace.root]).name;
  const splits = multiTeacher ? ['train', 'valid', 'test'] : getTask(task, [dataRoot, workspace.root]).splits;
  const initChoices = [options.model, options.config, options.initFrom].filter((choice) => choice !== undefined);
  if (initChoices.length > 1) throw new ZsdError('usage', 'give one of --model, --config and --init-from');
  if (options.maxSteps !== undefined && options.epochs !== undefined) throw new ZsdError('usage', 'give --max-steps or --epochs, not both');
  if (options.vocabulary === 'task' && options.initFrom) throw new ZsdError('usage', '--vocabulary task needs a random init (--model or --config): a checkpoint keeps its own vocabulary');

  const rationaleSources = options.mode === 'standard' && options.labelSource === 'gold' ? [] : rationaleSourcesFor(options, task, multiTeacher, workspace.root);
  const common = {
    dataRoot,
    workspaceRoot: workspace.root,
    task,
    labelSource: options.labelSource,
    rationaleSources,
    dropMissingRationales: options.dropMissingRationales,
  } as const;
  const hasValid = splits.includes('valid');
  // Everything is read and checked before anything is written.
  const train: StudentSplit = loadStudentSplit({ ...common, split: 'train', subsample: options.subsample, seed: options.seed, carveValidation: hasValid ? undefined : { fraction: 0.1, seed: 0 } });
  const evaluationSplit = (split: string) => loadStudentSplit({ ...common, labelSource: 'gold', rationaleSources: [], split });
  const validation = hasValid ? evaluationSplit('valid').examples : (train.validation ?? []);
  const test = splits.includes('test') ? evaluationSplit('test').examples : [];
  const config = resolveTrainerConfig({
    task,
    mode: options.mode,
    alpha: options.mode === 'standard' ? 1 : options.alpha,
    batchSize: options.batchSize,
    gradientAccumulationSteps: options.gradAccum,
    maxInputLength: options.maxInputLength,
    maxTargetLength: options.maxTargetLength,
    dropMissingRationales: options.dropMissingRationales ?? false,
    optimizer: options.optimizer === 'adamw' ? { kind: 'adamw', weightDecay: 0 } : { kind: 'adafactor' },
    learningRate: options.lr,
    schedule: { kind: options.schedule, warmupSteps: options.warmupSteps },
    maxSteps: options.maxSteps ?? null,
    epochs: options.maxSteps === undefined ? (options.epochs ?? 1) : null,
    evalSteps: options.evalSteps ?? null,
    evalMaxNewTokens: options.evalMaxNewTokens,
    testNumBeams: options.evalNumBeams,
    earlyStoppingPatience: options.patience ?? null,
    seed: options.seed,
    numberMapping: options.numberMapping ?? false,
    bucketByLength: options.groupByLength ?? true,
    labelSmoothing: options.labelSmoothing ?? 0,
  });

  const backend = await initBackend({ prefer: options.backend });
  process.stderr.write(`backend: ${backend.description}\n`);
  // the vocabulary of the texts the student is trained on: with number mapping, those with placeholders
  const trainingTexts = () => studentTrainingTexts(config.numberMapping ? train.examples.map(mapStudentExample) : train.examples);
  const vocabulary = options.vocabulary === 'task' ? buildTaskVocabulary(t5TokenizerFile(dataRoot), trainingTexts()) : null;
  const tokenizer = vocabulary?.tokenizer ?? loadT5Tokenizer(t5TokenizerFile(dataRoot));
  if (vocabulary) process.stderr.write(`task vocabulary: ${vocabulary.size} of ${vocabulary.fullSize} pieces\n`);
  const student = studentModel(options, vocabulary?.size);
  const { model } = student;
  // a run of its own in the study's layout: the preprocessing is part of the student's name, as the vocabulary is
  const modelName = config.numberMapping ? `${student.modelName}-number-mapping` : student.modelName;
  if (config.numberMapping) process.stderr.write('number mapping: on (the problem\'s numbers are n0, n1, ... for the student)\n');
  const key: RunKey = {
    task,
    model: modelName,
    mode: options.mode,
    llm: llmName(options, rationaleSources),
    subsample: options.subsample,
    mix: options.mix ?? (rationaleSources.some((source) => source.name === 'palm') ? '0' : 'None'),
    labelType: options.labelSource === 'gold' ? 'gt' : 'llm',
    alpha: config.alpha,
    maxInputLength: config.maxInputLength,
    batchSize: config.batchSize * config.gradientAccumulationSteps,
    optimizer: options.optimizer === 'adamw' ? 'AdamW' : 'Adafactor',
    learningRate: config.learningRate,
    run: options.run ?? options.seed,
  };
  if (workspace.readOnly) throw new ZsdError('read-only', `the workspace ${workspace.root} is inside the read-only data root; pass --workspace DIR`);
  const resultsRoot = path.join(workspace.root, 'results');
  if (options.skipFinished && fs.existsSync(path.join(runDirectory(resultsRoot, key), RUN_FILES.test))) {
    model.dispose();
    process.stdout.write(`finished already: ${runDirectory(resultsRoot, key)}\n`);
    return { directory: runDirectory(resultsRoot, key), outcome: null };
  }
  const results = RunResultsWriter.open(
    resultsRoot,
    {
      key,
      experimentGroup: null,
      category: null,
      config: { trainer: config, model: model.config.raw, modelName, data: { ...common, dataRoot: undefined, subsample: options.subsample, counts: train.counts, validationRows: validation.length, testRows: test.length } },
    },
    { resume: options.resume },
  );
  const directory = runDirectory(resultsRoot, key);
  process.stderr.write(
    `training ${modelName} on ${task} (${options.mode}): ${train.examples.length} train, ${validation.length} validation, ${test.length} test examples -> ${directory}\n`,
  );

  const controller = new AbortController();
  const onInterrupt = () => {
    controller.abort();
    process.stderr.write('\ninterrupted: stopping at the next update with a checkpoint (resume with --resume)\n');
  };
  process.on('SIGINT', onInterrupt);
  let lastPrinted = 0;
  // Worker threads split each batch: on wasm one thread each; on native TensorFlow each worker's context gets its
  // share of the cores (for small students, per-kernel overhead makes that faster than one context on every core).
  // A GPU is one device: one worker.
  const onGpu = backend.description.startsWith('@tensorflow/tfjs-node-gpu');
  const workers = onGpu ? 1 : options.workers;
  if (workers !== options.workers) process.stderr.write(`--workers ${options.workers} ignored: ${backend.description} runs on one GPU\n`);
  const engine = workers > 1 ? await ParallelGradientEngine.start(model, { workers, backend: backend.name === 'wasm' ? 'wasm' : 'node' }) : undefined;
  if (engine !== undefined) process.stderr.write(`gradient workers: ${workers} threads on ${engine.workerBackend === 'wasm' ? 'wasm' : 'native TensorFlow'}, each with its share of the cores\n`);
  try {
    const outcome = await trainStudent({
      engine,
      model,
      tokenizer,
      train: train.examples,
      validation,
      test,
      config,
      checkpointDirectory: path.join(directory, 'checkpoints'),
      checkpointTokenizerJson: vocabulary?.tokenizerJson,
      resume: options.resume,
      results,
      signal: controller.signal,
      onProgress: (progress) => {
        if (Date.now() - lastPrinted < 5000 && progress.step !== progress.totalSteps) return;
        lastPrinted = Date.now();
        process.stderr.write(`${formatTrainProgress(progress)}\n`);
      },
      onEvaluation: (entry) => process.stderr.write(`step ${entry.step}: validation accuracy ${entry.accuracy.toFixed(4)}\n`),
    });
    const testNote = outcome.test ? `, test accuracy ${outcome.test.accuracy.toFixed(4)}` : '';
    process.stdout.write(
      `${outcome.stopReason} after ${outcome.steps} updates in ${formatDuration(outcome.durationSeconds)}; selected step ${outcome.selectedStep}` +
        `${outcome.best ? ` (validation accuracy ${outcome.best.accuracy.toFixed(4)})` : ''}${testNote}\nresults: ${directory}\n`,
    );
    if (outcome.stopReason === 'interrupted') process.exitCode = 130;
    return { directory, outcome };
  } finally {
    process.off('SIGINT', onInterrupt);
    engine?.dispose();
    model.dispose();
  }
}

function rationaleSourcesFor(options: TrainOptions, task: string, multiTeacher: boolean, workspaceRoot: string): RationaleSourceOption[] {
  const names = options.rationales ?? (multiTeacher ? ['flan', 'llama'] : options.mix ? ['gpt35'] : ['palm']);
  const weights = options.rationaleWeights ?? new Map<string, number>();
  for (const name of weights.keys()) {
    if (!names.includes(name)) throw new ZsdError('usage', `--rationale-weights names "${name}", which is not among the rationale sources ${names.join(', ')}`);
  }
  return names.map((name) => {
    const weight = weights.get(name) ?? 1;
    switch (name) {
      case 'palm':
        return { name, weight, source: { kind: 'palm' } };
      case 'gpt35': {
        if (!options.mix) throw new ZsdError('usage', 'the gpt35 rationales need --mix (the prompt mix `zsd generate` annotated with)');
        const file = path.dirname(trainingDataFile(workspaceRoot, task, options.teacherModel, options.mix, 'train'));
        return { name, weight, source: { kind: 'generated', file } };
      }
      case 'flan':
      case 'llama':
        if (!multiTeacher) throw new ZsdError('usage', `the ${name} rationales exist for the multi-teacher tasks only (obqa, arc, riddle, pubmedqa, bioasq)`);
        return { name, weight, source: { kind: 'multi-teacher', teacher: name } };
      default:
        throw new ZsdError('usage', `unknown rationale source "${name}"; expected ${RATIONALE_NAMES.join(', ')}`);
    }
  });
}

function llmName(options: TrainOptions, sources: readonly RationaleSourceOption[]): string {
  return sources.length === 0 ? 'None' : sources.map((source) => source.name).join('+');
}

/** The student: a checkpoint, or a random init of a config or a named size (`-task-vocab` with a task vocabulary). */
function studentModel(options: TrainOptions, taskVocabularySize?: number): { model: T5Model; modelName: string } {
  if (options.initFrom) return { model: loadT5Checkpoint(options.initFrom).model, modelName: path.basename(path.resolve(options.initFrom)) };
  const suffix = taskVocabularySize === undefined ? '' : '-task-vocab';
  if (options.config) {
    const config = readT5Config(options.config);
    const sized = taskVocabularySize === undefined ? config : { ...config, vocabSize: taskVocabularySize };
    return { model: T5Model.randomInit(sized, options.seed), modelName: path.basename(path.dirname(path.resolve(options.config))) + suffix };
  }
  const name = options.model ?? 't5-efficient-tiny';
  return { model: T5Model.randomInit(presetConfig(name, { vocabSize: taskVocabularySize }), options.seed), modelName: name + suffix };
}

function formatTrainProgress(progress: TrainProgress): string {
  return (
    `step ${progress.step}/${progress.totalSteps} · epoch ${progress.epoch.toFixed(2)} · loss ${progress.loss.toFixed(4)} (label ${progress.labelLoss.toFixed(4)}` +
    `${progress.rationaleLoss === null ? '' : `, rationale ${progress.rationaleLoss.toFixed(4)}`}) · ${Math.round(progress.tokensPerSecond)} tokens/s · ETA ${formatDuration(progress.etaSeconds)}`
  );
}
