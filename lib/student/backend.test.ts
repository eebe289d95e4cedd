import * as tf from '@tensorflow/tfjs-core';
import { isZsdError } from '../core/errors';
import { initBackend, matMul } from './backend';

beforeAll(async () => {
  await initBackend();
});

describe('initBackend', () => {
  test('falls back to wasm here (no tfjs-node installed), reports SIMD, never cpu', async () => {
    const info = await initBackend();
    expect(info.name).toBe('wasm');
    expect(info.description).toMatch(/SIMD (on|off)/);
    expect(tf.getBackend()).toBe('wasm');
    expect(tf.findBackendFactory('cpu')).toBeNull();
  });

  test('is idempotent', async () => {
    const first = await initBackend();
    const second = await initBackend({ prefer: 'auto' });
    const wasm = await initBackend({ prefer: 'wasm' });
    expect(second).toEqual(first);
    expect(wasm.name).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
  });

  test('asking for a native backend that is not installed fails with the reason, and leaves wasm in place', async () => {
    const error = await initBackend({ prefer: 'node' }).catch((thrown: unknown) => thrown);
    expect(isZsdError(error) && error.kind).toBe('not-found');
    expect((error as Error).message).toContain('@tensorflow/tfjs-node: not installed');
    expect(tf.getBackend()).toBe('wasm');
  });
});

describe('wasm fixes', () => {
  test('the gradient of gather (embedding lookup) sums rows per index (UnsortedSegmentSum)', () => {
    const table = tf.tensor2d([
      [1, 2],
      [3, 4],
      [5, 6],
    ]);
    const indices = tf.tensor2d([[0, 2, 0], [1, 0, 0]], undefined, 'int32');
    const weights = tf.tensor3d([[[1, 10], [2, 20], [3, 30]], [[4, 40], [5, 50], [6, 60]]]);
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
      [[3, 4], [4, 5]],
      [[2, 3, 4], [2, 4, 5]],
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

  test('matMul refuses broadcasting batches', () => {
    expect(() => matMul(tf.zeros([2, 3, 4]), tf.zeros([4, 5]))).toThrow(/two equal batches/);
  });
});

function maxDifference(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}
