/**
 * train-step: one training step of the student for exactly the configuration of issue 5 ("Speed"):
 * T5 d_model 256, d_kv 64, 4 heads, d_ff 1024 gated-gelu, 4 + 4 layers, vocab 32128, untied lm_head without
 * decoder-output scaling (preset zsd-bench), dropout 0.1, batch 8, source 128 and target 64 random token ids, all
 * unpadded; forward + backward + AdamW update. Warm-up steps are excluded; each engine's time is the median of its
 * timed steps; ms_per_step is the fastest engine's.
 *
 * Engines (each from the same random init and batch, one after the other):
 * - parallel: ParallelGradientEngine (lib/student/parallel), 2 worker threads with a replica each, half the batch
 *   each, gradients weighted by label tokens, then the fused AdamW split between the workers over the shared
 *   parameters (parallel/fused-adamw.ts: torch.optim.AdamW's rule, lr 1e-4, weight decay 0.01).
 * - parallel_trainer_path: the same engine as trainer.ts's GradientEngine: step() adds the summed gradients to a
 *   GradientAccumulator, optimizers.ts's AdamW (tf ops) updates the main thread's model, parametersChanged() copies
 *   it to the replicas. What the trainer gets without the fused update.
 * - single: one thread, tf.variableGrads + optimizers.ts's AdamW, as LocalGradientEngine.
 *
 * Baseline: PyTorch (Hugging Face T5ForConditionalGeneration, torch.optim.AdamW) on the same machine, measured by
 * lib/bench/pytorch-train-step.py. CI has no torch, so the anchor is optional: ZSD_PYTORCH_TRAIN_STEP names the JSON
 * file that script printed (measure it the same day), or ZSD_PYTORCH_PYTHON names a Python with torch and
 * transformers and the script runs right before the TypeScript steps (never concurrently: both want both cores).
 * Without either the line has no ratio.
 *
 * ZSD_BENCH_TRAIN_STEPS (default 5), ZSD_BENCH_TRAIN_WARMUP (default 2) and ZSD_BENCH_TRAIN_WORKERS (default 2).
 * On a 2-core machine anything else running (a test suite, a build) shows up directly in these numbers.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../student/backend';
import { AdamW } from '../student/optimizers';
import { GradientAccumulator } from '../student/trainer';
import { presetConfig, type T5Config } from '../student/t5-config';
import { ParallelGradientEngine } from '../student/parallel/parallel-gradient-engine';
import { T5Model } from '../student/t5-model';

export const TRAIN_STEP_SHAPE = { batch: 8, source: 128, target: 64 } as const;
const SEED = 7;
const LEARNING_RATE = 1e-4;
const WEIGHT_DECAY = 0.01;

export function trainStepConfig(): T5Config {
  return presetConfig('zsd-bench', { dropoutRate: 0.1, scaleDecoderOutputs: false });
}

/** Random token ids in [2, vocab): no pad (0) and no end-of-sequence (1), every position counted by the loss. */
export function randomTokenRows(rows: number, length: number, vocab: number, seed: number): number[][] {
  let state = seed >>> 0 || 1;
  const next = () => {
    // xorshift32: reproducible and dependency-free
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
  return Array.from({ length: rows }, () => Array.from({ length }, () => 2 + Math.floor(next() * (vocab - 2))));
}

export interface TrainStepBatch {
  inputIds: number[][];
  attentionMask: number[][];
  labels: number[][];
}

export function trainStepBatch(config: T5Config): TrainStepBatch {
  const { batch, source, target } = TRAIN_STEP_SHAPE;
  return {
    inputIds: randomTokenRows(batch, source, config.vocabSize, SEED),
    attentionMask: Array.from({ length: batch }, () => new Array<number>(source).fill(1)),
    labels: randomTokenRows(batch, target, config.vocabSize, SEED + 1),
  };
}

interface StepTimes {
  /** every step, warm-up included, in ms */
  all: number[];
  /** of each step, the optimizer update (and for workers the parameter broadcast), in ms */
  update: number[];
  losses: number[];
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function milliseconds(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e6;
}

async function timeSingleThread(config: T5Config, batch: TrainStepBatch, steps: number): Promise<StepTimes> {
  const model = T5Model.randomInit(config, SEED);
  const optimizer = new AdamW(model.parameters, { weightDecay: WEIGHT_DECAY });
  const names = new Map([...model.parameters].map(([name, variable]) => [variable.name, name]));
  const tensors = {
    inputIds: tf.tensor2d(batch.inputIds, undefined, 'int32'),
    attentionMask: tf.tensor2d(batch.attentionMask, undefined, 'int32'),
    labels: tf.tensor2d(batch.labels, undefined, 'int32'),
  };
  const times: StepTimes = { all: [], update: [], losses: [] };
  try {
    for (let step = 0; step < steps; step++) {
      const start = process.hrtime.bigint();
      const { value, grads } = tf.variableGrads(() => model.lossFn(tensors, { training: true }), model.trainableVariables());
      const gradients = new Map(Object.entries(grads).map(([variableName, gradient]) => [names.get(variableName)!, gradient]));
      const updateStart = process.hrtime.bigint();
      optimizer.apply(gradients, LEARNING_RATE);
      times.update.push(milliseconds(updateStart));
      times.losses.push(value.dataSync()[0]);
      tf.dispose([value, ...gradients.values()]);
      times.all.push(milliseconds(start));
    }
  } finally {
    optimizer.dispose();
    model.dispose();
    tf.dispose(Object.values(tensors));
  }
  return times;
}

async function timeParallel(
  config: T5Config,
  batch: TrainStepBatch,
  steps: number,
  workers: number,
): Promise<StepTimes & { workerMs: number[]; adamwMs: number[]; reloadMs: number[] }> {
  const model = T5Model.randomInit(config, SEED);
  const engine = await ParallelGradientEngine.start(model, { workers });
  const times = {
    all: [] as number[],
    update: [] as number[],
    losses: [] as number[],
    workerMs: [] as number[],
    adamwMs: [] as number[],
    reloadMs: [] as number[],
  };
  try {
    for (let step = 0; step < steps; step++) {
      const start = process.hrtime.bigint();
      const [loss] = await engine.computeGradients([{ batch, factor: 1, dropoutSeed: step }]);
      const updateStart = process.hrtime.bigint();
      await engine.applyAdamW({ learningRate: LEARNING_RATE, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: WEIGHT_DECAY, noDecay: [] });
      times.update.push(milliseconds(updateStart));
      times.losses.push(loss);
      times.all.push(milliseconds(start));
      times.workerMs.push(Math.max(...engine.lastTimings.workerMilliseconds));
      times.adamwMs.push(Math.max(...engine.lastTimings.updateMilliseconds));
      times.reloadMs.push(Math.max(...engine.lastTimings.reloadMilliseconds));
    }
  } finally {
    await engine.close();
    model.dispose();
  }
  return times;
}

async function timeParallelTrainerPath(config: T5Config, batch: TrainStepBatch, steps: number, workers: number): Promise<StepTimes> {
  const model = T5Model.randomInit(config, SEED);
  const engine = await ParallelGradientEngine.start(model, { workers });
  const optimizer = new AdamW(model.parameters, { weightDecay: WEIGHT_DECAY });
  const times: StepTimes = { all: [], update: [], losses: [] };
  const encoded = { ...batch, task: 'predict' as const, rows: batch.labels.map((_, row) => row) };
  try {
    for (let step = 0; step < steps; step++) {
      const start = process.hrtime.bigint();
      const sums = new GradientAccumulator();
      const loss = await engine.step([encoded], { alpha: 1, scale: 1, dropoutSeeds: [step] }, sums);
      const updateStart = process.hrtime.bigint();
      const gradients = sums.take();
      optimizer.apply(gradients, LEARNING_RATE);
      tf.dispose([...gradients.values()]);
      await engine.parametersChanged();
      times.update.push(milliseconds(updateStart));
      times.losses.push(loss.loss);
      times.all.push(milliseconds(start));
    }
  } finally {
    optimizer.dispose();
    await engine.close();
    model.dispose();
  }
  return times;
}

interface PytorchAnchor {
  msPerStepByThreads: Record<string, number>;
  measuredAt?: string;
  source: string;
}

function pytorchAnchor(): PytorchAnchor | undefined {
  const file = process.env.ZSD_PYTORCH_TRAIN_STEP;
  const python = process.env.ZSD_PYTORCH_PYTHON;
  let text: string;
  let source: string;
  if (file !== undefined && file !== '') {
    text = fs.readFileSync(file, 'utf8');
    source = file;
  } else if (python !== undefined && python !== '') {
    const script = path.resolve(__dirname, '../../../lib/bench/pytorch-train-step.py');
    const result = spawnSync(python, [script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    if (result.status !== 0) throw new Error(`${python} ${script} exited with ${result.status}`);
    text = result.stdout;
    source = `${path.basename(script)} run now`;
  } else {
    return undefined;
  }
  const line = text.trim().split('\n').pop() ?? '';
  const parsed = JSON.parse(line) as { ms_per_step_by_threads?: Record<string, number>; measured_at?: string };
  if (parsed.ms_per_step_by_threads === undefined) throw new Error(`${source}: no ms_per_step_by_threads (expected the output of pytorch-train-step.py)`);
  return { msPerStepByThreads: parsed.ms_per_step_by_threads, measuredAt: parsed.measured_at, source };
}

function round(value: number, digits = 1): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

/** The small from-scratch student of the README's experiment: zsd-scratch with svamp's task vocabulary (PaLM run). */
export const SMALL_SHAPE = { batch: 16, source: 96, target: 48 } as const;

export function smallStudentConfig(): T5Config {
  return presetConfig('zsd-scratch', { dropoutRate: 0.1, vocabSize: 1439 });
}

function smallStudentBatch(config: T5Config): TrainStepBatch {
  const { batch, source, target } = SMALL_SHAPE;
  return {
    inputIds: randomTokenRows(batch, source, config.vocabSize, SEED),
    attentionMask: Array.from({ length: batch }, () => new Array<number>(source).fill(1)),
    labels: randomTokenRows(batch, target, config.vocabSize, SEED + 1),
  };
}

function tokensPerStep(shape: { batch: number; source: number; target: number }): number {
  return shape.batch * (shape.source + shape.target);
}

type BenchLine = Record<string, unknown>;

/**
 * One line per (backend, model): wasm (the engines above, worker threads included), then the native backend when
 * installed (`npm run native-backend`; the same engines, each worker a TensorFlow context). Both models: the issue's
 * benchmark T5 (PyTorch's ratio beside it when measured) and the small from-scratch student (ratio to wasm).
 */
export async function benchTrainStep(): Promise<BenchLine[]> {
  const steps = Number(process.env.ZSD_BENCH_TRAIN_STEPS ?? 5);
  const warmup = Number(process.env.ZSD_BENCH_TRAIN_WARMUP ?? 2);
  const workers = Number(process.env.ZSD_BENCH_TRAIN_WORKERS ?? 2);
  const anchor = pytorchAnchor(); // first, alone on the machine
  const pytorchTwoThreads = anchor?.msPerStepByThreads['2'];
  const pytorchFields = (ms: number) =>
    anchor === undefined
      ? {}
      : {
          pytorch_ms_per_step: pytorchTwoThreads,
          ratio: pytorchTwoThreads === undefined ? undefined : round(ms / pytorchTwoThreads, 2),
          pytorch_ms_per_step_1_thread: anchor.msPerStepByThreads['1'],
          pytorch_measured_at: anchor.measuredAt,
          pytorch_source: anchor.source,
        };
  const lines: BenchLine[] = [];

  const wasm = await initBackend({ prefer: 'wasm' });
  const benchLine = await benchEngines(trainStepConfig(), trainStepBatch(trainStepConfig()), steps, warmup, workers);
  lines.push({
    bench: 'train-step',
    backend: 'wasm',
    model: 'zsd-bench',
    ...benchLine.summary,
    ...pytorchFields(benchLine.ms),
    backend_description: wasm.description,
    ...benchLine.details,
    shape: TRAIN_STEP_SHAPE,
  });
  const small = await benchEngines(smallStudentConfig(), smallStudentBatch(smallStudentConfig()), steps * 2, warmup, workers);
  lines.push({
    bench: 'train-step',
    backend: 'wasm',
    model: 'zsd-scratch',
    ...small.summary,
    tokens_per_second: Math.round((tokensPerStep(SMALL_SHAPE) * 1000) / small.ms),
    backend_description: wasm.description,
    ...small.details,
    shape: SMALL_SHAPE,
  });

  const native = await initBackend({ prefer: 'node' }).catch(() => undefined);
  if (native !== undefined) {
    // the same engines: the workers' TensorFlow contexts get a core each, the main thread's context every core
    const nativeBench = await benchEngines(trainStepConfig(), trainStepBatch(trainStepConfig()), steps, warmup, workers);
    lines.push({
      bench: 'train-step',
      backend: 'tfjs-node',
      model: 'zsd-bench',
      ...nativeBench.summary,
      ...pytorchFields(nativeBench.ms),
      ratio_wasm_to_native: round(benchLine.ms / nativeBench.ms, 2),
      backend_description: native.description,
      ...nativeBench.details,
      shape: TRAIN_STEP_SHAPE,
    });
    const nativeSmall = await benchEngines(smallStudentConfig(), smallStudentBatch(smallStudentConfig()), steps * 2, warmup, workers);
    lines.push({
      bench: 'train-step',
      backend: 'tfjs-node',
      model: 'zsd-scratch',
      ...nativeSmall.summary,
      tokens_per_second: Math.round((tokensPerStep(SMALL_SHAPE) * 1000) / nativeSmall.ms),
      ratio_wasm_to_native: round(small.ms / nativeSmall.ms, 2),
      backend_description: native.description,
      ...nativeSmall.details,
      shape: SMALL_SHAPE,
    });
  }
  return lines;
}

/** The three engines on one model, on the current backend: the fastest's time, and every engine's details. */
async function benchEngines(
  config: T5Config,
  batch: TrainStepBatch,
  steps: number,
  warmup: number,
  workers: number,
): Promise<{ ms: number; summary: BenchLine; details: BenchLine }> {
  const parallel = await timeParallel(config, batch, warmup + steps, workers);
  const parallelMs = median(parallel.all.slice(warmup));
  const trainerPath = await timeParallelTrainerPath(config, batch, warmup + steps, workers);
  const trainerPathMs = median(trainerPath.all.slice(warmup));
  const single = await timeSingleThread(config, batch, warmup + steps);
  const singleMs = median(single.all.slice(warmup));
  const engines: [string, number][] = [
    [`parallel: ${workers} worker threads, fused AdamW`, parallelMs],
    [`parallel_trainer_path: ${workers} worker threads, optimizers.ts AdamW on the main thread`, trainerPathMs],
    ['single: one thread, optimizers.ts AdamW', singleMs],
  ];
  const [fastestEngine, fastestMs] = engines.reduce((best, entry) => (entry[1] < best[1] ? entry : best));
  const lossRange = (times: StepTimes) => [round(times.losses[0], 4), round(times.losses[times.losses.length - 1], 4)];
  return {
    ms: fastestMs,
    summary: { ms_per_step: round(fastestMs), engine: fastestEngine },
    details: {
      steps,
      warmup_steps: warmup,
      ms_per_step_parallel: round(parallelMs),
      ms_steps_parallel: parallel.all.map((ms) => round(ms)),
      ms_worker_gradients_parallel: round(median(parallel.workerMs.slice(warmup))),
      ms_update_parallel: round(median(parallel.update.slice(warmup))),
      loss_first_last_parallel: lossRange(parallel),
      ms_per_step_parallel_trainer_path: round(trainerPathMs),
      loss_first_last_parallel_trainer_path: lossRange(trainerPath),
      ms_per_step_single: round(singleMs),
      ms_update_single: round(median(single.update.slice(warmup))),
      loss_first_last_single: lossRange(single),
      config: `${config.dModel} d_model, ${config.numLayers}+${config.numDecoderLayers} layers, d_ff ${config.dFf}, vocab ${config.vocabSize}, dropout ${config.dropoutRate}`,
    },
  };
}
