/**
 * The student's training loop: distilling step-by-step's multi-task objective, as transformers' Trainer runs it.
 *
 * One update ("step", as Trainer counts them) = `gradientAccumulationSteps` micro-steps; a micro-step is one entry
 * of makeBatches' epoch (the predict batch and, in task_prefix mode, an explain batch per rationale source). The
 * loss of a micro-step is
 *     loss = alpha * label loss + (1 - alpha) * sum_s w_s * rationale loss_s   (w normalised to sum 1)
 * (lossCoefficients); in standard mode there are only predict batches and the loss is the label loss. Gradients of
 * the micro-steps of an update are averaged, optionally clipped by their global norm (torch's clip_grad_norm_),
 * then the optimizer applies them with the scheduled learning rate. An epoch whose micro-steps do not divide by the
 * accumulation ends in a shorter update (averaged over its own micro-steps).
 *
 * Invariants (trainer README material; each has a test in trainer.test.ts):
 * - Determinism: batch order is makeBatches(seed, epoch); dropout masks are seeded per batch from (seed, micro-step,
 *   batch of the step), so a step's randomness does not depend on what ran before it in this process.
 * - Resume: a checkpoint is written only between updates and holds the model, the optimizer state, the position
 *   (epoch, micro-step in the epoch), the best-so-far and early-stopping counters and the open logging window.
 *   Resuming from it gives the same next batch, the same losses and the same parameters as not stopping.
 * - Atomic checkpoints: a checkpoint directory is written under a temporary name and renamed; `checkpoints.json`
 *   (written atomically) names the latest and the best; other checkpoint directories are then removed.
 * - Model selection: on validation accuracy only (strictly better replaces the best); the test split is evaluated
 *   once, at the end, with the selected weights. Early stopping counts evaluations without improvement.
 * - No tensor leaks: the number of live tensors is the same after every update (parameters + optimizer slots).
 *
 * The gradient computation sits behind GradientEngine, so that a data-parallel engine (worker threads, each with a
 * replica, their gradients summed into the accumulator) can replace the single-threaded one.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { ZsdError } from '../core/errors';
import { writeFileAtomic } from '../core/paths';
import { pythonStrip } from '../core/python';
import { equationsAgree } from '../evaluate/equation';
import {
  clipGradientsByGlobalNorm,
  createOptimizer,
  learningRateAt,
  loadOptimizerState,
  saveOptimizerState,
  SCHEDULE_KINDS,
  type Optimizer,
  type OptimizerConfig,
  type ScheduleKind,
} from './optimizers';
import { readCheckpointTensors, type HostTensor } from './safetensors';
import { t5ConfigToJson, readT5Config } from './t5-config';
import { generate } from './t5-generate';
import { IGNORE_INDEX, type T5Model } from './t5-model';
import { checkpointParameters, CONFIG_FILE, saveT5Model } from './t5-weights';
import type { T5Tokenizer } from './tokenizer';
import type { EvalEntry, Prediction, RunResultsWriter, TestResult, TrainLogEntry } from './train-results';
import { defaultTaskPrefixes, makeBatches, type EncodedBatch, type StudentExample } from './training-data';
import { mapNumbers, mapStudentExample, numberMappingOf, unmapNumbers } from './number-mapping';

// ---------------------------------------------------------------------------------------------------------------
// The loss of one micro-step

/**
 * The factor of each batch's mean token cross-entropy in the micro-step's loss: alpha for the predict batch and
 * (1 - alpha) * w_s / sum(w) for the explain batches present (weight 1 each when not given), or 1 for the predict
 * batch when there is no explain batch (standard mode, or a step where every rationale was dropped). Renormalising
 * over the sources present mirrors the per-token mean inside a batch: a source missing from a step does not shrink
 * the rationale term.
 */
export function lossCoefficients(batches: readonly Pick<EncodedBatch, 'task' | 'weight'>[], alpha: number): number[] {
  if (!(alpha >= 0 && alpha <= 1)) throw new ZsdError('usage', `alpha must be in [0, 1], got ${alpha}`, { key: 'alpha' });
  const shares = rationaleShares(batches);
  if (shares === null) return batches.map(() => 1);
  return batches.map((batch, i) => (batch.task === 'predict' ? alpha : (1 - alpha) * shares[i]));
}

/** w_s / sum(w) for each explain batch (0 for the predict batch), or null when the step has no explain batch. */
export function rationaleShares(batches: readonly Pick<EncodedBatch, 'task' | 'weight'>[]): number[] | null {
  const predict = batches.filter((batch) => batch.task === 'predict').length;
  if (predict !== 1) throw new ZsdError('internal', `a training step needs exactly one predict batch, got ${predict}`);
  if (!batches.some((batch) => batch.task === 'explain')) return null;
  const weights = batches.map((batch) => (batch.task === 'explain' ? batch.weight ?? 1 : 0));
  if (weights.some((weight) => !(weight >= 0) || !Number.isFinite(weight))) {
    throw new ZsdError('usage', `rationale weights must be finite and >= 0, got ${weights.filter((_, i) => batches[i].task === 'explain').join(', ')}`);
  }
  const total = weights.reduce((sum, weight) => sum + weight, 0);
  if (!(total > 0)) throw new ZsdError('usage', 'the rationale weights of a step sum to 0; they must sum to a positive number');
  return weights.map((weight) => weight / total);
}

/** Non-padding input tokens plus label tokens the loss counts. */
export function batchTokens(batch: EncodedBatch): number {
  let tokens = 0;
  for (const row of batch.attentionMask) for (const mask of row) tokens += mask;
  for (const row of batch.labels) for (const label of row) if (label !== IGNORE_INDEX) tokens++;
  return tokens;
}

function labelTokens(batch: EncodedBatch): number {
  let tokens = 0;
  for (const row of batch.labels) for (const label of row) if (label !== IGNORE_INDEX) tokens++;
  return tokens;
}

// ---------------------------------------------------------------------------------------------------------------
// Gradients

/**
 * Sums of gradients by parameter name, between optimizer updates. `add` takes ownership of the tensor it is given.
 * A data-parallel engine adds each worker's gradients (addHost for arrays that come back from a worker).
 */
export class GradientAccumulator {
  private readonly sums = new Map<string, tf.Tensor>();

  add(name: string, gradient: tf.Tensor): void {
    const previous = this.sums.get(name);
    if (previous === undefined) {
      this.sums.set(name, gradient);
      return;
    }
    this.sums.set(name, tf.add(previous, gradient));
    previous.dispose();
    gradient.dispose();
  }

  addHost(name: string, data: Float32Array, shape: number[]): void {
    this.add(name, tf.tensor(data, shape, 'float32'));
  }

  get size(): number {
    return this.sums.size;
  }

  /** The sums, handed over to the caller (who disposes them); the accumulator is empty afterwards. */
  take(): Map<string, tf.Tensor> {
    const taken = new Map(this.sums);
    this.sums.clear();
    return taken;
  }

  dispose(): void {
    for (const tensor of this.sums.values()) tensor.dispose();
    this.sums.clear();
  }
}

export interface MicroStepOptions {
  alpha: number;
  /** multiplies the loss before differentiation (1 / micro-steps of the update) */
  scale: number;
  /** the dropout seed of each batch of the step, in batch order */
  dropoutSeeds: readonly number[];
}

export interface MicroStepLoss {
  /** the step's loss (unscaled): sum of coefficient * batch loss */
  loss: number;
  labelLoss: number;
  /** the weighted rationale term, sum_s w_s loss_s (normalised weights); null without explain batches */
  rationaleLoss: number | null;
  /** per explain batch's source (or "explain"), its mean token cross-entropy */
  rationaleLosses: Record<string, number>;
  /** non-padding input tokens plus counted label tokens */
  tokens: number;
}

/**
 * Computes one micro-step: forward and backward over its batches in training mode, adding
 * scale * d(loss)/d(parameter) to `into`. The parameters are the model's; after an optimizer update (or a
 * checkpoint load) `parametersChanged` is awaited, for engines that hold replicas.
 */
export interface GradientEngine {
  step(batches: readonly EncodedBatch[], options: MicroStepOptions, into: GradientAccumulator): Promise<MicroStepLoss>;
  parametersChanged?(): Promise<void>;
  dispose?(): void;
}

/** The single-threaded engine: one backward pass per batch (lower peak memory than one graph for the whole step). */
export class LocalGradientEngine implements GradientEngine {
  private readonly namesByVariable: Map<string, string>;

  constructor(private readonly model: T5Model) {
    this.namesByVariable = new Map([...model.parameters].map(([name, variable]) => [variable.name, name]));
  }

  async step(batches: readonly EncodedBatch[], options: MicroStepOptions, into: GradientAccumulator): Promise<MicroStepLoss> {
    const coefficients = lossCoefficients(batches, options.alpha);
    const shares = rationaleShares(batches);
    if (options.dropoutSeeds.length !== batches.length) throw new ZsdError('internal', 'one dropout seed per batch is needed');
    const variables = this.model.trainableVariables();
    const batchLosses: number[] = [];
    for (const [index, batch] of batches.entries()) {
      // an explain batch without label tokens contributes 0 (its mean is undefined)
      let batchLoss = 0;
      if (labelTokens(batch) > 0) {
        this.model.seedDropout(options.dropoutSeeds[index]);
        const lossOf = () =>
          this.model.lossFn(
            {
              inputIds: tf.tensor2d(batch.inputIds, undefined, 'int32'),
              attentionMask: tf.tensor2d(batch.attentionMask, undefined, 'int32'),
              labels: tf.tensor2d(batch.labels, undefined, 'int32'),
            },
            { training: true },
          );
        const factor = coefficients[index] * options.scale;
        if (factor === 0) {
          batchLoss = tf.tidy(() => lossOf().dataSync()[0]); // reported, not differentiated
        } else {
          const { value, grads } = tf.variableGrads(() => {
            const loss = lossOf();
            batchLoss = loss.dataSync()[0];
            return tf.mul(loss, factor) as tf.Scalar;
          }, variables);
          value.dispose();
          for (const [variableName, gradient] of Object.entries(grads)) {
            const name = this.namesByVariable.get(variableName);
            if (name === undefined) {
              gradient.dispose();
              throw new ZsdError('internal', `gradient for variable ${variableName}, which is not a model parameter`);
            }
            into.add(name, gradient);
          }
        }
      }
      batchLosses.push(batchLoss);
    }
    return microStepLoss(batches, coefficients, shares, batchLosses);
  }
}

/** What a micro-step reports, from each batch's mean loss (0 for a batch without label tokens); every engine uses it. */
export function microStepLoss(
  batches: readonly EncodedBatch[],
  coefficients: readonly number[],
  shares: readonly number[] | null,
  batchLosses: readonly number[],
): MicroStepLoss {
  const result: MicroStepLoss = { loss: 0, labelLoss: 0, rationaleLoss: shares === null ? null : 0, rationaleLosses: {}, tokens: 0 };
  for (const [index, batch] of batches.entries()) {
    const batchLoss = batchLosses[index];
    result.tokens += batchTokens(batch);
    result.loss += coefficients[index] * batchLoss;
    if (batch.task === 'predict') result.labelLoss = batchLoss;
    else {
      result.rationaleLosses[batch.source ?? `explain-${index}`] = batchLoss;
      result.rationaleLoss = (result.rationaleLoss as number) + (shares as number[])[index] * batchLoss;
    }
  }
  return result;
}

/** A 31-bit seed for one batch's dropout masks, from the run seed, the micro-step and the batch's place in it. */
export function dropoutSeedFor(seed: number, microStep: number, batch: number): number {
  let hash = 0x811c9dc5;
  for (const value of [seed, microStep, batch]) {
    // FNV-1a over the 32-bit halves, then a murmur3 finaliser
    for (const word of [value >>> 0, Math.floor(value / 2 ** 32) >>> 0]) {
      hash = Math.imul(hash ^ word, 0x01000193);
    }
  }
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 1;
}

// ---------------------------------------------------------------------------------------------------------------
// Accuracy

export type AnswerRule = 'exact-match' | 'equation';

/** svamp answers are equations compared by value; every other task's labels by exact match after strip. */
export function answerRuleFor(task: string): AnswerRule {
  return task === 'svamp' ? 'equation' : 'exact-match';
}

export function answerIsCorrect(rule: AnswerRule, prediction: string, label: string): boolean {
  return rule === 'equation' ? equationsAgree(prediction, label) : pythonStrip(prediction) === pythonStrip(label);
}

export interface EvaluationOptions {
  rule: AnswerRule;
  /** map the problem's numbers to n0, n1, ... in the input and put them back into the prediction (number-mapping.ts) */
  numberMapping?: boolean;
  /** beam search width; default 1 (greedy) */
  numBeams?: number;
  /** put before each input: "predict: " in task_prefix mode, "" in standard mode */
  inputPrefix: string;
  batchSize: number;
  maxInputLength: number;
  maxNewTokens: number;
}

export interface EvaluationResult {
  accuracy: number;
  predictions: Prediction[];
}

/**
 * Greedy-decodes the predict input of each example and compares with its gold label (never a teacher label).
 * Inputs are batched by length (fewer pad tokens); predictions come back in example order. Decoding skips special
 * tokens and cleans up tokenization spaces, as transformers' batch_decode for T5 did in the study.
 */
export function evaluateStudent(model: T5Model, tokenizer: T5Tokenizer, examples: readonly StudentExample[], options: EvaluationOptions): EvaluationResult {
  if (examples.length === 0) return { accuracy: 0, predictions: [] };
  const mappings = examples.map((example) => (options.numberMapping ? numberMappingOf(example.input) : null));
  const modelInput = (example: StudentExample, index: number) => (mappings[index] === null ? example.input : mapNumbers(example.input, mappings[index]!));
  const encoded = examples.map((example, index) => tokenizer.encodeBatch([options.inputPrefix + modelInput(example, index)], { maxLength: options.maxInputLength, truncation: true }).inputIds[0]);
  const order = examples.map((_, index) => index).sort((a, b) => encoded[a].length - encoded[b].length || a - b);
  const texts = new Array<string>(examples.length);
  for (let start = 0; start < order.length; start += options.batchSize) {
    const members = order.slice(start, start + options.batchSize);
    const length = Math.max(...members.map((index) => encoded[index].length));
    const inputIds = members.map((index) => [...encoded[index], ...new Array<number>(length - encoded[index].length).fill(tokenizer.padId)]);
    const attentionMask = members.map((index) => encoded[index].map(() => 1).concat(new Array<number>(length - encoded[index].length).fill(0)));
    const sequences = generate(model, { inputIds, attentionMask }, { maxNewTokens: options.maxNewTokens, numBeams: options.numBeams ?? 1 });
    members.forEach((index, row) => {
      texts[index] = tokenizer.decode(sequences[row], { skipSpecialTokens: true, cleanUpTokenizationSpaces: true });
    });
  }
  const predictions = examples.map((example, index): Prediction => {
    const mapping = mappings[index];
    // with number mapping the model wrote placeholders: the prediction is the answer with the numbers put back
    const prediction = mapping === null ? texts[index] : unmapNumbers(texts[index], mapping);
    return {
      index: example.index,
      input: example.input,
      label: example.goldLabel,
      prediction,
      ...(mapping === null ? {} : { modelOutput: texts[index] }),
      correct: answerIsCorrect(options.rule, prediction, example.goldLabel),
    };
  });
  return { accuracy: predictions.filter((prediction) => prediction.correct).length / predictions.length, predictions };
}

// ---------------------------------------------------------------------------------------------------------------
// Configuration

export interface TrainerConfig {
  /** the task name (svamp: answers compared as equations) */
  task: string;
  mode: 'standard' | 'task_prefix';
  /** weight of the label loss; default 0.5 */
  alpha: number;
  /** examples per micro-step */
  batchSize: number;
  /** micro-steps per update; default 1 */
  gradientAccumulationSteps: number;
  maxInputLength: number;
  /** default 256 (dsbs) */
  maxTargetLength: number;
  /** default true */
  bucketByLength: boolean;
  /** leave rows without a rationale out of the explain batch instead of training on an empty target; default false */
  dropMissingRationales: boolean;
  /**
   * Number mapping (number-mapping.ts) for tasks whose labels are equations: inputs, labels and rationales with the
   * problem's numbers as n0, n1, ...; predictions get the numbers back before they are scored. Default false.
   */
  numberMapping: boolean;
  optimizer: OptimizerConfig;
  /** the base learning rate of the schedule (Adafactor with relative steps ignores it) */
  learningRate: number;
  /** default linear decay without warm-up (transformers' Trainer default) */
  schedule: { kind: ScheduleKind; warmupSteps: number; cycles?: number };
  /** exactly one of maxSteps and epochs; the other null */
  maxSteps: number | null;
  epochs: number | null;
  /** clip the global gradient norm to this; null: no clipping. Default 1.0 (Trainer's max_grad_norm) */
  maxGradNorm: number | null;
  /** evaluate on the validation split every this many updates (and after the last); null: only after the last */
  evalSteps: number | null;
  evalBatchSize: number;
  evalMaxNewTokens: number;
  /** beam width of the test evaluation of the selected checkpoint (validation during training stays greedy); default 1 */
  testNumBeams: number;
  /** stop after this many evaluations in a row without a better validation accuracy; null: never */
  earlyStoppingPatience: number | null;
  /** a train.json entry every this many updates */
  logSteps: number;
  /** also checkpoint every this many updates (evaluations always checkpoint); null: only at evaluations and the end */
  checkpointSteps: number | null;
  seed: number;
}

export type TrainerConfigInput = Pick<TrainerConfig, 'task' | 'mode' | 'batchSize' | 'maxInputLength' | 'seed'> &
  Partial<Omit<TrainerConfig, 'task' | 'mode' | 'batchSize' | 'maxInputLength' | 'seed'>>;

/** Fills defaults (dsbs / transformers Trainer values) and checks every field, naming the bad one. */
export function resolveTrainerConfig(input: TrainerConfigInput): TrainerConfig {
  const config: TrainerConfig = {
    task: input.task,
    mode: input.mode,
    alpha: input.alpha ?? 0.5,
    batchSize: input.batchSize,
    gradientAccumulationSteps: input.gradientAccumulationSteps ?? 1,
    maxInputLength: input.maxInputLength,
    maxTargetLength: input.maxTargetLength ?? 256,
    bucketByLength: input.bucketByLength ?? true,
    dropMissingRationales: input.dropMissingRationales ?? false,
    numberMapping: input.numberMapping ?? false,
    optimizer: input.optimizer ?? { kind: 'adamw', weightDecay: 0 },
    learningRate: input.learningRate ?? 5e-5,
    schedule: input.schedule ?? { kind: 'linear', warmupSteps: 0 },
    maxSteps: input.maxSteps ?? null,
    epochs: input.epochs ?? null,
    maxGradNorm: input.maxGradNorm === undefined ? 1.0 : input.maxGradNorm,
    evalSteps: input.evalSteps ?? null,
    evalBatchSize: input.evalBatchSize ?? 32,
    evalMaxNewTokens: input.evalMaxNewTokens ?? 64,
    testNumBeams: input.testNumBeams ?? 1,
    earlyStoppingPatience: input.earlyStoppingPatience ?? null,
    logSteps: input.logSteps ?? 10,
    checkpointSteps: input.checkpointSteps ?? null,
    seed: input.seed,
  };
  const positiveInteger = (key: string, value: number | null, nullable = false) => {
    if (value === null && nullable) return;
    if (!Number.isSafeInteger(value) || (value as number) < 1) throw new ZsdError('usage', `${key} must be a positive integer${nullable ? ' or null' : ''}, got ${String(value)}`, { key });
  };
  if (config.mode !== 'standard' && config.mode !== 'task_prefix') throw new ZsdError('usage', `unknown mode "${String(config.mode)}"; expected standard or task_prefix`, { key: 'mode' });
  if (config.numberMapping && answerRuleFor(config.task) !== 'equation') {
    throw new ZsdError('usage', `number mapping is for tasks whose labels are equations (svamp), not ${config.task}`, { key: 'numberMapping' });
  }
  if (!(config.alpha >= 0 && config.alpha <= 1)) throw new ZsdError('usage', `alpha must be in [0, 1], got ${config.alpha}`, { key: 'alpha' });
  positiveInteger('batchSize', config.batchSize);
  positiveInteger('gradientAccumulationSteps', config.gradientAccumulationSteps);
  positiveInteger('maxInputLength', config.maxInputLength);
  positiveInteger('maxTargetLength', config.maxTargetLength);
  positiveInteger('maxSteps', config.maxSteps, true);
  positiveInteger('epochs', config.epochs, true);
  if ((config.maxSteps === null) === (config.epochs === null)) throw new ZsdError('usage', 'give exactly one of maxSteps and epochs', { key: 'maxSteps' });
  positiveInteger('evalSteps', config.evalSteps, true);
  positiveInteger('evalBatchSize', config.evalBatchSize);
  positiveInteger('evalMaxNewTokens', config.evalMaxNewTokens);
  positiveInteger('testNumBeams', config.testNumBeams);
  positiveInteger('earlyStoppingPatience', config.earlyStoppingPatience, true);
  positiveInteger('logSteps', config.logSteps);
  positiveInteger('checkpointSteps', config.checkpointSteps, true);
  if (!(config.learningRate >= 0) || !Number.isFinite(config.learningRate)) throw new ZsdError('usage', `learningRate must be a finite number >= 0, got ${config.learningRate}`, { key: 'learningRate' });
  if (config.maxGradNorm !== null && !(config.maxGradNorm > 0)) throw new ZsdError('usage', `maxGradNorm must be > 0 or null, got ${config.maxGradNorm}`, { key: 'maxGradNorm' });
  if (!SCHEDULE_KINDS.includes(config.schedule.kind)) throw new ZsdError('usage', `unknown schedule "${String(config.schedule.kind)}"; expected ${SCHEDULE_KINDS.join(', ')}`, { key: 'schedule.kind' });
  if (!Number.isSafeInteger(config.schedule.warmupSteps) || config.schedule.warmupSteps < 0) throw new ZsdError('usage', `schedule.warmupSteps must be an integer >= 0, got ${config.schedule.warmupSteps}`, { key: 'schedule.warmupSteps' });
  if (!Number.isSafeInteger(config.seed) || config.seed < 0) throw new ZsdError('usage', `seed must be an integer >= 0, got ${config.seed}`, { key: 'seed' });
  return config;
}

// ---------------------------------------------------------------------------------------------------------------
// Checkpoints

export const CHECKPOINTS_INDEX_FILE = 'checkpoints.json';
export const TRAINER_STATE_FILE = 'trainer-state.json';
/** A checkpoint's own vocabulary, where the student has one (`zsd predict` reads it from the checkpoint). */
export const TOKENIZER_FILE = 'tokenizer.json';

/**
 * How a checkpoint's inputs are prepared, so that `zsd predict` on the checkpoint does what evaluation did:
 * the task prefix and number mapping.
 */
export const PREPROCESSING_FILE = 'preprocessing.json';

export interface CheckpointPreprocessing {
  formatVersion: 1;
  task: string;
  inputPrefix: string;
  numberMapping: boolean;
}

export function checkpointPreprocessing(config: TrainerConfig): CheckpointPreprocessing {
  return { formatVersion: 1, task: config.task, inputPrefix: config.mode === 'standard' ? '' : defaultTaskPrefixes([]).predict, numberMapping: config.numberMapping };
}

/** A checkpoint's preprocessing.json, or null where it has none (a Hugging Face checkpoint, an older zsd one). */
export function readCheckpointPreprocessing(checkpoint: string): CheckpointPreprocessing | null {
  const file = path.join(checkpoint, PREPROCESSING_FILE);
  if (!fs.existsSync(file)) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ZsdError('invalid-file', `not JSON: ${error instanceof Error ? error.message : String(error)}`, { file });
  }
  const value = parsed as Partial<CheckpointPreprocessing>;
  if (value.formatVersion !== 1 || typeof value.inputPrefix !== 'string' || typeof value.numberMapping !== 'boolean') {
    throw new ZsdError('invalid-file', 'expected {"formatVersion": 1, "task", "inputPrefix": string, "numberMapping": boolean}', { file });
  }
  return value as CheckpointPreprocessing;
}

/** What, besides model and optimizer, a checkpoint holds to continue exactly. */
export interface TrainerProgressState {
  /** updates done */
  step: number;
  /** the epoch the next micro-step belongs to, and how many of its micro-steps are done */
  epoch: number;
  microStepInEpoch: number;
  /** micro-steps done in the whole run (dropout seeds) */
  microStep: number;
  best: { step: number; accuracy: number } | null;
  evaluationsWithoutImprovement: number;
  lastEvaluatedStep: number | null;
  stopReason: StopReason | null;
  elapsedSeconds: number;
  /** the updates since the last train.json entry */
  logWindow: LogWindow;
}

interface LogWindow {
  updates: number;
  loss: number;
  labelLoss: number;
  rationaleLoss: number;
  hasRationale: boolean;
  gradientNorm: number;
  tokens: number;
  seconds: number;
}

interface TrainerStateFile {
  formatVersion: 1;
  config: TrainerConfig;
  progress: TrainerProgressState;
}

interface CheckpointIndex {
  formatVersion: 1;
  latest: string;
  best: string | null;
}

function checkpointName(step: number): string {
  return `step-${String(step).padStart(6, '0')}`;
}

function readCheckpointIndex(directory: string): CheckpointIndex | null {
  const file = path.join(directory, CHECKPOINTS_INDEX_FILE);
  if (!fs.existsSync(file)) return null;
  let index: Partial<CheckpointIndex>;
  try {
    index = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ZsdError('invalid-file', `cannot read the checkpoint index: ${(error as Error).message}`, { file });
  }
  if (index.formatVersion !== 1 || typeof index.latest !== 'string' || !(index.best === null || typeof index.best === 'string')) {
    throw new ZsdError('invalid-file', 'expected {"formatVersion": 1, "latest": "<dir>", "best": "<dir>" | null}', { file });
  }
  return index as CheckpointIndex;
}

/**
 * Writes model, optimizer and trainer state as `<directory>/step-NNNNNN/` (temporary name, then rename), points
 * checkpoints.json at it (and at the best one), then removes checkpoint directories nothing points at.
 */
function writeCheckpoint(directory: string, model: T5Model, optimizer: Optimizer, state: TrainerStateFile, bestStep: number | null, tokenizerJson?: string): void {
  fs.mkdirSync(directory, { recursive: true });
  const name = checkpointName(state.progress.step);
  const final = path.join(directory, name);
  const previous = readCheckpointIndex(directory);
  const temporary = path.join(directory, `${name}.tmp-${process.pid}`);
  fs.rmSync(temporary, { recursive: true, force: true });
  saveT5Model(model, temporary);
  saveOptimizerState(temporary, optimizer.state());
  writeFileAtomic(path.join(temporary, TRAINER_STATE_FILE), `${JSON.stringify(state, null, 2)}\n`);
  if (tokenizerJson !== undefined) writeFileAtomic(path.join(temporary, TOKENIZER_FILE), tokenizerJson);
  writeFileAtomic(path.join(temporary, PREPROCESSING_FILE), `${JSON.stringify(checkpointPreprocessing(state.config), null, 2)}\n`);
  if (fs.existsSync(final)) {
    if (previous?.latest === name || previous?.best === name) {
      // the same step again (a resumed run that checkpoints where it resumed): the content is the same; keep it
      fs.rmSync(temporary, { recursive: true, force: true });
    } else {
      fs.rmSync(final, { recursive: true, force: true });
      fs.renameSync(temporary, final);
    }
  } else {
    fs.renameSync(temporary, final);
  }
  const index: CheckpointIndex = { formatVersion: 1, latest: name, best: bestStep === null ? null : checkpointName(bestStep) };
  writeFileAtomic(path.join(directory, CHECKPOINTS_INDEX_FILE), `${JSON.stringify(index, null, 2)}\n`);
  for (const entry of fs.readdirSync(directory, { withFileTypes: true })) {
    if (!entry.isDirectory() || !entry.name.startsWith('step-')) continue;
    if (entry.name !== index.latest && entry.name !== index.best) fs.rmSync(path.join(directory, entry.name), { recursive: true, force: true });
  }
}

/** Copies a checkpoint's weights into the model's variables (the config must be the model's). */
function loadWeightsInto(model: T5Model, checkpoint: string): void {
  const configFile = path.join(checkpoint, CONFIG_FILE);
  const saved = JSON.stringify(t5ConfigToJson(readT5Config(configFile)));
  if (saved !== JSON.stringify(t5ConfigToJson(model.config))) {
    throw new ZsdError('invalid-file', "the checkpoint's model config differs from the model being trained", { file: configFile });
  }
  const { tensors, files } = readCheckpointTensors(checkpoint);
  assignWeights(model, checkpointParameters(model.config, tensors, files[0] ?? checkpoint));
}

function assignWeights(model: T5Model, tensors: ReadonlyMap<string, HostTensor>): void {
  for (const [name, variable] of model.parameters) {
    const host = tensors.get(name);
    if (host === undefined) throw new ZsdError('internal', `no saved value for ${name}`);
    const value = tf.tensor(host.data, host.shape, 'float32');
    variable.assign(value);
    value.dispose();
  }
}

function readTrainerState(checkpoint: string): TrainerStateFile {
  const file = path.join(checkpoint, TRAINER_STATE_FILE);
  let state: Partial<TrainerStateFile>;
  try {
    state = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ZsdError('invalid-file', `cannot read the trainer state: ${(error as Error).message}`, { file });
  }
  if (state.formatVersion !== 1 || typeof state.config !== 'object' || typeof state.progress !== 'object') {
    throw new ZsdError('invalid-file', 'expected {"formatVersion": 1, "config": {...}, "progress": {...}}', { file });
  }
  return state as TrainerStateFile;
}

/** The checkpoint directory holding the best weights (else the latest) of a checkpoints directory, or null. */
export function selectedCheckpoint(directory: string): string | null {
  const index = readCheckpointIndex(directory);
  if (index === null) return null;
  return path.join(directory, index.best ?? index.latest);
}

// ---------------------------------------------------------------------------------------------------------------
// The loop

export type StopReason = 'completed' | 'early-stopping' | 'interrupted';

export interface TrainProgress {
  step: number;
  totalSteps: number;
  epoch: number;
  loss: number;
  labelLoss: number;
  rationaleLoss: number | null;
  learningRate: number | null;
  tokensPerSecond: number;
  elapsedSeconds: number;
  /** at this session's pace so far (evaluations included) */
  etaSeconds: number;
}

export interface TrainStudentOptions {
  model: T5Model;
  tokenizer: T5Tokenizer;
  train: readonly StudentExample[];
  /** model selection and early stopping; without it the last weights are kept */
  validation?: readonly StudentExample[];
  /** evaluated once, at the end, with the selected weights */
  test?: readonly StudentExample[];
  config: TrainerConfig;
  /** default: LocalGradientEngine over the model */
  engine?: GradientEngine;
  /** where checkpoints go (required to resume) */
  checkpointDirectory?: string;
  /** a tokenizer.json (text) saved in every checkpoint, so the checkpoint is self-contained (a task vocabulary) */
  checkpointTokenizerJson?: string;
  /** continue from the latest checkpoint in checkpointDirectory (a fresh start when there is none) */
  resume?: boolean;
  results?: RunResultsWriter;
  onProgress?: (progress: TrainProgress) => void;
  onEvaluation?: (entry: EvalEntry) => void;
  /** stop at the next update boundary, with a checkpoint (SIGINT; tests simulate an interruption with it) */
  signal?: AbortSignal;
}

export interface TrainOutcome {
  stopReason: StopReason;
  /** updates done */
  steps: number;
  totalSteps: number;
  best: { step: number; accuracy: number } | null;
  /** the update count of the weights the model holds at the end (the best, or the last) */
  selectedStep: number;
  train: TrainLogEntry[];
  eval: EvalEntry[];
  test: (TestResult & { predictions: Prediction[] }) | null;
  durationSeconds: number;
}

/**
 * Trains the model in place. At the end the model holds the selected weights: the best by validation accuracy
 * when there was a validation split, else the last ones.
 */
export async function trainStudent(options: TrainStudentOptions): Promise<TrainOutcome> {
  const { model, tokenizer, config } = options;
  const validation = options.validation ?? [];
  if (options.train.length === 0) throw new ZsdError('usage', 'no training examples');
  if (options.resume && options.checkpointDirectory === undefined) throw new ZsdError('usage', 'resuming needs the checkpoint directory');
  const engine: GradientEngine = options.engine ?? new LocalGradientEngine(model);
  const trainExamples = config.numberMapping ? options.train.map(mapStudentExample) : options.train;
  const optimizer = createOptimizer(model.parameters, withTrainerOptimizerDefaults(config.optimizer, model));
  const accumulator = new GradientAccumulator();
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
  let epochBatches = makeBatches(trainExamples, tokenizer, batchOptions(0));
  const microStepsPerEpoch = epochBatches.length;
  const updatesPerEpoch = Math.ceil(microStepsPerEpoch / config.gradientAccumulationSteps);
  const totalSteps = config.maxSteps ?? (config.epochs as number) * updatesPerEpoch;
  const schedule = { ...config.schedule, totalSteps };
  const relativeAdafactor = config.optimizer.kind === 'adafactor' && (config.optimizer.relativeStep ?? true);
  const evaluation: EvaluationOptions = {
    rule: answerRuleFor(config.task),
    inputPrefix: config.mode === 'standard' ? '' : defaultTaskPrefixes([]).predict,
    batchSize: config.evalBatchSize,
    maxInputLength: config.maxInputLength,
    maxNewTokens: config.evalMaxNewTokens,
    numberMapping: config.numberMapping,
  };

  let progress: TrainerProgressState = {
    step: 0,
    epoch: 0,
    microStepInEpoch: 0,
    microStep: 0,
    best: null,
    evaluationsWithoutImprovement: 0,
    lastEvaluatedStep: null,
    stopReason: null,
    elapsedSeconds: 0,
    logWindow: emptyWindow(),
  };
  const trainLog: TrainLogEntry[] = [];
  const evalLog: EvalEntry[] = [];
  let bestWeights: Map<string, HostTensor> | null = null; // without a checkpoint directory

  try {
    // ---- resume
    const index = options.resume ? readCheckpointIndex(options.checkpointDirectory as string) : null;
    if (index !== null) {
      const checkpoint = path.join(options.checkpointDirectory as string, index.latest);
      const saved = readTrainerState(checkpoint);
      // fields added since a checkpoint was written take their defaults
      const difference = configDifference({ numberMapping: false, testNumBeams: 1, ...(saved.config as Partial<TrainerConfig>) } as TrainerConfig, config);
      if (difference !== undefined) throw new ZsdError('usage', `cannot resume ${checkpoint}: it was trained with ${difference}`, { key: difference.split(' ')[0] });
      loadWeightsInto(model, checkpoint);
      optimizer.loadState(loadOptimizerState(checkpoint));
      progress = saved.progress;
      if (progress.epoch !== 0) epochBatches = makeBatches(trainExamples, tokenizer, batchOptions(progress.epoch));
    }
    if (options.results) {
      options.results.rewindTo(progress.step);
      trainLog.push(...options.results.trainEntries());
      evalLog.push(...options.results.evalEntries());
    }
    await engine.parametersChanged?.();

    const sessionStart = Date.now();
    const elapsedAtStart = progress.elapsedSeconds;
    const stepAtStart = progress.step;
    const elapsed = () => elapsedAtStart + (Date.now() - sessionStart) / 1000;

    const checkpoint = () => {
      if (options.checkpointDirectory === undefined) return;
      progress.elapsedSeconds = elapsed();
      writeCheckpoint(options.checkpointDirectory, model, optimizer, { formatVersion: 1, config, progress }, progress.best?.step ?? null, options.checkpointTokenizerJson);
    };

    const evaluate = () => {
      const result = evaluateStudent(model, tokenizer, validation, evaluation);
      const improved = progress.best === null || result.accuracy > progress.best.accuracy;
      if (improved) {
        progress.best = { step: progress.step, accuracy: result.accuracy };
        progress.evaluationsWithoutImprovement = 0;
        if (options.checkpointDirectory === undefined) bestWeights = model.toHostTensors();
      } else {
        progress.evaluationsWithoutImprovement++;
      }
      progress.lastEvaluatedStep = progress.step;
      const entry: EvalEntry = {
        step: progress.step,
        epoch: fractionalEpoch(progress, microStepsPerEpoch),
        accuracy: result.accuracy,
        examples: validation.length,
        bestAccuracy: (progress.best as { accuracy: number }).accuracy,
        bestStep: (progress.best as { step: number }).step,
        elapsedSeconds: elapsed(),
      };
      evalLog.push(entry);
      options.results?.recordEvaluation(entry);
      options.onEvaluation?.(entry);
      if (config.earlyStoppingPatience !== null && progress.evaluationsWithoutImprovement >= config.earlyStoppingPatience) {
        progress.stopReason = 'early-stopping';
      }
    };

    const finish = async (stopReason: StopReason): Promise<TrainOutcome> => {
      const durationSeconds = elapsed();
      let selectedStep = progress.step;
      if (stopReason !== 'interrupted' && progress.best !== null) {
        selectedStep = progress.best.step;
        if (selectedStep !== progress.step) {
          if (options.checkpointDirectory !== undefined) loadWeightsInto(model, selectedCheckpoint(options.checkpointDirectory) as string);
          else assignWeights(model, bestWeights as Map<string, HostTensor>);
          await engine.parametersChanged?.();
        }
      }
      let test: TrainOutcome['test'] = null;
      if (stopReason !== 'interrupted' && options.test !== undefined && options.test.length > 0) {
        const result = evaluateStudent(model, tokenizer, options.test, { ...evaluation, numBeams: config.testNumBeams });
        const testResult: TestResult = {
          step: selectedStep,
          selectedBy: progress.best !== null ? 'validation-accuracy' : 'last-step',
          accuracy: result.accuracy,
          examples: options.test.length,
          evalAccuracy: progress.best?.accuracy ?? null,
          trainSteps: progress.step,
          trainDurationSeconds: durationSeconds,
          stopReason,
        };
        options.results?.recordTest(testResult, result.predictions);
        test = { ...testResult, predictions: result.predictions };
      }
      return { stopReason, steps: progress.step, totalSteps, best: progress.best, selectedStep, train: trainLog, eval: evalLog, test, durationSeconds };
    };

    // ---- updates
    while (progress.stopReason === null && progress.step < totalSteps) {
      if (options.signal?.aborted) {
        checkpoint();
        return await finish('interrupted');
      }
      const updateStart = Date.now();
      const groupStart = Math.floor(progress.microStepInEpoch / config.gradientAccumulationSteps) * config.gradientAccumulationSteps;
      const groupSize = Math.min(config.gradientAccumulationSteps, microStepsPerEpoch - groupStart);
      const update = { loss: 0, labelLoss: 0, rationaleLoss: 0, hasRationale: false, tokens: 0 };
      for (let micro = 0; micro < groupSize; micro++) {
        const batches = epochBatches[progress.microStepInEpoch];
        const seeds = batches.map((_, batch) => dropoutSeedFor(config.seed, progress.microStep, batch));
        const loss = await engine.step(batches, { alpha: config.alpha, scale: 1 / groupSize, dropoutSeeds: seeds }, accumulator);
        update.loss += loss.loss / groupSize;
        update.labelLoss += loss.labelLoss / groupSize;
        if (loss.rationaleLoss !== null) {
          update.rationaleLoss += loss.rationaleLoss / groupSize;
          update.hasRationale = true;
        }
        update.tokens += loss.tokens;
        progress.microStep++;
        progress.microStepInEpoch++;
      }
      let gradients = accumulator.take();
      let gradientNorm: number | null = null;
      if (config.maxGradNorm !== null) {
        const clipped = clipGradientsByGlobalNorm(gradients, config.maxGradNorm);
        for (const [name, tensor] of gradients) if (clipped.gradients.get(name) !== tensor) tensor.dispose();
        gradients = clipped.gradients;
        gradientNorm = clipped.norm;
      }
      const learningRate = learningRateAt(config.learningRate, schedule, progress.step);
      optimizer.apply(gradients, learningRate);
      for (const tensor of gradients.values()) tensor.dispose();
      progress.step++;
      if (progress.microStepInEpoch >= microStepsPerEpoch) {
        progress.epoch++;
        progress.microStepInEpoch = 0;
        if (progress.step < totalSteps) epochBatches = makeBatches(trainExamples, tokenizer, batchOptions(progress.epoch));
      }
      await engine.parametersChanged?.();

      const seconds = (Date.now() - updateStart) / 1000;
      const window = progress.logWindow;
      window.updates++;
      window.loss += update.loss;
      window.labelLoss += update.labelLoss;
      window.rationaleLoss += update.rationaleLoss;
      window.hasRationale ||= update.hasRationale;
      window.gradientNorm += gradientNorm ?? 0;
      window.tokens += update.tokens;
      window.seconds += seconds;
      const shownRate = relativeAdafactor ? null : learningRate;
      if (progress.step % config.logSteps === 0 || progress.step === totalSteps) {
        const entry: TrainLogEntry = {
          step: progress.step,
          epoch: fractionalEpoch(progress, microStepsPerEpoch),
          loss: window.loss / window.updates,
          labelLoss: window.labelLoss / window.updates,
          rationaleLoss: window.hasRationale ? window.rationaleLoss / window.updates : null,
          learningRate: shownRate,
          gradientNorm: config.maxGradNorm !== null ? window.gradientNorm / window.updates : null,
          tokensPerSecond: window.seconds > 0 ? window.tokens / window.seconds : 0,
          elapsedSeconds: elapsed(),
        };
        trainLog.push(entry);
        options.results?.recordTrain(entry);
        progress.logWindow = emptyWindow();
      }

      const evaluateNow = validation.length > 0 && ((config.evalSteps !== null && progress.step % config.evalSteps === 0) || progress.step === totalSteps);
      if (evaluateNow) evaluate();
      if (evaluateNow || (config.checkpointSteps !== null && progress.step % config.checkpointSteps === 0) || progress.step === totalSteps || progress.stopReason !== null) {
        checkpoint();
      }
      if (options.onProgress) {
        const sessionSeconds = (Date.now() - sessionStart) / 1000;
        const sessionSteps = progress.step - stepAtStart;
        options.onProgress({
          step: progress.step,
          totalSteps,
          epoch: fractionalEpoch(progress, microStepsPerEpoch),
          loss: update.loss,
          labelLoss: update.labelLoss,
          rationaleLoss: update.hasRationale ? update.rationaleLoss : null,
          learningRate: shownRate,
          tokensPerSecond: seconds > 0 ? update.tokens / seconds : 0,
          elapsedSeconds: elapsed(),
          etaSeconds: progress.stopReason !== null ? 0 : (sessionSeconds / sessionSteps) * (totalSteps - progress.step),
        });
      }
    }
    return await finish(progress.stopReason ?? 'completed');

  } finally {
    accumulator.dispose();
    optimizer.dispose();
    if (options.engine === undefined) engine.dispose?.();
  }
}

/**
 * As transformers' Trainer builds AdamW's parameter groups: layer norms (T5 has no biases) get no weight decay,
 * unless the config names its own no-decay list.
 */
function withTrainerOptimizerDefaults(optimizer: OptimizerConfig, model: T5Model): OptimizerConfig {
  if (optimizer.kind !== 'adamw' || optimizer.noDecay !== undefined) return optimizer;
  return { ...optimizer, noDecay: [...model.parameters.keys()].filter((name) => name.endsWith('layer_norm.weight')) };
}

function emptyWindow(): LogWindow {
  return { updates: 0, loss: 0, labelLoss: 0, rationaleLoss: 0, hasRationale: false, gradientNorm: 0, tokens: 0, seconds: 0 };
}

function fractionalEpoch(progress: TrainerProgressState, microStepsPerEpoch: number): number {
  return progress.epoch + progress.microStepInEpoch / microStepsPerEpoch;
}

/** "key: saved -> now" for the first config field that differs, or undefined. */
function configDifference(saved: TrainerConfig, now: TrainerConfig): string | undefined {
  const flat = (value: unknown, prefix: string, into: Map<string, string>) => {
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      for (const [key, inner] of Object.entries(value)) if (inner !== undefined) flat(inner, prefix === '' ? key : `${prefix}.${key}`, into);
    } else into.set(prefix, JSON.stringify(value));
    return into;
  };
  const a = flat(saved, '', new Map());
  const b = flat(now, '', new Map());
  for (const key of [...new Set([...a.keys(), ...b.keys()])].sort()) {
    if (a.get(key) !== b.get(key)) return `${key} ${a.get(key) ?? 'unset'} (now ${b.get(key) ?? 'unset'})`;
  }
  return undefined;
}
