/** Messages between the ParallelGradientEngine and its gradient workers (structured clone; typed arrays copied, SharedArrayBuffers shared). */
import type { T5Config } from '../t5-config';
import type { FlatLayout } from './flat-parameters';
import type { FusedAdamWOptions } from './fused-adamw';

export interface WorkerSetup {
  workerIndex: number;
  /** the replica's backend: wasm (one thread each), or native TensorFlow with `nativeThreads` intra-op threads */
  backend: WorkerBackend;
  config: T5Config;
  layout: FlatLayout;
  /** the shared parameters; the replica loads them at start and on 'load-parameters' */
  parameters: Float32Array;
  /** every worker's gradient buffer (shared), indexed by worker; a worker writes only its own */
  gradients: Float32Array[];
}

export type WorkerBackend = 'wasm' | 'node' | 'node-gpu';

/** Some rows of one batch, for one worker; row-major [rows, length] arrays. */
export interface WorkerPiece {
  rows: number;
  sourceLength: number;
  targetLength: number;
  inputIds: Int32Array;
  attentionMask: Int32Array;
  labels: Int32Array;
  /** multiplies this piece's mean loss before differentiation; 0: loss only, no gradient */
  factor: number;
  dropoutSeed: number;
}

export type WorkerRequest =
  | { kind: 'gradients'; id: number; pieces: WorkerPiece[]; training: boolean; labelSmoothing: number }
  | { kind: 'sum-gradients'; id: number; from: number; to: number }
  | { kind: 'adamw'; id: number; from: number; to: number; options: FusedAdamWOptions; expAvg: Float32Array; expAvgSq: Float32Array }
  | { kind: 'load-parameters'; id: number };

export type WorkerResponse =
  /** backend: the replica's tfjs backend name ('wasm', 'tensorflow') */
  | { kind: 'ready'; backend: string }
  /** losses: each piece's mean loss (before its factor); milliseconds: time spent on the request in the worker;
   * liveTensors: tf.memory().numTensors after it (constant from request to request: no leaks) */
  | { kind: 'done'; id: number; losses?: number[]; milliseconds: number; liveTensors: number }
  | { kind: 'error'; id: number; message: string; stack?: string };
