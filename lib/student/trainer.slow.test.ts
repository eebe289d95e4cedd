import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { temporaryDirectory } from '../test-support/fixtures';
import { initBackend } from './backend';
import { ParallelGradientEngine } from './parallel/parallel-gradient-engine';
import { readSafetensors } from './safetensors';
import { presetConfig, type T5Config } from './t5-config';
import { T5Model } from './t5-model';
import { loadT5Model } from './t5-weights';
import type { BatchEncoding, EncodeBatchOptions, T5Tokenizer } from './tokenizer';
import {
  answerIsCorrect,
  evaluateStudent,
  GradientAccumulator,
  LocalGradientEngine,
  lossCoefficients,
  resolveTrainerConfig,
  selectedCheckpoint,
  trainStudent,
  type TrainerConfigInput,
  type TrainProgress,
} from './trainer';
import { RunResultsWriter, type RunKey } from './train-results';
import { makeBatches, type EncodedBatch } from './batches';
import { type StudentExample } from './student-examples';

beforeAll(async () => {
  await initBackend({ prefer: 'wasm' });
});

// ---------------------------------------------------------------------------------------------------------------
// A character-level stand-in for the T5 tokenizer (a 32128-row vocabulary would make the tiny model slow), with the
// same special ids: pad 0, eos 1, unk 2.

const ALPHABET = " abcdefghijklmnopqrstuvwxyz0123456789:+-*/().?'";

class CharTokenizer implements T5Tokenizer {
  readonly vocabSize = 3 + ALPHABET.length;
  readonly padId = 0;
  readonly eosId = 1;
  readonly unkId = 2;

  encode(text: string): number[] {
    return [...text.toLowerCase()].map((character) => (ALPHABET.includes(character) ? 3 + ALPHABET.indexOf(character) : this.unkId)).concat(this.eosId);
  }

  encodeBatch(texts: readonly string[], options: EncodeBatchOptions = {}): BatchEncoding {
    let rows = texts.map((text) => this.encode(text));
    if (options.truncation && options.maxLength !== undefined) {
      const maxLength = options.maxLength;
      rows = rows.map((ids) => (ids.length > maxLength ? [...ids.slice(0, maxLength - 1), this.eosId] : ids));
    }
    const width =
      options.padding === 'max_length' ? (options.maxLength as number) : options.padding === 'longest' ? Math.max(...rows.map((ids) => ids.length)) : 0;
    return {
      inputIds: rows.map((ids) => [...ids, ...new Array<number>(Math.max(0, width - ids.length)).fill(this.padId)]),
      attentionMask: rows.map((ids) => [...ids.map(() => 1), ...new Array<number>(Math.max(0, width - ids.length)).fill(0)]),
    };
  }

  tokenize(text: string): string[] {
    return [...text];
  }

  normalize(text: string): string {
    return text.toLowerCase();
  }

  decode(ids: readonly number[]): string {
    return ids
      .filter((id) => id >= 3 && id < this.vocabSize)
      .map((id) => ALPHABET[id - 3])
      .join('');
  }

  idToPiece(id: number): string | undefined {
    return id >= 3 ? ALPHABET[id - 3] : ['<pad>', '</s>', '<unk>'][id];
  }

  pieceToId(piece: string): number | undefined {
    return ALPHABET.includes(piece) ? 3 + ALPHABET.indexOf(piece) : undefined;
  }
}

const tokenizer = new CharTokenizer();

function tinyConfig(dropoutRate = 0.1): T5Config {
  return presetConfig('t5-efficient-tiny', {
    vocabSize: tokenizer.vocabSize,
    dModel: 32,
    dKv: 8,
    numHeads: 4,
    dFf: 64,
    numLayers: 2,
    numDecoderLayers: 2,
    dropoutRate,
  });
}

/**
 * "Does the sentence mention red?": a label the model can pick up from the input, two rationale sources
 * (one missing now and then, as teachers' are).
 */
function syntheticExamples(count: number, offset = 0): StudentExample[] {
  const words = ['blue', 'red', 'green', 'sky', 'sea', 'car', 'hat', 'dog'];
  let state = 12345 + offset * 7919;
  const next = () => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state / 2 ** 32;
  };
  return Array.from({ length: count }, (_, i) => {
    const sentence = Array.from({ length: 2 + Math.floor(next() * 3) }, () => words[Math.floor(next() * words.length)]).join(' ');
    const red = sentence.split(' ').includes('red');
    const label = red ? 'yes' : 'no';
    return {
      index: offset + i,
      split: 'train',
      input: `${sentence}?`,
      label,
      goldLabel: label,
      labelFrom: 'gold',
      rationales: [
        { source: 'palm', text: red ? 'it says red' : 'red is absent', weight: 0.75 },
        { source: 'gpt35', text: i % 5 === 0 ? null : red ? 'red appears' : 'no red', weight: 0.25 },
      ],
    } satisfies StudentExample;
  });
}

const TRAIN = syntheticExamples(28);
const VALIDATION = syntheticExamples(6, 1000);
const TEST = syntheticExamples(8, 2000);

function config(overrides: Partial<TrainerConfigInput> = {}) {
  return resolveTrainerConfig({
    task: 'synthetic',
    mode: 'task_prefix',
    batchSize: 4,
    maxInputLength: 64,
    maxTargetLength: 32,
    seed: 7,
    learningRate: 3e-3,
    optimizer: { kind: 'adamw', weightDecay: 0.01 },
    schedule: { kind: 'linear', warmupSteps: 2 },
    evalMaxNewTokens: 5,
    evalBatchSize: 8,
    logSteps: 1,
    ...overrides,
  });
}

const KEY: RunKey = {
  task: 'synthetic',
  model: 't5-efficient-tiny',
  mode: 'task_prefix',
  llm: 'palm+gpt35',
  subsample: 1.0,
  mix: '0',
  labelType: 'gt',
  alpha: 0.5,
  maxInputLength: 64,
  batchSize: 8,
  optimizer: 'AdamW',
  learningRate: 3e-3,
  run: 0,
};

// ---------------------------------------------------------------------------------------------------------------

describe('the step loss: alpha * label + (1 - alpha) * sum_s w_s rationale_s, weights normalised', () => {
  test('coefficients', () => {
    const predict = { task: 'predict' as const };
    expect(lossCoefficients([predict], 0.5)).toEqual([1]); // standard mode: the label loss only
    expect(lossCoefficients([predict, { task: 'explain', weight: 1 }], 0.5)).toEqual([0.5, 0.5]);
    expect(lossCoefficients([predict, { task: 'explain', weight: 3 }, { task: 'explain', weight: 1 }], 0.5)).toEqual([0.5, 0.375, 0.125]);
    expect(lossCoefficients([predict, { task: 'explain', weight: 0.75 }, { task: 'explain', weight: 0.25 }], 0.2)).toEqual([0.2, 0.6000000000000001, 0.2]);
    // a source absent from the step (every rationale dropped): the others share the rationale term
    expect(lossCoefficients([predict, { task: 'explain', weight: 0.25 }], 0.5)).toEqual([0.5, 0.5]);
    expect(() => lossCoefficients([predict, { task: 'explain', weight: 0 }], 0.5)).toThrow(/sum to a positive number/);
    expect(() => lossCoefficients([predict, { task: 'explain', weight: -1 }, { task: 'explain', weight: 2 }], 0.5)).toThrow(/>= 0/);
    expect(() => lossCoefficients([{ task: 'explain', weight: 1 }], 0.5)).toThrow(/exactly one predict batch/);
    expect(() => lossCoefficients([predict], 1.5)).toThrow(/alpha/);
  });

  test('the engine differentiates exactly that combination (losses and gradients against the batches one by one)', async () => {
    const model = T5Model.randomInit(tinyConfig(0), 3); // no dropout: the reference below runs in eval mode
    const step = makeBatches(TRAIN.slice(0, 4), tokenizer, { batchSize: 4, maxInputLength: 64, maxTargetLength: 32, seed: 1, epoch: 0 })[0];
    expect(step.map((batch) => [batch.task, batch.source, batch.weight])).toEqual([
      ['predict', undefined, undefined],
      ['explain', 'palm', 0.75],
      ['explain', 'gpt35', 0.25],
    ]);
    const accumulator = new GradientAccumulator();
    const engine = new LocalGradientEngine(model);
    const result = await engine.step(step, { alpha: 0.3, scale: 0.5, dropoutSeeds: [1, 2, 3] }, accumulator);

    const toBatch = (batch: EncodedBatch) => ({
      inputIds: tf.tensor2d(batch.inputIds, undefined, 'int32'),
      attentionMask: tf.tensor2d(batch.attentionMask, undefined, 'int32'),
      labels: tf.tensor2d(batch.labels, undefined, 'int32'),
    });
    const separate = step.map((batch) => tf.tidy(() => model.lossFn(toBatch(batch)).dataSync()[0]));
    const expectedLoss = 0.3 * separate[0] + 0.7 * (0.75 * separate[1] + 0.25 * separate[2]);
    expect(result.labelLoss).toBeCloseTo(separate[0], 5);
    expect(result.rationaleLoss).toBeCloseTo(0.75 * separate[1] + 0.25 * separate[2], 5);
    expect(result.loss).toBeCloseTo(expectedLoss, 5);
    expect(result.rationaleLosses).toEqual({ palm: expect.closeTo(separate[1], 5), gpt35: expect.closeTo(separate[2], 5) });

    const names = new Map([...model.parameters].map(([name, variable]) => [variable.name, name]));
    const { value, grads } = tf.variableGrads(
      () =>
        tf.mul(
          step.map((batch, i) => tf.mul(model.lossFn(toBatch(batch)), [0.3, 0.7 * 0.75, 0.7 * 0.25][i])).reduce((sum, term) => tf.add(sum, term)),
          0.5,
        ) as tf.Scalar,
      model.trainableVariables(),
    );
    const accumulated = accumulator.take();
    expect(accumulated.size).toBe(model.parameters.size);
    let largest = 0;
    for (const [variableName, gradient] of Object.entries(grads)) {
      const mine = accumulated.get(names.get(variableName) as string) as tf.Tensor;
      const [a, b] = [mine.dataSync(), gradient.dataSync()];
      for (let i = 0; i < a.length; i++) largest = Math.max(largest, Math.abs(a[i] - b[i]));
    }
    expect(largest).toBeLessThan(1e-6);
    tf.dispose([value, ...Object.values(grads), ...accumulated.values()]);
    model.dispose();
  });
});

describe('accuracy', () => {
  test('exact match after strip; svamp compares the equations by value', () => {
    expect(answerIsCorrect('exact-match', ' entailment\n', 'entailment')).toBe(true);
    expect(answerIsCorrect('exact-match', 'Entailment', 'entailment')).toBe(false);
    expect(answerIsCorrect('equation', '( 3.0 + 5.0 ) * 2', '16')).toBe(true);
    expect(answerIsCorrect('equation', '3 + 4', '( 8.0 - 1.0 )')).toBe(true);
    expect(answerIsCorrect('equation', 'import os', '16')).toBe(false);
    expect(answerIsCorrect('equation', '1 / 0', '16')).toBe(false);
  });
});

describe('training a tiny T5 from scratch', () => {
  test('the loss falls, tensors do not leak, the test split is scored with the weights chosen on validation', async () => {
    const model = T5Model.randomInit(tinyConfig(), 11);
    const directory = temporaryDirectory('zsd-trainer-');
    const steps: TrainProgress[] = [];
    const tensorCounts: number[] = [];
    const results = RunResultsWriter.open(path.join(directory, 'results'), { key: KEY, experimentGroup: null, category: null, config: {} });
    const outcome = await trainStudent({
      model,
      tokenizer,
      train: TRAIN,
      validation: VALIDATION,
      test: TEST,
      config: config({ maxSteps: 42, batchSize: 8, evalSteps: 14 }),
      checkpointDirectory: path.join(directory, 'checkpoints'),
      results,
      onProgress: (progress) => {
        steps.push(progress);
        tensorCounts.push(tf.memory().numTensors);
      },
    });
    const losses = steps.map((step) => step.loss);
    const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;
    expect(mean(losses.slice(-5))).toBeLessThan(0.5 * mean(losses.slice(0, 3)));
    expect(outcome.stopReason).toBe('completed');
    expect(steps.map((step) => step.step)).toEqual(Array.from({ length: 42 }, (_, i) => i + 1));
    expect(steps[0].learningRate).toBe(0); // linear warm-up: the first update has rate 0 (as Trainer)
    expect(steps.every((step) => step.tokensPerSecond > 0 && Number.isFinite(step.etaSeconds))).toBe(true);
    expect(steps[41].etaSeconds).toBe(0);

    // after the first update (which creates the optimizer slots) the live tensors stay the same, evaluations included
    expect(new Set(tensorCounts.slice(1))).toEqual(new Set([tensorCounts[0]]));

    // selection on validation, never on test; the test split is scored once, with the chosen checkpoint
    expect(outcome.eval.map((entry) => entry.step)).toEqual([14, 28, 42]);
    const best = outcome.eval.reduce((a, b) => (b.accuracy > a.accuracy ? b : a));
    expect(outcome.best).toEqual({ step: best.step, accuracy: best.accuracy });
    expect(outcome.selectedStep).toBe(best.step);
    expect(outcome.test?.step).toBe(best.step);
    expect(outcome.test?.selectedBy).toBe('validation-accuracy');
    const chosen = selectedCheckpoint(path.join(directory, 'checkpoints')) as string;
    expect(path.basename(chosen)).toBe(`step-${String(best.step).padStart(6, '0')}`);
    // the saved checkpoint, loaded as `zsd predict` loads it, reproduces the recorded test accuracy and predictions
    const reloaded = loadT5Model(chosen);
    const rescored = evaluateStudent(reloaded, tokenizer, TEST, {
      rule: 'exact-match',
      inputPrefix: 'predict: ',
      batchSize: 3,
      maxInputLength: 64,
      maxNewTokens: 5,
    });
    expect(rescored.accuracy).toBe(outcome.test?.accuracy);
    expect(rescored.predictions).toEqual(outcome.test?.predictions);
    // as transformers' Trainer: no weight decay on layer norms
    const optimizerOptions = JSON.parse(fs.readFileSync(path.join(chosen, 'optimizer.json'), 'utf8')).options;
    expect(optimizerOptions.weightDecay).toBe(0.01);
    expect(optimizerOptions.noDecay).toContain('encoder.final_layer_norm.weight');
    expect(optimizerOptions.noDecay).toHaveLength(2 * 2 + 3 * 2 + 2);
    // only the latest and the best checkpoint remain
    const remaining = fs
      .readdirSync(path.join(directory, 'checkpoints'))
      .filter((name) => name.startsWith('step-'))
      .sort();
    expect(remaining).toEqual([...new Set([chosen, path.join(directory, 'checkpoints', 'step-000042')].map((dir) => path.basename(dir)))].sort());

    const runFiles = fs.readdirSync(results.directory).sort();
    expect(runFiles).toEqual(['config.json', 'eval.json', 'predictions.json', 'test.json', 'train.json']);
    expect(JSON.parse(fs.readFileSync(path.join(results.directory, 'train.json'), 'utf8'))).toHaveLength(42);
    reloaded.dispose();
    model.dispose();
    fs.rmSync(directory, { recursive: true, force: true });
  });

  test('3 updates, a checkpoint, a fresh model resumed from it and 3 more = 6 updates straight', async () => {
    const directory = temporaryDirectory('zsd-resume-');
    // 28 examples, batch 4: 7 micro-steps per epoch, accumulated by 2 -> updates of 2, 2, 2, 1 micro-steps; step 3
    // stops inside the first epoch, step 6 is inside the second; dropout is on; evaluations at 2, 4 and 6
    const runConfig = config({ maxSteps: 6, gradientAccumulationSteps: 2, evalSteps: 2, maxGradNorm: 0.5 });
    const run = async (name: string, options: { stopAt?: number; resume?: boolean; initSeed: number }) => {
      const model = T5Model.randomInit(tinyConfig(), options.initSeed);
      const controller = new AbortController();
      const results = RunResultsWriter.open(
        path.join(directory, name, 'results'),
        { key: KEY, experimentGroup: null, category: null, config: { runConfig } },
        { resume: options.resume },
      );
      const seen: number[] = [];
      const outcome = await trainStudent({
        model,
        tokenizer,
        train: TRAIN,
        validation: VALIDATION,
        config: runConfig,
        checkpointDirectory: path.join(directory, name, 'checkpoints'),
        resume: options.resume,
        results,
        signal: controller.signal,
        onProgress: (progress) => {
          seen.push(progress.step);
          if (progress.step === options.stopAt) controller.abort();
        },
      });
      return { model, outcome, seen, results };
    };

    const straight = await run('straight', { initSeed: 5 });
    const first = await run('split', { stopAt: 3, initSeed: 5 });
    expect(first.outcome.stopReason).toBe('interrupted');
    expect(first.seen).toEqual([1, 2, 3]);
    first.model.dispose();
    // a fresh model with other random weights, a new engine and optimizer: everything comes from the checkpoint
    const resumed = await run('split', { resume: true, initSeed: 99 });
    expect(resumed.seen).toEqual([4, 5, 6]);
    expect(resumed.outcome.stopReason).toBe('completed');

    const trainA = straight.results.trainEntries();
    const trainB = resumed.results.trainEntries();
    expect(trainB.map((entry) => entry.step)).toEqual([1, 2, 3, 4, 5, 6]);
    for (const key of ['loss', 'labelLoss', 'rationaleLoss', 'learningRate', 'gradientNorm', 'epoch'] as const) {
      expect(trainB.map((entry) => entry[key])).toEqual(trainA.map((entry) => entry[key]));
    }
    expect(resumed.results.evalEntries().map(({ step, accuracy, bestStep }) => ({ step, accuracy, bestStep }))).toEqual(
      straight.results.evalEntries().map(({ step, accuracy, bestStep }) => ({ step, accuracy, bestStep })),
    );
    // the step-6 checkpoints hold the same parameters and optimizer state
    for (const file of ['model.safetensors', 'optimizer.safetensors']) {
      const a = readSafetensors(path.join(directory, 'straight', 'checkpoints', 'step-000006', file));
      const b = readSafetensors(path.join(directory, 'split', 'checkpoints', 'step-000006', file));
      expect([...b.keys()]).toEqual([...a.keys()]);
      let largest = 0;
      for (const [name, tensor] of a) {
        const other = (b.get(name) as { data: Float32Array }).data;
        for (let i = 0; i < tensor.data.length; i++) largest = Math.max(largest, Math.abs(tensor.data[i] - other[i]));
      }
      expect(largest).toBeLessThanOrEqual(1e-6);
    }
    // and the models end with the same selected weights
    for (const [name, variable] of straight.model.parameters) {
      expect(Array.from(resumed.model.parameters.get(name)!.dataSync())).toEqual(Array.from(variable.dataSync()));
    }
    straight.model.dispose();
    resumed.model.dispose();

    // resuming with another configuration is refused, naming the field
    const other = T5Model.randomInit(tinyConfig(), 1);
    await expect(
      trainStudent({
        model: other,
        tokenizer,
        train: TRAIN,
        config: { ...runConfig, learningRate: 1e-3 },
        checkpointDirectory: path.join(directory, 'split', 'checkpoints'),
        resume: true,
      }),
    ).rejects.toThrow(/learningRate 0.003 \(now 0.001\)/);
    other.dispose();
    fs.rmSync(directory, { recursive: true, force: true });
  });

  test("the worker threads' fused AdamW trains as the single-thread trainer does (dropout 0), checkpoints and resumes", async () => {
    const directory = temporaryDirectory('zsd-fused-');
    const runConfig = config({ maxSteps: 6, evalSteps: 2, maxGradNorm: 0.5 });
    const run = async (name: string, options: { workers?: number; stopAt?: number; resume?: boolean; initSeed: number }) => {
      const model = T5Model.randomInit(tinyConfig(0), options.initSeed);
      const engine = options.workers === undefined ? undefined : await ParallelGradientEngine.start(model, { workers: options.workers });
      const controller = new AbortController();
      const results = RunResultsWriter.open(
        path.join(directory, name, 'results'),
        { key: KEY, experimentGroup: null, category: null, config: { runConfig } },
        { resume: options.resume },
      );
      try {
        const outcome = await trainStudent({
          model,
          engine,
          tokenizer,
          train: TRAIN,
          validation: VALIDATION,
          config: runConfig,
          checkpointDirectory: path.join(directory, name, 'checkpoints'),
          resume: options.resume,
          results,
          signal: controller.signal,
          onProgress: (progress) => {
            if (progress.step === options.stopAt) controller.abort();
          },
        });
        return { model, outcome, results };
      } finally {
        await engine?.close();
      }
    };
    const checkpointed = (name: string, file: string) => readSafetensors(path.join(directory, name, 'checkpoints', 'step-000006', file));
    const largestDifference = (a: Map<string, { data: Float32Array }>, b: Map<string, { data: Float32Array }>) => {
      expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
      let largest = 0;
      for (const [name, tensor] of a) {
        const other = b.get(name)!.data;
        for (let i = 0; i < tensor.data.length; i++)
          largest = Math.max(largest, Math.abs(tensor.data[i] - other[i]) / Math.max(1e-3, Math.abs(tensor.data[i])));
      }
      return largest;
    };

    const single = await run('single', { initSeed: 5 });
    const fused = await run('fused', { workers: 2, initSeed: 5 });
    const [want, got] = [single.results.trainEntries(), fused.results.trainEntries()];
    expect(got.map((entry) => entry.step)).toEqual([1, 2, 3, 4, 5, 6]);
    for (const [index, entry] of got.entries()) {
      for (const key of ['loss', 'labelLoss', 'rationaleLoss', 'gradientNorm'] as const) {
        expect(Math.abs((entry[key] as number) - (want[index][key] as number))).toBeLessThan(1e-4 * Math.abs(want[index][key] as number));
      }
    }
    // the step-6 checkpoint: parameters and AdamW moments as the single-thread trainer's (float32 summation order apart)
    expect(largestDifference(checkpointed('single', 'model.safetensors'), checkpointed('fused', 'model.safetensors'))).toBeLessThan(1e-3);
    expect(largestDifference(checkpointed('single', 'optimizer.safetensors'), checkpointed('fused', 'optimizer.safetensors'))).toBeLessThan(1e-2);

    // interrupted at 3 and resumed on a fresh model and engine: the same step-6 checkpoint as straight through
    const first = await run('split', { workers: 2, stopAt: 3, initSeed: 5 });
    expect(first.outcome.stopReason).toBe('interrupted');
    const resumed = await run('split', { workers: 2, resume: true, initSeed: 99 });
    expect(resumed.outcome.stopReason).toBe('completed');
    for (const file of ['model.safetensors', 'optimizer.safetensors'])
      expect(largestDifference(checkpointed('fused', file), checkpointed('split', file))).toBeLessThan(1e-6);
    for (const result of [single, fused, first, resumed]) result.model.dispose();
    fs.rmSync(directory, { recursive: true, force: true });
  }, 120_000);

  test('early stopping: evaluations without a better validation accuracy end the run; the best step is kept', async () => {
    const model = T5Model.randomInit(tinyConfig(), 2);
    const before = model.toHostTensors();
    // learning rate 0: the accuracy cannot improve after the first evaluation
    const outcome = await trainStudent({
      model,
      tokenizer,
      train: TRAIN,
      validation: VALIDATION,
      config: config({ maxSteps: 20, evalSteps: 1, earlyStoppingPatience: 2, learningRate: 0, optimizer: { kind: 'adamw', weightDecay: 0 } }),
    });
    expect(outcome.stopReason).toBe('early-stopping');
    expect(outcome.steps).toBe(3);
    expect(outcome.eval.map((entry) => entry.step)).toEqual([1, 2, 3]);
    expect(outcome.best?.step).toBe(1);
    expect(outcome.selectedStep).toBe(1);
    for (const [name, host] of before) expect(Array.from(model.parameters.get(name)!.dataSync())).toEqual(Array.from(host.data));
    model.dispose();
  });

  test('early stopping after learning: the model ends with the best checkpoint, not the last', async () => {
    // validation answers are all "no": a random model scores 0, one that learned the majority label scores 1, and
    // no later evaluation can beat that, so the run stops `patience` evaluations after the first perfect one
    const validation = syntheticExamples(40, 3000)
      .filter((example) => example.label === 'no')
      .slice(0, 6);
    const model = T5Model.randomInit(tinyConfig(), 8);
    const directory = temporaryDirectory('zsd-early-');
    const outcome = await trainStudent({
      model,
      tokenizer,
      train: TRAIN,
      validation,
      config: config({ maxSteps: 60, batchSize: 8, evalSteps: 3, earlyStoppingPatience: 2, learningRate: 1e-2 }),
      checkpointDirectory: directory,
    });
    expect(outcome.stopReason).toBe('early-stopping');
    const bestAt = outcome.eval.findIndex((entry) => entry.step === outcome.best?.step);
    expect(bestAt).toBeGreaterThan(0); // learned something after the first evaluation
    expect(outcome.eval[0].accuracy).toBeLessThan(outcome.best!.accuracy);
    expect(outcome.eval.slice(bestAt + 1).every((entry) => entry.accuracy <= outcome.best!.accuracy)).toBe(true);
    expect(outcome.eval.length - 1 - bestAt).toBe(2); // the patience
    expect(outcome.steps).toBe(outcome.eval[outcome.eval.length - 1].step);
    expect(outcome.steps).toBeLessThan(60);
    const best = readSafetensors(path.join(directory, `step-${String(outcome.best!.step).padStart(6, '0')}`, 'model.safetensors'));
    const last = readSafetensors(path.join(directory, `step-${String(outcome.steps).padStart(6, '0')}`, 'model.safetensors'));
    const weight = 'decoder.block.0.layer.0.SelfAttention.q.weight';
    expect(Array.from(model.parameters.get(weight)!.dataSync())).toEqual(Array.from(best.get(weight)!.data));
    expect(Array.from(model.parameters.get(weight)!.dataSync())).not.toEqual(Array.from(last.get(weight)!.data));
    model.dispose();
    fs.rmSync(directory, { recursive: true, force: true });
  });

  test('standard mode trains on labels only; Adafactor with relative steps logs no learning rate', async () => {
    const model = T5Model.randomInit(tinyConfig(), 4);
    const steps: TrainProgress[] = [];
    const outcome = await trainStudent({
      model,
      tokenizer,
      train: TRAIN,
      config: config({ mode: 'standard', epochs: 1, optimizer: { kind: 'adafactor' }, gradientAccumulationSteps: 3 }),
      onProgress: (progress) => steps.push(progress),
    });
    expect(outcome.steps).toBe(3); // 7 micro-steps accumulated by 3: 3, 3, 1
    expect(steps.every((step) => step.rationaleLoss === null && step.learningRate === null && step.loss === step.labelLoss)).toBe(true);
    expect(outcome.train.map((entry) => entry.epoch)).toEqual([3 / 7, 6 / 7, 1]);
    model.dispose();
  });
});

test('bad trainer configs are refused with the field named', () => {
  const base = { task: 'cqa', mode: 'task_prefix' as const, batchSize: 4, maxInputLength: 64, seed: 0 };
  expect(() => resolveTrainerConfig({ ...base, mode: 'distill' as 'standard', maxSteps: 1 })).toThrow(/unknown mode "distill"/);
  expect(() => resolveTrainerConfig({ ...base })).toThrow(/exactly one of maxSteps and epochs/);
  expect(() => resolveTrainerConfig({ ...base, maxSteps: 10, epochs: 1 })).toThrow(/exactly one of maxSteps and epochs/);
  expect(() => resolveTrainerConfig({ ...base, maxSteps: 10, alpha: 2 })).toThrow(/alpha must be in \[0, 1\]/);
  expect(() => resolveTrainerConfig({ ...base, maxSteps: 10, gradientAccumulationSteps: 0 })).toThrow(/gradientAccumulationSteps must be a positive integer/);
  expect(resolveTrainerConfig({ ...base, maxSteps: 10 })).toMatchObject({
    alpha: 0.5,
    learningRate: 5e-5,
    maxGradNorm: 1,
    schedule: { kind: 'linear', warmupSteps: 0 },
  });
});
