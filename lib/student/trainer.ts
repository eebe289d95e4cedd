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
 * Invariants (trainer README material; each has a test in trainer.slow.test.ts):
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
import * as path from 'node:path';
import { ZsdError } from '../core/errors';
import { AdamW, clipGradientsByGlobalNorm, createOptimizer, learningRateAt, loadOptimizerState } from './optimizers';
import type { HostTensor } from './safetensors';
import {
  assignWeights,
  loadWeightsInto,
  readCheckpointIndex,
  readTrainerState,
  selectedCheckpoint,
  writeCheckpoint,
  type LogWindow,
  type StopReason,
  type TrainerProgressState,
} from './checkpoints';
import { evaluateStudent, answerRuleFor, type EvaluationOptions } from './evaluate-student';
import { dropoutSeedFor, GradientAccumulator, isFusedAdamWEngine, LocalGradientEngine, type GradientEngine } from './gradient-engine';
import { mapStudentExample } from './number-mapping';
import type { T5Model } from './t5-model';
import type { T5Tokenizer } from './tokenizer';
import type { EvalEntry, Prediction, RunResultsWriter, TestResult, TrainLogEntry } from './train-results';
import { configDifference, withTrainerOptimizerDefaults, type TrainerConfig } from './trainer-config';
import { defaultTaskPrefixes, makeBatches } from './batches';
import { type StudentExample } from './student-examples';

// The stage's concepts, each in its file, re-exported here for the CLI, the benchmarks and the tests.
export * from './checkpoints';
export * from './evaluate-student';
export * from './gradient-engine';
export * from './loss-weighting';
export * from './trainer-config';

// ---------------------------------------------------------------------------------------------------------------
// The loop

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
  // AdamW without gradient accumulation on an engine that runs it where the gradients are (the worker threads): the
  // main thread's model is then behind the engine's parameters until syncModel (before evaluating or saving).
  const fused = isFusedAdamWEngine(engine) && optimizer instanceof AdamW && config.gradientAccumulationSteps === 1 ? { engine, adamw: optimizer } : undefined;
  let modelBehind = false;
  const syncModel = () => {
    if (fused === undefined || !modelBehind) return;
    fused.engine.copyParametersTo(model);
    modelBehind = false;
  };
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
      if (difference !== undefined)
        throw new ZsdError('usage', `cannot resume ${checkpoint}: it was trained with ${difference}`, { key: difference.split(' ')[0] });
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
    if (fused !== undefined) {
      const state = optimizer.state(); // a resumed run's moments, else none
      if (state.tensors.size > 0) fused.engine.loadAdamWState(Math.max(...Object.values(state.steps)), state.tensors);
    }

    const sessionStart = Date.now();
    const elapsedAtStart = progress.elapsedSeconds;
    const stepAtStart = progress.step;
    const elapsed = () => elapsedAtStart + (Date.now() - sessionStart) / 1000;

    const checkpoint = () => {
      if (options.checkpointDirectory === undefined) return;
      syncModel();
      if (fused !== undefined) {
        const state = fused.engine.adamWState();
        if (state.step > 0) fused.adamw.loadMoments(state.step, state.tensors);
      }
      progress.elapsedSeconds = elapsed();
      writeCheckpoint(
        options.checkpointDirectory,
        model,
        optimizer,
        { formatVersion: 1, config, progress },
        progress.best?.step ?? null,
        options.checkpointTokenizerJson,
      );
    };

    const evaluate = () => {
      syncModel();
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
      syncModel();
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
      let differentiated = false; // fused: whether the engine holds gradients of this update
      for (let micro = 0; micro < groupSize; micro++) {
        const batches = epochBatches[progress.microStepInEpoch];
        const seeds = batches.map((_, batch) => dropoutSeedFor(config.seed, progress.microStep, batch));
        const microOptions = { alpha: config.alpha, scale: 1 / groupSize, dropoutSeeds: seeds, labelSmoothing: config.labelSmoothing };
        let loss;
        if (fused !== undefined) ({ loss, differentiated } = await fused.engine.stepInPlace(batches, microOptions));
        else loss = await engine.step(batches, microOptions, accumulator);
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
      let gradientNorm: number | null = null;
      const learningRate = learningRateAt(config.learningRate, schedule, progress.step);
      if (fused !== undefined) {
        if (differentiated) {
          // clip_grad_norm_'s coefficient, applied by the fused update as it reads the gradients
          let gradientScale = 1;
          if (config.maxGradNorm !== null) {
            gradientNorm = await fused.engine.gradientNorm();
            gradientScale = Math.min(Math.fround(config.maxGradNorm / Math.fround(gradientNorm + 1e-6)), 1);
          }
          await fused.engine.applyAdamW({ learningRate, ...fused.adamw.hyperparameters(), gradientScale });
          modelBehind = true;
        }
      } else {
        let gradients = accumulator.take();
        if (config.maxGradNorm !== null) {
          const clipped = clipGradientsByGlobalNorm(gradients, config.maxGradNorm);
          for (const [name, tensor] of gradients) if (clipped.gradients.get(name) !== tensor) tensor.dispose();
          gradients = clipped.gradients;
          gradientNorm = clipped.norm;
        }
        optimizer.apply(gradients, learningRate);
        for (const tensor of gradients.values()) tensor.dispose();
      }
      progress.step++;
      if (progress.microStepInEpoch >= microStepsPerEpoch) {
        progress.epoch++;
        progress.microStepInEpoch = 0;
        if (progress.step < totalSteps) epochBatches = makeBatches(trainExamples, tokenizer, batchOptions(progress.epoch));
      }
      if (fused === undefined) await engine.parametersChanged?.(); // the fused update reloads the replicas itself

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
      if (
        evaluateNow ||
        (config.checkpointSteps !== null && progress.step % config.checkpointSteps === 0) ||
        progress.step === totalSteps ||
        progress.stopReason !== null
      ) {
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

function emptyWindow(): LogWindow {
  return { updates: 0, loss: 0, labelLoss: 0, rationaleLoss: 0, hasRationale: false, gradientNorm: 0, tokens: 0, seconds: 0 };
}

function fractionalEpoch(progress: TrainerProgressState, microStepsPerEpoch: number): number {
  return progress.epoch + progress.microStepInEpoch / microStepsPerEpoch;
}
