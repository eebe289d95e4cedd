import * as tf from '@tensorflow/tfjs-core';
import { isZsdError } from '../core/errors';
import { expectedBackendName } from '../test-support/backends';
import {
  geluTanh,
  geluTanhOps,
  backendPreferenceFromEnvironment,
  initBackend,
  linearProduct,
  matMul,
  softmaxCrossEntropyForward,
  softmaxCrossEntropyForwardOps,
  softmaxCrossEntropyGradientColumns,
  softmaxCrossEntropyGradientColumnsOps,
} from './backend';

beforeAll(async () => {
  await initBackend();
});

describe('initBackend', () => {
  test('takes the native backend when installed (else wasm, with SIMD reported), never cpu', async () => {
    const info = await initBackend();
    expect(info.name).toBe(expectedBackendName());
    expect(info.description).toMatch(info.name === 'wasm' ? /SIMD (on|off)/ : /@tensorflow\/tfjs-node.* \(native TensorFlow\)/);
    expect(tf.getBackend()).toBe(info.name);
    // tfjs-node's own @tensorflow/tfjs registers the cpu factory; zsd never selects it
    if (info.name === 'wasm') expect(tf.findBackendFactory('cpu')).toBeNull();
  });

  test('is idempotent', async () => {
    const first = await initBackend();
    const second = await initBackend({ prefer: 'auto' });
    expect(second).toEqual(first);
    const wasm = await initBackend({ prefer: 'wasm' });
    expect(wasm.name).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    await initBackend({ prefer: first.name === 'wasm' ? 'wasm' : 'node' }); // back to this run's backend
  });

  test('asking for a native backend that is not installed fails with the reason', async () => {
    const error = await initBackend({ prefer: 'node-gpu' }).catch((thrown: unknown) => thrown);
    expect(isZsdError(error) && error.kind).toBe('not-found');
    expect((error as Error).message).toContain('@tensorflow/tfjs-node-gpu: not installed');
  });

  test('ZSD_BACKEND pins the preference; a value outside the four is refused naming the variable', () => {
    expect(backendPreferenceFromEnvironment({})).toBe('auto');
    expect(backendPreferenceFromEnvironment({ ZSD_BACKEND: 'wasm' })).toBe('wasm');
    expect(backendPreferenceFromEnvironment({ ZSD_BACKEND: 'node' })).toBe('node');
    expect(() => backendPreferenceFromEnvironment({ ZSD_BACKEND: 'cpu' })).toThrow(/ZSD_BACKEND=cpu: expected one of auto, wasm, node, node-gpu/);
  });
});

describe('wasm fixes', () => {
  test('the gradient of gather (embedding lookup) sums rows per index (UnsortedSegmentSum)', () => {
    const table = tf.tensor2d([
      [1, 2],
      [3, 4],
      [5, 6],
    ]);
    const indices = tf.tensor2d(
      [
        [0, 2, 0],
        [1, 0, 0],
      ],
      undefined,
      'int32',
    );
    const weights = tf.tensor3d([
      [
        [1, 10],
        [2, 20],
        [3, 30],
      ],
      [
        [4, 40],
        [5, 50],
        [6, 60],
      ],
    ]);
    const gradient = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(tf.gather(x, indices), weights)))(table);
    // row 0 gathered at (0,0), (0,2), (1,1), (1,2); row 1 at (1,0); row 2 at (0,1)
    expect(gradient.arraySync()).toEqual([
      [1 + 3 + 5 + 6, 10 + 30 + 50 + 60],
      [4, 40],
      [2, 20],
    ]);
    tf.dispose([table, indices, weights, gradient]);
  });

  test('matMul gradients are those of a @ b, for matrices and batches', () => {
    for (const [aShape, bShape] of [
      [
        [3, 4],
        [4, 5],
      ],
      [
        [2, 3, 4],
        [2, 4, 5],
      ],
    ]) {
      const a = tf.randomNormal(aShape, 0, 1, 'float32', 1);
      const b = tf.randomNormal(bShape, 0, 1, 'float32', 2);
      const upstream = tf.randomNormal([...aShape.slice(0, -1), bShape[bShape.length - 1]], 0, 1, 'float32', 3);
      const [gradA, gradB] = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(matMul(x, y), upstream)))([a, b]);
      expect(maxDifference(matMul(a, b), tf.matMul(a, b))).toBe(0);
      expect(maxDifference(gradA, tf.matMul(upstream, b, false, true))).toBeLessThan(1e-5);
      expect(maxDifference(gradB, tf.matMul(a, upstream, true, false))).toBeLessThan(1e-5);
    }
  });

  test('batches large enough for one XNNPACK product per matrix give the same products and gradients', () => {
    const [aShape, bShape] = [
      [3, 20, 24],
      [3, 24, 16],
    ];
    const a = tf.randomNormal(aShape, 0, 1, 'float32', 4);
    const b = tf.randomNormal(bShape, 0, 1, 'float32', 5);
    const upstream = tf.randomNormal([3, 20, 16], 0, 1, 'float32', 6);
    const [gradA, gradB] = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(matMul(x, y), upstream)))([a, b]);
    expect(maxDifference(matMul(a, b), tf.matMul(a, b))).toBeLessThan(1e-5);
    expect(maxDifference(gradA, tf.matMul(upstream, b, false, true))).toBeLessThan(1e-5);
    expect(maxDifference(gradB, tf.matMul(a, upstream, true, false))).toBeLessThan(1e-5);
  });

  test('linearProduct is x @ weight^T, with the gradients of that product', () => {
    const x = tf.randomNormal([7, 5], 0, 1, 'float32', 8);
    const weight = tf.randomNormal([3, 5], 0, 1, 'float32', 9);
    const upstream = tf.randomNormal([7, 3], 0, 1, 'float32', 10);
    const [gradX, gradWeight] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(linearProduct(a, b), upstream)))([x, weight]);
    expect(maxDifference(linearProduct(x, weight), tf.matMul(x, weight, false, true))).toBeLessThan(1e-6);
    expect(maxDifference(gradX, tf.matMul(upstream, weight))).toBeLessThan(1e-6);
    expect(maxDifference(gradWeight, tf.matMul(upstream, x, true, false))).toBeLessThan(1e-6);
    expect(() => linearProduct(x, tf.zeros([3, 4]))).toThrow(/linearProduct expects/);
  });

  test('geluTanh (one pass each way on wasm) = the tf-ops gelu_new, values and gradients', () => {
    const x = tf.mul(tf.randomNormal([4, 1000], 0, 1, 'float32', 11), 4); // into both tails, where tanh saturates
    const upstream = tf.randomNormal([4, 1000], 0, 1, 'float32', 12);
    expect(maxDifference(geluTanh(x), geluTanhOps(x))).toBeLessThan(2e-6);
    const fused = tf.grad((input: tf.Tensor) => tf.sum(tf.mul(geluTanh(input), upstream)))(x);
    const ops = tf.grad((input: tf.Tensor) => tf.sum(tf.mul(geluTanhOps(input), upstream)))(x);
    expect(maxDifference(fused, ops)).toBeLessThan(1e-5);
    const values = geluTanh(tf.tensor1d([0, 1, -1, 10, -10])).dataSync();
    const expected = [0, 0.8411920070648193, -0.15880800783634186, 10, -0];
    // wasm computes in doubles and rounds once: exact; tf ops round at every step
    if (tf.getBackend() === 'wasm') expect(values).toEqual(Float32Array.from(expected));
    else values.forEach((value, index) => expect(Math.abs(value - expected[index])).toBeLessThan(1e-7));
  });

  test('slice reads any window of the heap in place (contiguous, strided, rank 1 to 4, int32)', () => {
    const values = Array.from({ length: 2 * 3 * 4 * 5 }, (_, i) => i);
    const x4 = tf.tensor4d(values, [2, 3, 4, 5]);
    const expected4 = (begin: number[], size: number[]) => {
      const out: number[] = [];
      for (let a = 0; a < size[0]; a++)
        for (let b = 0; b < size[1]; b++)
          for (let c = 0; c < size[2]; c++)
            for (let d = 0; d < size[3]; d++) out.push(values[(((begin[0] + a) * 3 + begin[1] + b) * 4 + begin[2] + c) * 5 + begin[3] + d]);
      return out;
    };
    for (const [begin, size] of [
      [
        [1, 0, 0, 0],
        [1, 3, 4, 5],
      ],
      [
        [0, 1, 2, 1],
        [2, 2, 2, 3],
      ],
      [
        [1, 2, 3, 4],
        [1, 1, 1, 1],
      ],
      [
        [0, 0, 1, 0],
        [2, 3, 2, 5],
      ],
    ]) {
      expect(Array.from(tf.slice(x4, begin, size).dataSync())).toEqual(expected4(begin, size));
    }
    expect(Array.from(tf.slice(tf.tensor1d([5, 6, 7, 8], 'int32'), [1], [2]).dataSync())).toEqual([6, 7]);
    expect(
      tf
        .slice(
          tf.tensor2d([
            [1, 2, 3],
            [4, 5, 6],
          ]),
          [0, 1],
          [2, 2],
        )
        .arraySync(),
    ).toEqual([
      [2, 3],
      [5, 6],
    ]);
    expect(tf.slice(x4, [0, 0, 0, 0], [0, 3, 4, 5]).shape).toEqual([0, 3, 4, 5]);
  });

  test('the cross-entropy kernels agree with tf ops (wide logits, so that probabilities underflow)', () => {
    const [rows, vocab] = [6, 300];
    const logits = tf.randomNormal([rows, vocab], 0, 30, 'float32', 7);
    const targets = tf.tensor1d([0, 299, 17, 150, 150, 3], 'int32');
    const [exponentials, sums, losses] = softmaxCrossEntropyForward(logits, targets);
    const logProbabilities = tf.logSoftmax(logits).arraySync() as number[][];
    const expectedLosses = [0, 299, 17, 150, 150, 3].map((target, row) => -logProbabilities[row][target]);
    const actualLosses = Array.from(losses.dataSync());
    actualLosses.forEach((loss, row) => expect(loss).toBeCloseTo(expectedLosses[row], 4));
    const shifted = tf.sub(logits, tf.max(logits, 1, true));
    expect(maxDifference(exponentials, tf.exp(shifted))).toBeLessThan(1e-6);
    expect(maxDifference(sums, tf.sum(tf.exp(shifted), 1, true))).toBeLessThan(1e-5);
    // columns [100, 250) of (softmax - one-hot) * scale, entries below 1e-30 flushed to 0
    const scale = tf.scalar(0.25);
    const window = softmaxCrossEntropyGradientColumns(exponentials, sums, targets, scale, 100, 150);
    const full = tf.mul(tf.sub(tf.softmax(logits), tf.cast(tf.oneHot(targets as tf.Tensor1D, vocab), 'float32')), scale);
    expect(window.shape).toEqual([rows, 150]);
    expect(maxDifference(window, tf.slice(full, [0, 100], [rows, 150]))).toBeLessThan(1e-6);
    const values = window.dataSync();
    expect(values.every((value) => value === 0 || Math.abs(value) >= 1e-30)).toBe(true);
    expect(values.some((value) => value === 0)).toBe(true); // width 30 logits: some probabilities do underflow
    expect(values[3 * 150 + 50]).toBeLessThan(-0.2); // row 3's target (150) is column 50 of the window
    // the tf-ops versions (for native backends) compute the same
    const [opsExponentials, opsSums, opsLosses] = softmaxCrossEntropyForwardOps(logits, targets);
    expect(maxDifference(opsExponentials, exponentials)).toBeLessThan(1e-6);
    expect(maxDifference(opsSums, sums)).toBeLessThan(1e-5);
    expect(maxDifference(opsLosses, losses)).toBeLessThan(1e-4);
    expect(maxDifference(softmaxCrossEntropyGradientColumnsOps(exponentials, sums, targets, scale, 100, 150), window)).toBeLessThan(1e-7);
  });

  test('matMul refuses broadcasting batches', () => {
    expect(() => matMul(tf.zeros([2, 3, 4]), tf.zeros([4, 5]))).toThrow(/two equal batches/);
  });
});

function maxDifference(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}
