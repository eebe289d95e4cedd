/**
 * A gradient worker: one T5 replica on its own backend: wasm (single-threaded in Node, so one worker per core is how
 * a step uses both cores), or native TensorFlow, whose context in this thread gets its share of the cores as
 * intra-op threads (the engine sets TF_NUM_INTRAOP_THREADS before the workers load it). It computes weighted loss gradients of the pieces it is sent into
 * its shared gradient buffer, sums slices of all workers' buffers, applies the fused AdamW to its slice of the
 * shared parameters, and reloads its replica from the shared parameters when told.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { initBackend } from '../backend';
import type { HostTensor } from '../safetensors';
import { T5Model } from '../t5-model';
import { flatViews } from './flat-parameters';
import { fusedAdamWRange } from './fused-adamw';
import type { WorkerPiece, WorkerRequest, WorkerResponse, WorkerSetup } from './protocol';

const setup = workerData as WorkerSetup;
const port = parentPort!;
const own = setup.gradients[setup.workerIndex];
let model: T5Model;
let variables: tf.Variable[];

function reply(message: WorkerResponse): void {
  port.postMessage(message);
}

/**
 * The tensor's data: on wasm a view of its heap, without a copy (valid until the next allocation on this backend);
 * on native TensorFlow a copy.
 */
function hostView(tensor: tf.Tensor): Float32Array {
  if (setup.backend === 'wasm') return (tf.backend() as BackendWasm).typedArrayFromHeap(tensor) as Float32Array;
  return tensor.dataSync() as Float32Array;
}

function loadParameters(): void {
  const views = flatViews(setup.layout, setup.parameters);
  for (const entry of setup.layout.entries) {
    const variable = model.parameters.get(entry.name)!;
    const value = tf.tensor(views.get(entry.name)!, entry.shape, 'float32');
    variable.assign(value); // a new data id: nothing cached on the old weights (xnn operators) is reused
    value.dispose();
  }
}

function computeGradients(pieces: WorkerPiece[], training: boolean, labelSmoothing: number): number[] {
  const losses: number[] = [];
  let written = false;
  const names = [...model.parameters.keys()];
  const offsets = new Map(setup.layout.entries.map((entry) => [entry.name, entry.offset]));
  for (const piece of pieces) {
    const batch = {
      inputIds: tf.tensor2d(piece.inputIds, [piece.rows, piece.sourceLength], 'int32'),
      attentionMask: tf.tensor2d(piece.attentionMask, [piece.rows, piece.sourceLength], 'int32'),
      labels: tf.tensor2d(piece.labels, [piece.rows, piece.targetLength], 'int32'),
    };
    model.seedDropout(piece.dropoutSeed);
    let loss = Number.NaN;
    if (piece.factor === 0) {
      loss = tf.tidy(() => model.lossFn(batch, { training, labelSmoothing }).dataSync()[0]);
    } else {
      const { value, grads } = tf.variableGrads(() => {
        const pieceLoss = model.lossFn(batch, { training, labelSmoothing });
        loss = pieceLoss.dataSync()[0];
        return tf.mul(pieceLoss, piece.factor) as tf.Scalar;
      }, variables);
      value.dispose();
      const byVariable = new Map(variables.map((variable, index) => [variable.name, names[index]]));
      const seen = new Set<string>();
      for (const [variableName, gradient] of Object.entries(grads)) {
        const name = byVariable.get(variableName)!;
        const offset = offsets.get(name)!;
        const data = hostView(gradient);
        if (!written) own.set(data, offset);
        else for (let i = 0; i < data.length; i++) own[offset + i] += data[i];
        seen.add(name);
        gradient.dispose();
      }
      if (!written) {
        for (const entry of setup.layout.entries) if (!seen.has(entry.name)) own.fill(0, entry.offset, entry.offset + entry.size);
      }
      written = true;
    }
    tf.dispose(Object.values(batch));
    losses.push(loss);
  }
  if (!written) own.fill(0);
  return losses;
}

function sumGradients(from: number, to: number): void {
  const [target, ...others] = setup.gradients;
  for (const other of others) for (let i = from; i < to; i++) target[i] += other[i];
}

function handle(request: WorkerRequest): WorkerResponse {
  const start = process.hrtime.bigint();
  const done = (losses?: number[]): WorkerResponse => ({
    kind: 'done',
    id: request.id,
    losses,
    milliseconds: Number(process.hrtime.bigint() - start) / 1e6,
    liveTensors: tf.memory().numTensors,
  });
  switch (request.kind) {
    case 'gradients':
      return done(computeGradients(request.pieces, request.training, request.labelSmoothing));
    case 'sum-gradients':
      sumGradients(request.from, request.to);
      return done();
    case 'adamw':
      fusedAdamWRange(
        setup.layout,
        { parameters: setup.parameters, expAvg: request.expAvg, expAvgSq: request.expAvgSq },
        setup.gradients,
        request.from,
        request.to,
        request.options,
      );
      return done();
    case 'load-parameters':
      loadParameters();
      return done();
  }
}

async function main(): Promise<void> {
  await initBackend({ prefer: setup.backend });
  const views = flatViews(setup.layout, setup.parameters);
  const tensors = new Map<string, HostTensor>(setup.layout.entries.map((entry) => [entry.name, { shape: entry.shape, data: views.get(entry.name)! }]));
  model = T5Model.fromHostTensors(setup.config, tensors);
  variables = model.trainableVariables();
  port.on('message', (request: WorkerRequest) => {
    try {
      reply(handle(request));
    } catch (error) {
      reply({
        kind: 'error',
        id: request.id,
        message: error instanceof Error ? error.message : String(error),
        stack: error instanceof Error ? error.stack : undefined,
      });
    }
  });
  reply({ kind: 'ready', backend: tf.getBackend() });
}

main().catch((error: unknown) => {
  reply({ kind: 'error', id: -1, message: error instanceof Error ? error.message : String(error), stack: error instanceof Error ? error.stack : undefined });
});
