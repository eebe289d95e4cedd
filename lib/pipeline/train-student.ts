import * as fs from 'node:fs';
import * as path from 'node:path';
import { ZsdError } from '../core/errors';
import { STUDY_MODEL } from '../teacher/recorded-responses';
import { initBackend, type BackendPreference } from '../student/backend';
import { mapStudentExample } from '../student/number-mapping';
import { ParallelGradientEngine } from '../student/parallel/parallel-gradient-engine';
import { presetConfig, readT5Config } from '../student/t5-config';
import { T5Model } from '../student/t5-model';
import { loadT5Checkpoint } from '../student/t5-weights';
import { buildTaskVocabulary, studentTrainingTexts } from '../student/task-vocabulary';
import { loadT5Tokenizer, t5TokenizerFile } from '../student/tokenizer';
import { RUN_FILES, RunResultsWriter, runDirectory, type RunKey } from '../student/train-results';
import type { OptimizerConfig } from '../student/optimizers';
import { resolveTrainerConfig, trainStudent as runTrainer, type TrainerConfig, type TrainOutcome } from '../student/trainer';
import { loadTrainingSets } from '../student/training-sets';
import type { RationaleSourceOption } from '../student/student-examples';
import { ignoreEvents, type OnPipelineEvent } from './events';
import { resolveRoots, type RootOptions } from './roots';

/**
 * Training a T5 student (`zsd train`): distilling step-by-step (task_prefix: `predict:` -> label, `explain:` ->
 * rationale, loss = alpha * label + (1 - alpha) * weighted rationale losses) or standard fine-tuning / distillation,
 * from a random init (a named size or a config.json) or a checkpoint. Model selection on the validation split, the
 * test split scored once with the selected weights (lib/student/training-sets.ts reads the three). Results in the
 * study's layout under <workspace>/results/; checkpoints beside them, so `resume` continues a killed run.
 */

export interface TrainStudentOptions extends RootOptions {
  task: string;
  /** task_prefix (labels and rationales) or standard (labels only) */
  mode?: 'task_prefix' | 'standard';
  /** rationale source names: palm, gpt35, flan, llama (default palm; gpt35 with a mix; flan,llama on multi-teacher tasks) */
  rationales?: readonly string[];
  rationaleWeights?: ReadonlyMap<string, number>;
  /** prompt mix of the gpt35 rationales: datasets/<task>/<teacher model>/<mix>/<split>_CoT.json in the workspace */
  mix?: string;
  /** the model that wrote the gpt35 rationales (its directory name) */
  teacherModel?: string;
  /** gold labels, or the teacher's (standard distillation) */
  labelSource?: 'gold' | 'teacher';
  /** fraction of the train split, in (0, 1] */
  subsample?: number;
  dropMissingRationales?: boolean;
  numberMapping?: boolean;
  /** batches of similar input lengths (default true; false: random batches) */
  groupByLength?: boolean;
  labelSmoothing?: number;
  /** random init of a named size (default t5-efficient-tiny) */
  model?: string;
  /** random init from a Hugging Face config.json */
  config?: string;
  /** start from a checkpoint directory */
  initFrom?: string;
  alpha?: number;
  optimizer?: 'adamw' | 'adafactor';
  lr?: number;
  schedule?: 'linear' | 'constant' | 'cosine';
  warmupSteps?: number;
  batchSize?: number;
  gradAccum?: number;
  maxInputLength?: number;
  maxTargetLength?: number;
  maxSteps?: number;
  /** passes over train (default 1 unless maxSteps) */
  epochs?: number;
  evalSteps?: number;
  evalMaxNewTokens?: number;
  evalNumBeams?: number;
  patience?: number;
  seed?: number;
  /** run number in the results path (default: the seed) */
  run?: number;
  resume?: boolean;
  /** do nothing when the run has finished already (its test.json exists) */
  skipFinished?: boolean;
  /** worker threads computing gradients data-parallel */
  workers?: number;
  /** full: the T5 vocabulary; task: only the pieces the training text uses (random init only) */
  vocabulary?: 'full' | 'task';
  backend?: BackendPreference;
  /** aborting stops at the next update with a checkpoint (stopReason 'interrupted') */
  signal?: AbortSignal;
  onEvent?: OnPipelineEvent;
}

/** What `zsd train` does when a setting is left out (its flags show the same defaults). */
export const TRAIN_STUDENT_DEFAULTS = {
  mode: 'task_prefix',
  teacherModel: STUDY_MODEL,
  labelSource: 'gold',
  subsample: 1,
  labelSmoothing: 0,
  model: 't5-efficient-tiny',
  alpha: 0.5,
  optimizer: 'adamw',
  lr: 5e-5,
  schedule: 'linear',
  warmupSteps: 0,
  batchSize: 8,
  gradAccum: 1,
  maxInputLength: 1024,
  maxTargetLength: 256,
  evalMaxNewTokens: 64,
  evalNumBeams: 1,
  seed: 0,
  workers: 1,
  vocabulary: 'full',
  backend: 'auto',
} as const;

export type TrainStudentResult =
  /** trained (or stopped early, or interrupted: see outcome.stopReason) */
  | { kind: 'trained'; directory: string; key: RunKey; outcome: TrainOutcome }
  /** skipFinished found the run's test.json: nothing was trained */
  | { kind: 'finished-already'; directory: string; key: RunKey };

/** AdamW as the study ran it (transformers' Trainer default: no weight decay), or Adafactor. */
export function optimizerFor(name: 'adamw' | 'adafactor'): OptimizerConfig {
  return name === 'adamw' ? { kind: 'adamw', weightDecay: 0 } : { kind: 'adafactor' };
}

export async function trainStudent(options: TrainStudentOptions): Promise<TrainStudentResult> {
  const settings = { ...TRAIN_STUDENT_DEFAULTS, ...definedOnly(options) };
  const onEvent = options.onEvent ?? ignoreEvents;
  const info = (message: string) => onEvent({ kind: 'info', message });
  const { dataRoot, workspace } = resolveRoots(options);
  const initChoices = [options.model, options.config, options.initFrom].filter((choice) => choice !== undefined);
  if (initChoices.length > 1) throw new ZsdError('usage', 'give one of --model, --config and --init-from');
  if (options.maxSteps !== undefined && options.epochs !== undefined) throw new ZsdError('usage', 'give --max-steps or --epochs, not both');
  if (settings.vocabulary === 'task' && options.initFrom)
    throw new ZsdError('usage', '--vocabulary task needs a random init (--model or --config): a checkpoint keeps its own vocabulary');

  // Everything is read and checked before anything is written.
  const sets = loadTrainingSets({
    dataRoot,
    workspaceRoot: workspace.root,
    task: options.task,
    mode: settings.mode,
    labelSource: settings.labelSource,
    rationales: options.rationales,
    rationaleWeights: options.rationaleWeights,
    mix: options.mix,
    teacherModel: settings.teacherModel,
    subsample: settings.subsample,
    seed: settings.seed,
    dropMissingRationales: options.dropMissingRationales,
  });
  const { task, train, validation, test } = sets;
  const config = resolveTrainerConfig({
    task,
    mode: settings.mode,
    alpha: settings.mode === 'standard' ? 1 : settings.alpha,
    batchSize: settings.batchSize,
    gradientAccumulationSteps: settings.gradAccum,
    maxInputLength: settings.maxInputLength,
    maxTargetLength: settings.maxTargetLength,
    dropMissingRationales: options.dropMissingRationales ?? false,
    optimizer: optimizerFor(settings.optimizer),
    learningRate: settings.lr,
    schedule: { kind: settings.schedule, warmupSteps: settings.warmupSteps },
    maxSteps: options.maxSteps ?? null,
    epochs: options.maxSteps === undefined ? (options.epochs ?? 1) : null,
    evalSteps: options.evalSteps ?? null,
    evalMaxNewTokens: settings.evalMaxNewTokens,
    testNumBeams: settings.evalNumBeams,
    earlyStoppingPatience: options.patience ?? null,
    seed: settings.seed,
    numberMapping: options.numberMapping ?? false,
    bucketByLength: options.groupByLength ?? true,
    labelSmoothing: settings.labelSmoothing,
  });

  const backend = await initBackend({ prefer: settings.backend });
  info(`backend: ${backend.description}`);
  // the vocabulary of the texts the student is trained on: with number mapping, those with placeholders
  const trainingTexts = () => studentTrainingTexts(config.numberMapping ? train.examples.map(mapStudentExample) : train.examples);
  const vocabulary = settings.vocabulary === 'task' ? buildTaskVocabulary(t5TokenizerFile(dataRoot), trainingTexts()) : null;
  const tokenizer = vocabulary?.tokenizer ?? loadT5Tokenizer(t5TokenizerFile(dataRoot));
  if (vocabulary) info(`task vocabulary: ${vocabulary.size} of ${vocabulary.fullSize} pieces`);
  // a run of its own in the study's layout: the preprocessing is part of the student's name, as the vocabulary is
  const { model, modelName } = studentModel(options, settings.model, settings.seed, {
    taskVocabularySize: vocabulary?.size,
    numberMapping: config.numberMapping,
  });
  if (config.numberMapping) info("number mapping: on (the problem's numbers are n0, n1, ... for the student)");
  const key = studentRunKey({
    task,
    modelName,
    mode: settings.mode,
    rationaleSources: sets.rationaleSources,
    mix: options.mix,
    labelSource: settings.labelSource,
    subsample: settings.subsample,
    config,
    optimizer: settings.optimizer,
    run: options.run ?? settings.seed,
  });
  const resultsRoot = path.join(workspace.root, 'results');
  const directory = runDirectory(resultsRoot, key);
  if (workspace.readOnly) {
    model.dispose();
    throw new ZsdError('read-only', `the workspace ${workspace.root} is inside the read-only data root; pass --workspace DIR`);
  }
  if (options.skipFinished && fs.existsSync(path.join(directory, RUN_FILES.test))) {
    model.dispose();
    return { kind: 'finished-already', directory, key };
  }
  const results = RunResultsWriter.open(
    resultsRoot,
    {
      key,
      experimentGroup: null,
      category: null,
      config: {
        trainer: config,
        model: model.config.raw,
        modelName,
        data: { ...sets.data, subsample: settings.subsample, counts: train.counts, validationRows: validation.length, testRows: test.length },
      },
    },
    { resume: options.resume },
  );
  info(
    `training ${modelName} on ${task} (${settings.mode}): ${train.examples.length} train, ${validation.length} validation, ${test.length} test examples -> ${directory}`,
  );

  // Worker threads split each batch: on wasm one thread each; on native TensorFlow each worker's context gets its
  // share of the cores (for small students, per-kernel overhead makes that faster than one context on every core).
  // A GPU is one device: one worker.
  const onGpu = backend.description.startsWith('@tensorflow/tfjs-node-gpu');
  const workers = onGpu ? 1 : settings.workers;
  if (workers !== settings.workers) info(`--workers ${settings.workers} ignored: ${backend.description} runs on one GPU`);
  let engine: ParallelGradientEngine | undefined;
  try {
    engine = workers > 1 ? await ParallelGradientEngine.start(model, { workers, backend: backend.name === 'wasm' ? 'wasm' : 'node' }) : undefined;
    if (engine !== undefined)
      info(`gradient workers: ${workers} threads on ${engine.workerBackend === 'wasm' ? 'wasm' : 'native TensorFlow'}, each with its share of the cores`);
    const label = `${modelName} ${settings.mode}`;
    const outcome = await runTrainer({
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
      signal: options.signal,
      onProgress: (progress) => onEvent({ kind: 'train-progress', label, progress }),
      onEvaluation: (entry) => onEvent({ kind: 'train-evaluation', label, step: entry.step, accuracy: entry.accuracy }),
    });
    return { kind: 'trained', directory, key, outcome };
  } finally {
    engine?.dispose();
    model.dispose();
  }
}

/**
 * The run's place in the study's results layout: the student's name (with its preprocessing), where rationales and
 * labels came from, the mix ("0" for the paper's PaLM rationales), the effective batch size, and the run number.
 */
export function studentRunKey(input: {
  task: string;
  modelName: string;
  mode: 'task_prefix' | 'standard';
  rationaleSources: readonly RationaleSourceOption[];
  mix?: string;
  labelSource: 'gold' | 'teacher';
  subsample: number;
  config: TrainerConfig;
  optimizer: 'adamw' | 'adafactor';
  run: number;
}): RunKey {
  const { rationaleSources, config } = input;
  return {
    task: input.task,
    model: input.modelName,
    mode: input.mode,
    llm: rationaleSources.length === 0 ? 'None' : rationaleSources.map((source) => source.name).join('+'),
    subsample: input.subsample,
    mix: input.mix ?? (rationaleSources.some((source) => source.name === 'palm') ? '0' : 'None'),
    labelType: input.labelSource === 'gold' ? 'gt' : 'llm',
    alpha: config.alpha,
    maxInputLength: config.maxInputLength,
    batchSize: config.batchSize * config.gradientAccumulationSteps,
    optimizer: input.optimizer === 'adamw' ? 'AdamW' : 'Adafactor',
    learningRate: config.learningRate,
    run: input.run,
  };
}

/**
 * The student: a checkpoint, or a random init of a config or a named size. Its name carries the preprocessing:
 * `<name>[-number-mapping][-task-vocab]` (a checkpoint brings its own vocabulary). The vocabulary comes last so that no
 * name reads `...sk-` followed by a long run of letters, which secret scanners take for an OpenAI key.
 */
function studentModel(
  options: Pick<TrainStudentOptions, 'initFrom' | 'config'>,
  presetName: string,
  seed: number,
  preprocessing: { taskVocabularySize?: number; numberMapping: boolean },
): { model: T5Model; modelName: string } {
  const { taskVocabularySize, numberMapping } = preprocessing;
  const mapping = numberMapping ? '-number-mapping' : '';
  if (options.initFrom) return { model: loadT5Checkpoint(options.initFrom).model, modelName: path.basename(path.resolve(options.initFrom)) + mapping };
  const suffix = mapping + (taskVocabularySize === undefined ? '' : '-task-vocab');
  if (options.config) {
    const config = readT5Config(options.config);
    const sized = taskVocabularySize === undefined ? config : { ...config, vocabSize: taskVocabularySize };
    return { model: T5Model.randomInit(sized, seed), modelName: path.basename(path.dirname(path.resolve(options.config))) + suffix };
  }
  return { model: T5Model.randomInit(presetConfig(presetName, { vocabSize: taskVocabularySize }), seed), modelName: presetName + suffix };
}

/** An options object with its undefined entries left out, so that spreading it keeps the defaults. */
function definedOnly<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as Partial<T>;
}
