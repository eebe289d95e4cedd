/**
 * Data-parallel gradients on worker threads: the wasm backend runs one thread per Node thread, so a step uses both
 * cores only when two threads each compute half of it. Each worker (gradient-worker.ts) holds a replica of the model;
 * the rows of every batch are split between the workers; each computes the loss gradient of its rows into its own
 * shared gradient buffer, weighted by its share of the batch's label tokens, so that the sum over workers is the
 * gradient of the full batch's mean loss. The sum, the optimizer update and the parameter copy are split between the
 * workers by parameter range (each worker a slice), so no single thread walks all 26M parameters.
 *
 * Two ways to use it:
 * - As trainer.ts's GradientEngine: `step` adds the summed gradients to the trainer's accumulator; the trainer's
 *   optimizer updates the main thread's model; `parametersChanged` copies it to the replicas.
 * - With the fused AdamW (`applyAdamW`): the update runs in the workers on the shared parameters, and the replicas
 *   reload them; the main thread's model is refreshed only on request (`copyParametersTo`), e.g. before evaluation.
 *
 * Invariants (parallel-gradient-engine.test.ts): the summed gradients equal single-thread gradients of the same
 * batch (to float32 rounding); the workers' replicas equal the shared parameters after every update; a worker
 * error rejects the call that caused it.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { ZsdError } from '../../core/errors';
import type { T5Model } from '../t5-model';
import { IGNORE_INDEX } from '../t5-model';
import {
  lossCoefficients,
  microStepLoss,
  rationaleShares,
  type GradientAccumulator,
  type GradientEngine,
  type MicroStepLoss,
  type MicroStepOptions,
} from '../trainer';
import type { EncodedBatch } from '../batches';
import { flatLayout, flatViews, sharedFloats, splitRange, type FlatLayout } from './flat-parameters';
import type { FusedAdamWOptions } from './fused-adamw';
import type { HostTensor } from '../safetensors';
import type { WorkerBackend, WorkerPiece, WorkerRequest, WorkerResponse, WorkerSetup } from './protocol';

/** A batch as host arrays ([rows][length]); labels -100 where the loss ignores a position. */
export interface HostBatch {
  inputIds: number[][];
  attentionMask: number[][];
  labels: number[][];
}

export interface GradientPiece {
  batch: HostBatch;
  /** multiplies the batch's mean loss before differentiation (0: loss only) */
  factor: number;
  dropoutSeed: number;
}

export interface ParallelEngineOptions {
  /** worker threads (default 2: one per core of the target machine) */
  workers?: number;
  /** the replicas' backend (default: native TensorFlow when the main thread runs on it, else wasm) */
  backend?: WorkerBackend;
  /** dropout on (default true) */
  training?: boolean;
}

export interface GradientTimings {
  /** per worker, ms spent computing its pieces (last computeGradients) */
  workerMilliseconds: number[];
  /** per worker, ms of its slice of the fused AdamW (last applyAdamW) */
  updateMilliseconds: number[];
  /** per worker, ms to reload its replica from the shared parameters (last reload) */
  reloadMilliseconds: number[];
  /** per worker, live tensors after the last request */
  liveTensors: number[];
}

type Pending = { resolve: (response: WorkerResponse & { kind: 'done' }) => void; reject: (error: Error) => void };

export class ParallelGradientEngine implements GradientEngine {
  private nextId = 0;
  private readonly pending = new Map<number, Pending>();
  private adamState: { expAvg: Float32Array; expAvgSq: Float32Array; step: number } | undefined;
  private failure: Error | undefined;
  /** after computeGradients, the per-worker sums are still apart (sumGradients folds them into buffer 0) */
  private gradientsSummed = false;
  lastTimings: GradientTimings = { workerMilliseconds: [], updateMilliseconds: [], reloadMilliseconds: [], liveTensors: [] };

  private constructor(
    readonly layout: FlatLayout,
    private readonly model: T5Model,
    private readonly workers: Worker[],
    /** shared parameters, flat */
    readonly parameters: Float32Array,
    /** shared gradient buffers, one per worker */
    private readonly gradientBuffers: Float32Array[],
    private readonly training: boolean,
    /** the replicas' tfjs backend name ('wasm', 'tensorflow') */
    readonly workerBackend: string,
  ) {
    for (const [index, worker] of workers.entries()) {
      worker.on('message', (message: WorkerResponse) => this.onMessage(message));
      worker.on('error', (error) => this.fail(new ZsdError('internal', `gradient worker ${index} failed: ${error.message}`)));
      worker.on('exit', (code) => {
        if (code !== 0) this.fail(new ZsdError('internal', `gradient worker ${index} exited with code ${code}`));
      });
    }
  }

  /** Starts the workers with replicas of `model`'s current parameters. */
  static async start(model: T5Model, options: ParallelEngineOptions = {}): Promise<ParallelGradientEngine> {
    const count = options.workers ?? 2;
    if (!(Number.isInteger(count) && count >= 1)) throw new ZsdError('usage', `workers must be a positive integer, got ${count}`);
    const layout = flatLayout(model.config);
    const parameters = sharedFloats(layout.total, 0);
    copyModelInto(model, layout, parameters);
    const gradientBuffers = Array.from({ length: count }, (_, index) => sharedFloats(layout.total, 3 + index));
    const backend = options.backend ?? (tf.getBackend() === 'tensorflow' ? 'node' : 'wasm');
    const restoreEnvironment = backend === 'wasm' ? () => {} : shareCoresBetweenNativeContexts(count);
    const workers: Worker[] = [];
    const ready: Promise<string>[] = [];
    for (let workerIndex = 0; workerIndex < count; workerIndex++) {
      const setup: WorkerSetup = { workerIndex, backend, config: model.config, layout, parameters, gradients: gradientBuffers };
      const worker = spawnWorker(setup);
      workers.push(worker);
      ready.push(
        new Promise<string>((resolve, reject) => {
          const onMessage = (message: WorkerResponse) => {
            if (message.kind === 'ready') resolve(message.backend);
            else if (message.kind === 'error') reject(new ZsdError('internal', `gradient worker ${workerIndex} did not start: ${message.message}`));
            else return;
            worker.off('message', onMessage);
          };
          worker.on('message', onMessage);
          worker.once('error', reject);
        }),
      );
    }
    let workerBackends: string[];
    try {
      workerBackends = await Promise.all(ready);
    } catch (error) {
      await Promise.all(workers.map((worker) => worker.terminate()));
      throw error;
    } finally {
      restoreEnvironment();
    }
    return new ParallelGradientEngine(layout, model, workers, parameters, gradientBuffers, options.training ?? true, workerBackends[0]);
  }

  get workerCount(): number {
    return this.workers.length;
  }

  /**
   * Loss gradients of the pieces, summed: sum over pieces of factor * d(mean loss of the piece's batch)/d(parameters).
   * Each batch's rows are split between the workers (trailing all-padding columns of a worker's rows dropped); a
   * worker's share is weighted by its label tokens over the batch's, so the sum is the full batch's mean-loss gradient.
   * Returns each piece's mean loss. Read the gradients with sumGradients, or update with applyAdamW.
   */
  async computeGradients(pieces: readonly GradientPiece[], options: { labelSmoothing?: number } = {}): Promise<number[]> {
    const perWorker: WorkerPiece[][] = this.workers.map(() => []);
    const shares: { worker: number; index: number; tokens: number }[][] = [];
    for (const piece of pieces) {
      const rows = piece.batch.labels.length;
      const total = countLabels(piece.batch.labels, 0, rows);
      if (total === 0) throw new ZsdError('internal', 'a batch without label tokens has no mean loss');
      const pieceShares: { worker: number; index: number; tokens: number }[] = [];
      for (const [worker, [from, to]] of rowRanges(rows, this.workers.length).entries()) {
        const tokens = countLabels(piece.batch.labels, from, to);
        if (tokens === 0) continue; // no counted position: no contribution to the mean or its gradient
        const workerPiece = slicePiece(piece.batch, from, to, piece.factor * (tokens / total), workerSeed(piece.dropoutSeed, worker));
        pieceShares.push({ worker, index: perWorker[worker].length, tokens });
        perWorker[worker].push(workerPiece);
      }
      shares.push(pieceShares);
    }
    const responses = await Promise.all(
      this.workers.map((_, worker) =>
        this.request(worker, { kind: 'gradients', id: 0, pieces: perWorker[worker], training: this.training, labelSmoothing: options.labelSmoothing ?? 0 }),
      ),
    );
    this.gradientsSummed = false;
    this.lastTimings.workerMilliseconds = responses.map((response) => response.milliseconds);
    return pieces.map((piece, index) => {
      const total = countLabels(piece.batch.labels, 0, piece.batch.labels.length);
      let sum = 0;
      for (const share of shares[index]) sum += share.tokens * responses[share.worker].losses![share.index];
      return sum / total;
    });
  }

  /** The summed gradients of the last computeGradients, by parameter name: views of shared memory, valid until the next call. */
  async sumGradients(): Promise<Map<string, Float32Array>> {
    await this.foldGradients();
    return flatViews(this.layout, this.gradientBuffers[0]);
  }

  /**
   * One AdamW update (fused-adamw.ts) with the summed gradients of the last computeGradients, applied to the shared
   * parameters in slices by the workers, whose replicas then reload them. The main thread's model is not updated
   * (copyParametersTo). Slot state lives in shared memory, created on the first call; `step` counts the calls.
   */
  async applyAdamW(options: Omit<FusedAdamWOptions, 'step'>): Promise<void> {
    if (this.adamState === undefined) {
      this.adamState = { expAvg: sharedFloats(this.layout.total, 1), expAvgSq: sharedFloats(this.layout.total, 2), step: 0 };
    }
    const state = this.adamState;
    state.step++;
    // the update sums the per-worker gradient buffers itself; folded ones are summed already
    const ranges = splitRange(this.layout.total, this.workers.length);
    if (this.gradientsSummed) {
      // buffer 0 holds the sum: zero the others so that the update's sum stays right
      for (const buffer of this.gradientBuffers.slice(1)) buffer.fill(0);
      this.gradientsSummed = false;
    }
    const responses = await Promise.all(
      ranges.map(([from, to], worker) =>
        this.request(worker, { kind: 'adamw', id: 0, from, to, options: { ...options, step: state.step }, expAvg: state.expAvg, expAvgSq: state.expAvgSq }),
      ),
    );
    this.lastTimings.updateMilliseconds = responses.map((response) => response.milliseconds);
    await this.reloadReplicas();
  }

  /** Copies the shared parameters into `model`'s variables (after applyAdamW, before evaluating or saving it). */
  copyParametersTo(model: T5Model = this.model): void {
    const views = flatViews(this.layout, this.parameters);
    for (const entry of this.layout.entries) {
      const variable = model.parameters.get(entry.name);
      if (variable === undefined) throw new ZsdError('internal', `the model has no parameter ${entry.name}`);
      const value = tf.tensor(views.get(entry.name)!, entry.shape, 'float32');
      variable.assign(value);
      value.dispose();
    }
  }

  // ---- trainer.ts's GradientEngine -------------------------------------------------------------------------------

  async step(batches: readonly EncodedBatch[], options: MicroStepOptions, into: GradientAccumulator): Promise<MicroStepLoss> {
    const { loss, differentiated } = await this.stepInPlace(batches, options);
    if (differentiated) {
      for (const [name, gradient] of await this.sumGradients()) {
        into.addHost(name, gradient, this.layout.entries.find((entry) => entry.name === name)!.shape);
      }
    }
    return loss;
  }

  // ---- trainer.ts's FusedAdamWEngine: the update stays in the workers ------------------------------------------

  /**
   * As step, but the gradients stay in the engine's shared buffers for gradientNorm and applyAdamW. `differentiated`
   * is false when no batch contributed a gradient (then the buffers hold nothing of this step).
   */
  async stepInPlace(batches: readonly EncodedBatch[], options: MicroStepOptions): Promise<{ loss: MicroStepLoss; differentiated: boolean }> {
    const coefficients = lossCoefficients(batches, options.alpha);
    const shares = rationaleShares(batches);
    if (options.dropoutSeeds.length !== batches.length) throw new ZsdError('internal', 'one dropout seed per batch is needed');
    const pieces: GradientPiece[] = [];
    const pieceOf: (number | undefined)[] = [];
    for (const [index, batch] of batches.entries()) {
      if (countLabels(batch.labels, 0, batch.labels.length) === 0) {
        pieceOf.push(undefined); // contributes 0, as LocalGradientEngine
        continue;
      }
      pieceOf.push(pieces.length);
      pieces.push({ batch, factor: coefficients[index] * options.scale, dropoutSeed: options.dropoutSeeds[index] });
    }
    const losses = pieces.length > 0 ? await this.computeGradients(pieces, { labelSmoothing: options.labelSmoothing }) : [];
    const batchLosses = pieceOf.map((piece) => (piece === undefined ? 0 : losses[piece]));
    return { loss: microStepLoss(batches, coefficients, shares, batchLosses), differentiated: pieces.some((piece) => piece.factor !== 0) };
  }

  /** The global norm of the summed gradients of the last computeGradients (as torch: float32 of the 2-norm). */
  async gradientNorm(): Promise<number> {
    await this.foldGradients();
    const summed = this.gradientBuffers[0];
    let squares = 0;
    for (let i = 0; i < summed.length; i++) squares += summed[i] * summed[i];
    return Math.fround(Math.sqrt(squares));
  }

  /** The fused AdamW's moments as optimizers.ts names them (`<parameter>/exp_avg`, `/exp_avg_sq`) and its step count. */
  adamWState(): { step: number; tensors: Map<string, HostTensor> } {
    const tensors = new Map<string, HostTensor>();
    if (this.adamState === undefined) return { step: 0, tensors };
    const moments = { exp_avg: flatViews(this.layout, this.adamState.expAvg), exp_avg_sq: flatViews(this.layout, this.adamState.expAvgSq) };
    for (const entry of this.layout.entries) {
      for (const [slot, views] of Object.entries(moments))
        tensors.set(`${entry.name}/${slot}`, { shape: [...entry.shape], data: Float32Array.from(views.get(entry.name)!) });
    }
    return { step: this.adamState.step, tensors };
  }

  /** Replaces the fused AdamW's moments and step count (a resumed run's optimizer state); every parameter's slots are needed. */
  loadAdamWState(step: number, tensors: ReadonlyMap<string, HostTensor>): void {
    const expAvg = sharedFloats(this.layout.total, 1);
    const expAvgSq = sharedFloats(this.layout.total, 2);
    for (const entry of this.layout.entries) {
      for (const [slot, target] of [
        ['exp_avg', expAvg],
        ['exp_avg_sq', expAvgSq],
      ] as const) {
        const host = tensors.get(`${entry.name}/${slot}`);
        if (host === undefined || host.data.length !== entry.size)
          throw new ZsdError('invalid-file', `optimizer state: ${entry.name}/${slot} missing or of the wrong size`, { key: `${entry.name}/${slot}` });
        target.set(host.data, entry.offset);
      }
    }
    this.adamState = { expAvg, expAvgSq, step };
  }

  /** The main thread's model changed (an optimizer update, a checkpoint load): copy it to the replicas. */
  async parametersChanged(): Promise<void> {
    copyModelInto(this.model, this.layout, this.parameters);
    await this.reloadReplicas();
  }

  dispose(): void {
    void this.close();
  }

  async close(): Promise<void> {
    this.fail(new ZsdError('internal', 'the parallel gradient engine was closed'));
    await Promise.all(this.workers.map((worker) => worker.terminate()));
  }

  // ---------------------------------------------------------------------------------------------------------------

  private async foldGradients(): Promise<void> {
    if (this.gradientsSummed || this.workers.length === 1) {
      this.gradientsSummed = true;
      return;
    }
    const ranges = splitRange(this.layout.total, this.workers.length);
    await Promise.all(ranges.map(([from, to], worker) => this.request(worker, { kind: 'sum-gradients', id: 0, from, to })));
    this.gradientsSummed = true;
  }

  private async reloadReplicas(): Promise<void> {
    const responses = await Promise.all(this.workers.map((_, worker) => this.request(worker, { kind: 'load-parameters', id: 0 })));
    this.lastTimings.reloadMilliseconds = responses.map((response) => response.milliseconds);
  }

  private request(worker: number, request: WorkerRequest): Promise<WorkerResponse & { kind: 'done' }> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const done = (response: WorkerResponse & { kind: 'done' }) => {
        this.lastTimings.liveTensors[worker] = response.liveTensors;
        resolve(response);
      };
      this.pending.set(id, { resolve: done, reject });
      this.workers[worker].postMessage({ ...request, id });
    });
  }

  private onMessage(message: WorkerResponse): void {
    if (message.kind === 'ready') return;
    const pending = this.pending.get(message.id);
    if (pending === undefined) {
      if (message.kind === 'error') this.fail(new ZsdError('internal', `gradient worker: ${message.message}`));
      return;
    }
    this.pending.delete(message.id);
    if (message.kind === 'done') pending.resolve(message);
    else pending.reject(new ZsdError('internal', `gradient worker: ${message.message}${message.stack ? `\n${message.stack}` : ''}`));
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const pending of this.pending.values()) pending.reject(error);
    this.pending.clear();
  }
}

// ---------------------------------------------------------------------------------------------------------------

/**
 * Each worker's native TensorFlow context reads its thread counts from the process environment when it loads
 * (TF_NUM_INTRAOP_THREADS, TF_NUM_INTEROP_THREADS); a worker thread's `process.env` is a copy, so the main thread
 * sets them, unless the user did, for as long as the workers start. Each gets its share of the cores: for the small
 * students, per-kernel overhead dominates and one thread per context is faster than two sharing every kernel
 * (README.md of this folder). Returns the function that puts the environment back.
 */
function shareCoresBetweenNativeContexts(workers: number): () => void {
  const threads = String(Math.max(1, Math.floor(os.availableParallelism() / workers)));
  const saved = { intraOp: process.env.TF_NUM_INTRAOP_THREADS, interOp: process.env.TF_NUM_INTEROP_THREADS };
  process.env.TF_NUM_INTRAOP_THREADS ??= threads;
  process.env.TF_NUM_INTEROP_THREADS ??= '1';
  return () => {
    if (saved.intraOp === undefined) delete process.env.TF_NUM_INTRAOP_THREADS;
    if (saved.interOp === undefined) delete process.env.TF_NUM_INTEROP_THREADS;
  };
}

function copyModelInto(model: T5Model, layout: FlatLayout, flat: Float32Array): void {
  for (const entry of layout.entries) {
    const variable = model.parameters.get(entry.name);
    if (variable === undefined) throw new ZsdError('internal', `the model has no parameter ${entry.name}`);
    flat.set(variable.dataSync() as Float32Array, entry.offset);
  }
}

/**
 * The worker script: the compiled sibling (dist/), or under ts (jest) the .ts source through @swc/core, the
 * transform the tests already use (a dev dependency; the built package never takes this path).
 */
function spawnWorker(setup: WorkerSetup): Worker {
  const compiled = path.join(__dirname, 'gradient-worker.js');
  if (__filename.endsWith('.js') && fs.existsSync(compiled)) return new Worker(compiled, { workerData: setup });
  const source = path.join(__dirname, 'gradient-worker.ts');
  const bootstrap = `
    const fs = require('node:fs');
    const Module = require('node:module');
    const { transformSync } = require(${JSON.stringify(require.resolve('@swc/core'))});
    Module._extensions['.ts'] = (module, filename) => {
      const { code } = transformSync(fs.readFileSync(filename, 'utf8'), {
        filename, jsc: { target: 'es2022', parser: { syntax: 'typescript' } }, module: { type: 'commonjs' },
      });
      module._compile(code, filename);
    };
    require(${JSON.stringify(source)});
  `;
  return new Worker(bootstrap, { eval: true, workerData: setup });
}

/** Contiguous row blocks, one per worker (fewer when there are fewer rows than workers). */
function rowRanges(rows: number, workers: number): [number, number][] {
  const ranges: [number, number][] = [];
  const per = Math.ceil(rows / workers);
  for (let from = 0; from < rows; from += per) ranges.push([from, Math.min(rows, from + per)]);
  return ranges;
}

function countLabels(labels: number[][], from: number, to: number): number {
  let count = 0;
  for (let row = from; row < to; row++) for (const label of labels[row]) if (label !== IGNORE_INDEX) count++;
  return count;
}

/** Rows [from, to) as flat int32 arrays, without trailing columns that are padding in every one of these rows. */
function slicePiece(batch: HostBatch, from: number, to: number, factor: number, dropoutSeed: number): WorkerPiece {
  const rows = to - from;
  let sourceLength = 0;
  let targetLength = 0;
  for (let row = from; row < to; row++) {
    const mask = batch.attentionMask[row];
    for (let t = mask.length - 1; t >= sourceLength; t--)
      if (mask[t] !== 0) {
        sourceLength = t + 1;
        break;
      }
    const labels = batch.labels[row];
    for (let t = labels.length - 1; t >= targetLength; t--)
      if (labels[t] !== IGNORE_INDEX) {
        targetLength = t + 1;
        break;
      }
  }
  sourceLength = Math.max(sourceLength, 1);
  const inputIds = new Int32Array(rows * sourceLength);
  const attentionMask = new Int32Array(rows * sourceLength);
  const labels = new Int32Array(rows * targetLength);
  for (let row = 0; row < rows; row++) {
    for (let t = 0; t < sourceLength; t++) {
      inputIds[row * sourceLength + t] = batch.inputIds[from + row][t];
      attentionMask[row * sourceLength + t] = batch.attentionMask[from + row][t];
    }
    for (let t = 0; t < targetLength; t++) labels[row * targetLength + t] = batch.labels[from + row][t];
  }
  return { rows, sourceLength, targetLength, inputIds, attentionMask, labels, factor, dropoutSeed };
}

/** Each worker's dropout masks from the batch's seed and the worker's index (31-bit, like the trainer's seeds). */
function workerSeed(seed: number, worker: number): number {
  return (Math.imul((seed ^ 0x5bd1e995) >>> 0, 2654435761) + worker * 40503) & 0x7fffffff;
}
