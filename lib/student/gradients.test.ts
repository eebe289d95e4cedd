import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from './backend';

beforeAll(async () => {
  await initBackend();
});

/**
 * Each registered gradient against central differences of f at x (float32, so differences of ~1e-2 relative are
 * rounding; a wrong formula is off by O(1)). The T5 fixtures pin the same gradients against PyTorch
 * (check-model.test.ts); this covers ops and broadcasting shapes the fixtures do not reach (gelu, silu, slice, ...).
 */
function expectGradientMatchesDifferences(name: string, f: (x: tf.Tensor) => tf.Tensor, x: tf.Tensor): void {
  const analytic = tf.tidy(() =>
    tf
      .grad((input: tf.Tensor) => tf.sum(f(input)))(x)
      .dataSync(),
  );
  const values = x.dataSync();
  const step = 1e-2;
  for (let i = 0; i < values.length; i++) {
    const at = (delta: number) =>
      tf.tidy(() => {
        const shifted = values.slice();
        shifted[i] += delta;
        return tf.sum(f(tf.tensor(shifted, x.shape))).dataSync()[0];
      });
    const numeric = (at(step) - at(-step)) / (2 * step);
    const tolerance = 2e-2 * Math.max(1, Math.abs(numeric));
    if (Math.abs(analytic[i] - numeric) > tolerance) {
      throw new Error(`${name}: d/dx[${i}] analytic ${analytic[i]} vs numeric ${numeric}`);
    }
  }
}

test('registered gradients agree with central differences', () => {
  const x = tf.tensor2d([
    [0.3, -0.7, 1.2],
    [-1.1, 0.5, 0.9],
  ]);
  const row = tf.tensor1d([0.4, -0.6, 1.5]);
  const column = tf.tensor2d([[0.8], [-1.3]]);
  const cases: [string, (input: tf.Tensor) => tf.Tensor][] = [
    ['add broadcast', (input) => tf.mul(tf.add(input, row), tf.add(column, input))],
    ['sub broadcast', (input) => tf.square(tf.sub(column, input))],
    ['mul broadcast (row side)', (input) => tf.mul(tf.reshape(tf.slice(input, [0, 0], [1, 3]), [3]), x)],
    ['div both sides', (input) => tf.add(tf.div(input, tf.add(tf.abs(column), 1)), tf.div(row, tf.add(tf.square(input), 1)))],
    ['maximum', (input) => tf.mul(tf.maximum(input, row), x)],
    [
      'neg, exp, log, sqrt, rsqrt',
      (input) => tf.add(tf.neg(tf.exp(input)), tf.mul(tf.log(tf.add(tf.square(input), 1)), tf.rsqrt(tf.add(tf.sqrt(tf.add(tf.square(input), 1)), 1)))),
    ],
    ['relu, tanh, sigmoid, erf', (input) => tf.add(tf.add(tf.relu(tf.mul(input, x)), tf.tanh(input)), tf.mul(tf.sigmoid(input), tf.erf(input)))],
    ['softmax', (input) => tf.mul(tf.softmax(input), x)],
    ['sum and mean over axes', (input) => tf.add(tf.sum(tf.square(tf.sum(tf.mul(input, x), 1))), tf.sum(tf.square(tf.mean(tf.mul(input, x), 0, true))))],
    [
      'reshape, expandDims, transpose',
      (input) => tf.mul(tf.transpose(tf.expandDims(tf.reshape(input, [3, 2]), 0), [2, 0, 1]), tf.tensor3d([[[1, 2, 3]], [[4, 5, 6]]])),
    ],
    ['concat and slice', (input) => tf.square(tf.slice(tf.concat([input, tf.mul(input, x)], 1), [0, 1], [2, 4]))],
    ['gather on an inner axis', (input) => tf.square(tf.gather(input, tf.tensor1d([2, 0, 2], 'int32'), 1))],
    ['cast', (input) => tf.mul(tf.cast(input, 'float32'), x)],
  ];
  // The point is a tensor of its own: were it `x`, the constant uses of x would be differentiated too.
  const point = tf.tensor2d([
    [0.6, -0.2, 0.8],
    [-0.9, 1.1, -0.4],
  ]);
  for (const [name, f] of cases) expectGradientMatchesDifferences(name, f, point);
  tf.dispose([x, row, column, point]);
});
