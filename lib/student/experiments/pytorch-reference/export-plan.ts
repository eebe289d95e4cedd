/**
 * The PyTorch reference's plan: everything `zsd train` would feed its trainer, written out so that train.py (PyTorch +
 * transformers) trains the same student on the same encoded data in the same order, and score.ts scores its answers
 * with zsd's own rule. Accuracy parity (issue 20, item 4) compares the two.
 *
 *   npm run build
 *   node dist/lib/student/experiments/pytorch-reference/export-plan.js --task svamp --mode task_prefix --rationales palm \
 *     --number-mapping --model zsd-scratch --vocabulary task --epochs 30 --batch-size 16 ... --seed 0 --out DIR
 *
 * writes DIR/plan.json and DIR/tokenizer.json (the vocabulary the student reads and writes). The flags are `zsd train`'s
 * data, model and trainer flags with its defaults; the data are loaded, mapped and encoded by zsd's own functions
 * (loadStudentSplit, mapStudentExample, buildTaskVocabulary, makeBatches), and each epoch's batches are makeBatches'
 * for the seed, as row positions: train.py pads them as makeBatches does (inputs with pad, labels with -100).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { ZsdError } from '../../../core/errors';
import { resolveDataRoot, resolveWorkspace } from '../../../core/paths';
import { STUDY_MODEL } from '../../../teacher/recorded-responses';
import { answerRuleFor } from '../../evaluate-student';
import { lossCoefficients } from '../../loss-weighting';
import { mapNumbers, mapStudentExample, numberMappingOf } from '../../number-mapping';
import { presetConfig, readT5Config, t5ConfigToJson, type T5Config } from '../../t5-config';
import { buildTaskVocabulary, studentTrainingTexts } from '../../task-vocabulary';
import { loadT5Tokenizer, t5TokenizerFile, type T5Tokenizer } from '../../tokenizer';
import { resolveTrainerConfig, type TrainerConfig } from '../../trainer-config';
import { loadTrainingSets } from '../../training-sets';
import { defaultTaskPrefixes, IGNORED_LABEL_ID, makeBatches, type EncodedBatch } from '../../batches';
import { type StudentExample } from '../../student-examples';

export const PLAN_FORMAT_VERSION = 1;
export const PLAN_FILE = 'plan.json';
export const PLAN_TOKENIZER_FILE = 'tokenizer.json';

// ---------------------------------------------------------------------------------------------------------------
// Options: `zsd train`'s data, model and trainer flags, with its defaults

export interface ReferencePlanOptions {
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
  groupByLength?: boolean;
  labelSmoothing?: number;
  model?: string;
  config?: string;
  vocabulary: 'full' | 'task';
  alpha: number;
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
  seed: number;
  data?: string;
  workspace?: string;
}

/** The arm's name in runs.jsonl: mode, rationale sources, number mapping (`standard`, `task_prefix-palm-number-mapping`). */
export function armName(options: Pick<ReferencePlanOptions, 'mode' | 'rationales' | 'numberMapping' | 'mix'> & { rationaleNames?: string[] }): string {
  const names = options.mode === 'standard' ? [] : (options.rationaleNames ?? options.rationales ?? (options.mix ? ['gpt35'] : ['palm']));
  return [options.mode, ...names, ...(options.numberMapping ? ['number-mapping'] : [])].join('-');
}

// ---------------------------------------------------------------------------------------------------------------
// The plan

export interface PlannedTrainRow {
  /** StudentExample.index: the row of the split file */
  index: number;
  /** the predict task: input ids (with the prefix, truncated, ending in </s>) and label ids (ending in </s>) */
  predict: { inputIds: number[]; labels: number[] };
  /** per rationale source the row has: the explain input and the rationale ids */
  explain: Record<string, { inputIds: number[]; labels: number[] }>;
}

export interface PlannedBatch {
  task: 'predict' | 'explain';
  source?: string;
  /** the factor of this batch's mean token cross-entropy in its micro-step's loss (lossCoefficients) */
  coefficient: number;
  /** positions in plan.train, in batch order */
  rows: number[];
}

export interface PlannedEvaluationRow {
  index: number;
  /** the problem as the split has it (number mapping is computed from it again when scoring) */
  input: string;
  goldLabel: string;
  /** what the student reads: the prefix and the (mapped) input, encoded and truncated as evaluateStudent does */
  inputIds: number[];
}

export interface ReferencePlan {
  formatVersion: typeof PLAN_FORMAT_VERSION;
  kind: 'zsd-pytorch-reference-plan';
  arm: string;
  task: string;
  seed: number;
  /** the data flags and what loading them gave */
  data: {
    mode: 'task_prefix' | 'standard';
    rationaleSources: { name: string; weight: number }[];
    mix: string | null;
    labelSource: 'gold' | 'teacher';
    subsample: number;
    numberMapping: boolean;
    trainRows: number;
    validationRows: number;
    testRows: number;
  };
  /** transformers' config.json of the student (T5Config(**model)); its dropout_rate is the training dropout */
  model: Record<string, unknown>;
  modelName: string;
  vocabulary: { kind: 'full' | 'task'; size: number; fullSize: number; file: string };
  trainer: TrainerConfig;
  /** updates in the run; micro-steps (entries of an epoch) per epoch; updates per epoch (the last one may be shorter) */
  totalSteps: number;
  microStepsPerEpoch: number;
  updatesPerEpoch: number;
  /** the predict input prefix evaluation uses ("predict: " in task_prefix mode, "" in standard) */
  evaluationPrefix: string;
  answerRule: 'exact-match' | 'equation';
  train: PlannedTrainRow[];
  /** epochs[e][m]: the batches of micro-step m of epoch e (makeBatches(seed, e)), predict batch first */
  epochs: PlannedBatch[][][];
  validation: PlannedEvaluationRow[];
  test: PlannedEvaluationRow[];
}

export interface BuiltPlan {
  plan: ReferencePlan;
  /** the tokenizer.json of the plan's vocabulary (task vocabulary, or the full T5 one) */
  tokenizerJson: string;
}

export function buildReferencePlan(options: ReferencePlanOptions): BuiltPlan {
  const dataRoot = resolveDataRoot(options.data);
  const workspace = resolveWorkspace(dataRoot, options.workspace);
  if (options.model !== undefined && options.config !== undefined) throw new ZsdError('usage', 'give one of --model and --config');
  if (options.maxSteps !== undefined && options.epochs !== undefined) throw new ZsdError('usage', 'give --max-steps or --epochs, not both');

  // as `zsd train` loads its data (lib/student/training-sets.ts)
  const sets = loadTrainingSets({ ...options, dataRoot, workspaceRoot: workspace.root });
  const { task, train, validation, test, rationaleSources } = sets;
  const config = resolveTrainerConfig({
    task,
    mode: options.mode,
    alpha: options.mode === 'standard' ? 1 : options.alpha,
    batchSize: options.batchSize,
    gradientAccumulationSteps: options.gradAccum,
    maxInputLength: options.maxInputLength,
    maxTargetLength: options.maxTargetLength,
    dropMissingRationales: options.dropMissingRationales ?? false,
    optimizer: { kind: 'adamw', weightDecay: 0 },
    learningRate: options.lr,
    schedule: { kind: options.schedule, warmupSteps: options.warmupSteps },
    maxSteps: options.maxSteps ?? null,
    epochs: options.maxSteps === undefined ? (options.epochs ?? 1) : null,
    evalSteps: options.evalSteps ?? null,
    evalMaxNewTokens: options.evalMaxNewTokens,
    testNumBeams: options.evalNumBeams,
    seed: options.seed,
    numberMapping: options.numberMapping ?? false,
    bucketByLength: options.groupByLength ?? true,
    labelSmoothing: options.labelSmoothing ?? 0,
  });

  // what trainStudent trains on, and the vocabulary `zsd train --vocabulary task` builds from it
  const trainExamples = config.numberMapping ? train.examples.map(mapStudentExample) : train.examples;
  const vocabulary = options.vocabulary === 'task' ? buildTaskVocabulary(t5TokenizerFile(dataRoot), studentTrainingTexts(trainExamples)) : null;
  const tokenizer = vocabulary?.tokenizer ?? loadT5Tokenizer(t5TokenizerFile(dataRoot));
  const tokenizerJson = vocabulary?.tokenizerJson ?? fs.readFileSync(t5TokenizerFile(dataRoot), 'utf8');
  const student = studentConfig(options, vocabulary?.size);

  const batchPlan = planEpochs(trainExamples, tokenizer, config);
  const evaluationPrefix = config.mode === 'standard' ? '' : defaultTaskPrefixes([]).predict;
  const evaluationRows = (examples: readonly StudentExample[]) => encodeEvaluationRows(examples, tokenizer, config, evaluationPrefix);
  const plan: ReferencePlan = {
    formatVersion: PLAN_FORMAT_VERSION,
    kind: 'zsd-pytorch-reference-plan',
    arm: armName({ ...options, rationaleNames: rationaleSources.map((source) => source.name) }),
    task,
    seed: config.seed,
    data: {
      mode: options.mode,
      rationaleSources: rationaleSources.map((source) => ({ name: source.name, weight: source.weight })),
      mix: options.mix ?? null,
      labelSource: options.labelSource,
      subsample: options.subsample,
      numberMapping: config.numberMapping,
      trainRows: trainExamples.length,
      validationRows: validation.length,
      testRows: test.length,
    },
    model: t5ConfigToJson(student.config),
    modelName: student.name,
    vocabulary: {
      kind: options.vocabulary,
      size: vocabulary?.size ?? student.config.vocabSize,
      fullSize: vocabulary?.fullSize ?? tokenizer.vocabSize,
      file: PLAN_TOKENIZER_FILE,
    },
    trainer: config,
    totalSteps: batchPlan.totalSteps,
    microStepsPerEpoch: batchPlan.microStepsPerEpoch,
    updatesPerEpoch: batchPlan.updatesPerEpoch,
    evaluationPrefix,
    answerRule: answerRuleFor(task),
    train: batchPlan.rows,
    epochs: batchPlan.epochs,
    validation: evaluationRows(validation),
    test: evaluationRows(test),
  };
  return { plan, tokenizerJson };
}

/**
 * Every epoch trainStudent starts (makeBatches(seed, epoch) for epoch 0, 1, ... until totalSteps updates), as row
 * positions, and each row's encodings read back from those batches (padding removed). A row must encode the same way
 * in every batch it is in; the plan is refused otherwise.
 */
export function planEpochs(
  examples: readonly StudentExample[],
  tokenizer: T5Tokenizer,
  config: TrainerConfig,
): { rows: PlannedTrainRow[]; epochs: PlannedBatch[][][]; totalSteps: number; microStepsPerEpoch: number; updatesPerEpoch: number } {
  const positionOf = new Map<number, number>();
  examples.forEach((example, position) => {
    if (positionOf.has(example.index)) throw new ZsdError('internal', `train row ${example.index} appears twice; the plan names rows by their index`);
    positionOf.set(example.index, position);
  });
  const rows: (PlannedTrainRow | undefined)[] = new Array(examples.length);
  const batchOptions = (epoch: number) => ({
    batchSize: config.batchSize,
    maxInputLength: config.maxInputLength,
    maxTargetLength: config.maxTargetLength,
    seed: config.seed,
    epoch,
    bucketByLength: config.bucketByLength,
    mode: config.mode,
    dropMissingRationales: config.dropMissingRationales,
  });
  const first = makeBatches(examples, tokenizer, batchOptions(0));
  const microStepsPerEpoch = first.length;
  const updatesPerEpoch = Math.ceil(microStepsPerEpoch / config.gradientAccumulationSteps);
  const totalSteps = config.maxSteps ?? (config.epochs as number) * updatesPerEpoch;
  const epochCount = Math.ceil(totalSteps / updatesPerEpoch);
  const epochs: PlannedBatch[][][] = [];
  for (let epoch = 0; epoch < epochCount; epoch++) {
    const steps = epoch === 0 ? first : makeBatches(examples, tokenizer, batchOptions(epoch));
    epochs.push(
      steps.map((step) => {
        const coefficients = lossCoefficients(step, config.alpha);
        return step.map((batch, index): PlannedBatch => {
          const positions = batch.rows.map((row) => positionOf.get(row) as number);
          positions.forEach((position, at) => recordRow(rows, examples, position, batch, at, epoch));
          return { task: batch.task, ...(batch.source === undefined ? {} : { source: batch.source }), coefficient: coefficients[index], rows: positions };
        });
      }),
    );
  }
  const missing = rows.findIndex((row) => row === undefined);
  if (missing >= 0) throw new ZsdError('internal', `train row ${examples[missing].index} is in no batch of epoch 0`);
  return { rows: rows as PlannedTrainRow[], epochs, totalSteps, microStepsPerEpoch, updatesPerEpoch };
}

function recordRow(
  rows: (PlannedTrainRow | undefined)[],
  examples: readonly StudentExample[],
  position: number,
  batch: EncodedBatch,
  at: number,
  epoch: number,
): void {
  const inputIds = batch.inputIds[at].filter((_, column) => batch.attentionMask[at][column] === 1);
  const labels = batch.labels[at].filter((id) => id !== IGNORED_LABEL_ID);
  const row = (rows[position] ??= { index: examples[position].index, predict: { inputIds: [], labels: [] }, explain: {} });
  const slot = batch.task === 'predict' ? row.predict : (row.explain[batch.source as string] ??= { inputIds: [], labels: [] });
  if (slot.inputIds.length === 0) {
    slot.inputIds = inputIds;
    slot.labels = labels;
  } else if (!sameIds(slot.inputIds, inputIds) || !sameIds(slot.labels, labels)) {
    throw new ZsdError('internal', `train row ${row.index} (${batch.task}${batch.source ? ` ${batch.source}` : ''}) encodes differently in epoch ${epoch}`);
  }
}

function sameIds(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((id, i) => id === b[i]);
}

/** As evaluateStudent reads a row: the prefix, the input with the problem's numbers mapped when the run maps them, truncated. */
export function encodeEvaluationRows(
  examples: readonly StudentExample[],
  tokenizer: T5Tokenizer,
  config: TrainerConfig,
  prefix: string,
): PlannedEvaluationRow[] {
  return examples.map((example) => {
    const input = config.numberMapping ? mapNumbers(example.input, numberMappingOf(example.input)) : example.input;
    const inputIds = tokenizer.encodeBatch([prefix + input], { maxLength: config.maxInputLength, truncation: true }).inputIds[0];
    return { index: example.index, input: example.input, goldLabel: example.goldLabel, inputIds };
  });
}

function studentConfig(options: ReferencePlanOptions, taskVocabularySize?: number): { config: T5Config; name: string } {
  const suffix = taskVocabularySize === undefined ? '' : '-task-vocab';
  if (options.config) {
    const config = readT5Config(options.config);
    return {
      config: taskVocabularySize === undefined ? config : { ...config, vocabSize: taskVocabularySize },
      name: path.basename(path.dirname(path.resolve(options.config))) + suffix,
    };
  }
  const name = options.model ?? 't5-efficient-tiny';
  return { config: presetConfig(name, { vocabSize: taskVocabularySize }), name: name + suffix };
}

/** Writes DIR/plan.json and DIR/tokenizer.json, each under a temporary name first. */
export function writeReferencePlan(directory: string, built: BuiltPlan): string {
  fs.mkdirSync(directory, { recursive: true });
  const write = (name: string, text: string) => {
    const file = path.join(directory, name);
    fs.writeFileSync(`${file}.tmp`, text);
    fs.renameSync(`${file}.tmp`, file);
    return file;
  };
  write(PLAN_TOKENIZER_FILE, built.tokenizerJson);
  return write(PLAN_FILE, `${JSON.stringify(built.plan)}\n`);
}

// ---------------------------------------------------------------------------------------------------------------
// Command line

function numberFlag(flag: string, { min, integer = false }: { min: number; integer?: boolean }) {
  return (value: string): number => {
    const parsed = Number(value);
    if (value.trim() === '' || !Number.isFinite(parsed) || parsed < min || (integer && !Number.isInteger(parsed))) {
      throw new InvalidArgumentError(`${flag} expects ${integer ? 'an integer' : 'a number'} >= ${min}, got "${value}"`);
    }
    return parsed;
  };
}

function parseWeights(value: string): Map<string, number> {
  const weights = new Map<string, number>();
  for (const part of value.split(',')) {
    const match = /^\s*([A-Za-z0-9_-]+)\s*=\s*([^,]+)$/.exec(part);
    const weight = match ? Number(match[2]) : Number.NaN;
    if (!match || !Number.isFinite(weight) || weight < 0)
      throw new InvalidArgumentError(`expected name=weight pairs such as palm=0.5,gpt35=0.5, got "${value}"`);
    weights.set(match[1], weight);
  }
  return weights;
}

/** The command; its defaults are `zsd train`'s. */
export function exportPlanCommand(): Command {
  return new Command('export-plan')
    .description('write plan.json and tokenizer.json for the PyTorch reference trainer (train.py): the student and data `zsd train` would use with these flags')
    .requiredOption('--out <dir>', 'directory for plan.json and tokenizer.json')
    .requiredOption('--task <task>', 'the task')
    .addOption(new Option('--mode <mode>', 'task_prefix or standard').choices(['task_prefix', 'standard']).default('task_prefix'))
    .option('--rationales <names>', 'rationale sources, comma-separated (palm, gpt35, flan, llama)', (value: string) =>
      value
        .split(',')
        .map((name) => name.trim())
        .filter((name) => name !== ''),
    )
    .option('--rationale-weights <weights>', 'weight per source, e.g. palm=0.5,gpt35=0.5', parseWeights)
    .option('--mix <id>', 'prompt mix of the gpt35 rationales')
    .option('--teacher-model <model>', 'the model that wrote the gpt35 rationales', STUDY_MODEL)
    .addOption(new Option('--label-source <source>', 'gold or teacher labels').choices(['gold', 'teacher']).default('gold'))
    .option('--subsample <fraction>', 'fraction of the train split', numberFlag('--subsample', { min: 0 }), 1)
    .option('--drop-missing-rationales', 'leave rows without a rationale out of the rationale loss')
    .option('--number-mapping', "the problem's numbers as n0, n1, ... (equation tasks)")
    .option('--label-smoothing <epsilon>', 'label smoothing of the training loss', numberFlag('--label-smoothing', { min: 0 }), 0)
    .option('--no-group-by-length', 'random batches instead of batches of similar input lengths')
    .option('--model <name>', 'random init of a named size')
    .option('--config <file>', 'random init from a Hugging Face config.json')
    .addOption(new Option('--vocabulary <kind>', 'full or task').choices(['full', 'task']).default('full'))
    .option('--alpha <a>', 'weight of the label loss', numberFlag('--alpha', { min: 0 }), 0.5)
    .addOption(new Option('--optimizer <name>', 'adamw (the only one the reference runs)').choices(['adamw']).default('adamw'))
    .option('--lr <rate>', 'learning rate', numberFlag('--lr', { min: 0 }), 5e-5)
    .addOption(new Option('--schedule <kind>', 'learning-rate schedule after warm-up').choices(['linear', 'constant', 'cosine']).default('linear'))
    .option('--warmup-steps <n>', 'linear warm-up updates', numberFlag('--warmup-steps', { min: 0, integer: true }), 0)
    .option('--batch-size <n>', 'examples per micro-step', numberFlag('--batch-size', { min: 1, integer: true }), 8)
    .option('--grad-accum <n>', 'micro-steps per update', numberFlag('--grad-accum', { min: 1, integer: true }), 1)
    .option('--max-input-length <n>', 'input tokens', numberFlag('--max-input-length', { min: 2, integer: true }), 1024)
    .option('--max-target-length <n>', 'target tokens', numberFlag('--max-target-length', { min: 2, integer: true }), 256)
    .option('--max-steps <n>', 'optimizer updates (or --epochs)', numberFlag('--max-steps', { min: 1, integer: true }))
    .option('--epochs <n>', 'passes over the train split', numberFlag('--epochs', { min: 1, integer: true }))
    .option('--eval-steps <n>', 'evaluate on validation every n updates (and at the end)', numberFlag('--eval-steps', { min: 1, integer: true }))
    .option('--eval-max-new-tokens <n>', 'tokens generated per answer', numberFlag('--eval-max-new-tokens', { min: 1, integer: true }), 64)
    .option('--eval-num-beams <n>', 'beam width of the test answers', numberFlag('--eval-num-beams', { min: 1, integer: true }), 1)
    .option('--seed <n>', 'seed of init, dropout, batches and subsample', numberFlag('--seed', { min: 0, integer: true }), 0)
    .option('--data <dir>', 'data root (default: $ZSD_DATA or ../shared/data)')
    .option('--workspace <dir>', 'workspace with the gpt35 rationales of `zsd generate` (default: current directory)');
}

if (require.main === module) {
  const command = exportPlanCommand().action((options: ReferencePlanOptions & { out: string }) => {
    const built = buildReferencePlan(options);
    const file = writeReferencePlan(options.out, built);
    const { plan } = built;
    process.stdout.write(
      `${file}: ${plan.arm}, seed ${plan.seed}, vocabulary ${plan.vocabulary.size}, ${plan.train.length} train / ${plan.validation.length} validation / ${plan.test.length} test rows, ` +
        `${plan.epochs.length} epochs of ${plan.microStepsPerEpoch} micro-steps, ${plan.totalSteps} updates\n`,
    );
  });
  command.parseAsync(process.argv).catch((error: unknown) => {
    process.stderr.write(`export-plan: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  });
}
