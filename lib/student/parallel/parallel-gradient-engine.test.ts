import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../backend';
import { AdamW } from '../optimizers';
import { presetConfig, type T5Config } from '../t5-config';
import { IGNORE_INDEX, T5Model } from '../t5-model';
import { GradientAccumulator, LocalGradientEngine } from '../trainer';
import type { EncodedBatch } from '../batches';
import { ParallelGradientEngine, type HostBatch } from './parallel-gradient-engine';

beforeAll(async () => {
  await initBackend({ prefer: 'wasm' });
});

/** Small, but with every feature the step uses: gated gelu, an untied head, num_heads * d_kv != d_model. */
function smallConfig(): T5Config {
  return presetConfig('zsd-bench', { vocabSize: 64, dModel: 24, dKv: 6, numHeads: 3, dFf: 32, numLayers: 2, numDecoderLayers: 2, dropoutRate: 0 });
}

/**
 * 5 rows (an odd number: the workers get 3 and 2) with padded inputs and labels of different lengths, so that the
 * label-token weighting and the trimming of padding columns both matter.
 */
function paddedBatch(): HostBatch {
  const lengths = [7, 4, 9, 2, 6];
  const labelLengths = [3, 5, 1, 4, 2];
  const ids = (row: number, t: number) => 2 + ((row * 17 + t * 5) % 60);
  return {
    inputIds: lengths.map((length, row) => Array.from({ length: 9 }, (_, t) => (t < length ? ids(row, t) : 0))),
    attentionMask: lengths.map((length) => Array.from({ length: 9 }, (_, t) => (t < length ? 1 : 0))),
    labels: labelLengths.map((length, row) => Array.from({ length: 5 }, (_, t) => (t < length ? ids(row + 3, t) : IGNORE_INDEX))),
  };
}

function singleThreadGradients(model: T5Model, batch: HostBatch): { loss: number; gradients: Map<string, Float32Array> } {
  const tensors = {
    inputIds: tf.tensor2d(batch.inputIds, undefined, 'int32'),
    attentionMask: tf.tensor2d(batch.attentionMask, undefined, 'int32'),
    labels: tf.tensor2d(batch.labels, undefined, 'int32'),
  };
  const { value, grads } = tf.variableGrads(() => model.lossFn(tensors), model.trainableVariables());
  const names = new Map([...model.parameters].map(([name, variable]) => [variable.name, name]));
  const gradients = new Map(Object.entries(grads).map(([variable, gradient]) => [names.get(variable)!, gradient.dataSync() as Float32Array]));
  const loss = value.dataSync()[0];
  tf.dispose([value, ...Object.values(grads), ...Object.values(tensors)]);
  return { loss, gradients };
}

/** max |a - b| over all parameters, relative to the largest |b| of that parameter (at least 1e-3) */
function worstRelativeDifference(actual: ReadonlyMap<string, Float32Array>, expected: ReadonlyMap<string, Float32Array>): { name: string; difference: number } {
  let worst = { name: '', difference: 0 };
  expect([...actual.keys()].sort()).toEqual([...expected.keys()].sort());
  for (const [name, want] of expected) {
    const got = actual.get(name)!;
    let scale = 1e-3;
    let difference = 0;
    for (let i = 0; i < want.length; i++) {
      scale = Math.max(scale, Math.abs(want[i]));
      difference = Math.max(difference, Math.abs(got[i] - want[i]));
    }
    if (difference / scale > worst.difference) worst = { name, difference: difference / scale };
  }
  return worst;
}

function hostParameters(model: T5Model): Map<string, Float32Array> {
  return new Map([...model.parameters].map(([name, variable]) => [name, Float32Array.from(variable.dataSync() as Float32Array)]));
}

test('two workers: summed gradients equal the single-thread gradients of the same batch; AdamW and the replicas follow', async () => {
  const config = smallConfig();
  const model = T5Model.randomInit(config, 3);
  const batch = paddedBatch();
  const threadsBefore = process.env.TF_NUM_INTRAOP_THREADS;
  const engine = await ParallelGradientEngine.start(model, { workers: 2, training: false });
  try {
    // the replicas run where the main thread runs (native TensorFlow in CI's default project, wasm in the other),
    // and the thread settings the native workers were started with are not left behind
    expect(engine.workerBackend).toBe(tf.getBackend());
    expect(process.env.TF_NUM_INTRAOP_THREADS).toBe(threadsBefore);
    const expected = singleThreadGradients(model, batch);
    const [loss] = await engine.computeGradients([{ batch, factor: 1, dropoutSeed: 0 }]);
    expect(Math.abs(loss - expected.loss) / expected.loss).toBeLessThan(1e-6);
    const summed = await engine.sumGradients();
    expect(worstRelativeDifference(summed, expected.gradients).difference).toBeLessThan(1e-5);

    // The fused AdamW in the workers = optimizers.ts's AdamW on the main thread, with the same gradients.
    const options = { learningRate: 1e-2, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.01, noDecay: ['shared.weight'] };
    await engine.applyAdamW(options);
    const optimizer = new AdamW(model.parameters, options);
    const gradients = new Map([...expected.gradients].map(([name, data]) => [name, tf.tensor(data, model.parameters.get(name)!.shape)]));
    optimizer.apply(gradients, options.learningRate);
    tf.dispose([...gradients.values()]);
    const updated = new Map([...hostParameters(model)].map(([name]) => [name, engine.parameters.subarray(0, 0)]));
    for (const entry of engine.layout.entries) updated.set(entry.name, engine.parameters.subarray(entry.offset, entry.offset + entry.size));
    expect(worstRelativeDifference(updated, hostParameters(model)).difference).toBeLessThan(1e-5);
    optimizer.dispose();

    // The replicas reloaded the update: gradients at the new point agree again. No tensor leaks in the workers.
    engine.copyParametersTo(model);
    const next = singleThreadGradients(model, batch);
    const liveBefore = [...engine.lastTimings.liveTensors];
    const [nextLoss] = await engine.computeGradients([{ batch, factor: 1, dropoutSeed: 0 }]);
    await engine.computeGradients([
      { batch, factor: 0.5, dropoutSeed: 1 },
      { batch, factor: 0, dropoutSeed: 2 },
    ]);
    await engine.parametersChanged();
    expect(engine.lastTimings.liveTensors).toEqual(liveBefore);
    expect(liveBefore.every((count) => count > 0)).toBe(true);
    await engine.computeGradients([{ batch, factor: 1, dropoutSeed: 0 }]);
    expect(Math.abs(nextLoss - next.loss) / next.loss).toBeLessThan(1e-6);
    expect(nextLoss).not.toBeCloseTo(loss, 3);
    expect(worstRelativeDifference(await engine.sumGradients(), next.gradients).difference).toBeLessThan(1e-5);
  } finally {
    await engine.close();
    model.dispose();
  }
}, 120_000);

test("as the trainer's GradientEngine: the same losses and accumulated gradients as LocalGradientEngine", async () => {
  const config = smallConfig();
  const model = T5Model.randomInit(config, 5);
  const predict: EncodedBatch = { ...paddedBatch(), task: 'predict', rows: [0, 1, 2, 3, 4] };
  const explain: EncodedBatch = {
    ...paddedBatch(),
    labels: paddedBatch().labels.map((row) => [...row].reverse()),
    task: 'explain',
    source: 'palm',
    weight: 1,
    rows: [0, 1, 2, 3, 4],
  };
  // label smoothing travels to the workers: without it the losses would differ
  const options = { alpha: 0.3, scale: 0.5, dropoutSeeds: [11, 12], labelSmoothing: 0.1 };
  // eval-mode models on both sides: with dropout the masks differ by design (each worker has its own)
  const local = new LocalGradientEngine(model);
  const localSums = new GradientAccumulator();
  model.lossFn = (
    (original) => (batch, runOptions) =>
      original(batch, { ...runOptions, training: false })
  )(model.lossFn.bind(model));
  const expected = await local.step([predict, explain], options, localSums);
  const engine = await ParallelGradientEngine.start(model, { workers: 2, training: false });
  const parallelSums = new GradientAccumulator();
  try {
    const actual = await engine.step([predict, explain], options, parallelSums);
    expect(actual.tokens).toBe(expected.tokens);
    for (const key of ['loss', 'labelLoss', 'rationaleLoss'] as const) expect(actual[key]).toBeCloseTo(expected[key] as number, 5);
    expect(actual.rationaleLosses.palm).toBeCloseTo(expected.rationaleLosses.palm, 5);
    const toHost = (sums: Map<string, tf.Tensor>) => new Map([...sums].map(([name, tensor]) => [name, tensor.dataSync() as Float32Array]));
    const want = localSums.take();
    const got = parallelSums.take();
    expect(worstRelativeDifference(toHost(got), toHost(want)).difference).toBeLessThan(1e-5);
    tf.dispose([...want.values(), ...got.values()]);
  } finally {
    await engine.close();
    model.dispose();
  }
}, 120_000);
