/**
 * Gradients for the kernels the T5 student differentiates through.
 *
 * Why this file exists: `@tensorflow/tfjs-core`'s CommonJS entry (dist/tf-core.node.js, what Node and jest load)
 * registers no gradients; only its ES-module build has `register_all_gradients`, and the union package
 * `@tensorflow/tfjs` (which would bundle them) also brings the pure-JS cpu backend. So the gradients are ported
 * here from tfjs-core 4.22's `src/gradients/*_grad.ts` (Apache-2.0), same formulas, and registered for kernels that
 * have none yet. tfjs-node loads the union package, whose registration replaces these; backend.ts then registers
 * them again with `override` (no Cast of tensors that are float32 already: fewer kernel calls on the native backend).
 *
 * Matrix products need none: backend.matMul carries its own gradient; `tf.logSoftmax` is a customGrad op in core.
 */
import * as tf from '@tensorflow/tfjs-core';

const { assertAndGetBroadcastShape, getReductionAxes, getUndoAxesPermutation, computeOutAndReduceShapes } = tf.backend_util;

/** dy summed over the axes along which `shape` was broadcast to the output, reshaped to `shape`. */
function unbroadcast(dy: tf.Tensor, shape: number[], outShape: number[]): tf.Tensor {
  const axes = getReductionAxes(shape, outShape);
  const reduced = axes.length > 0 ? tf.sum(dy, axes) : dy;
  // A new tensor either way (each input's gradient must be its own object); clone shares the data and, unlike a
  // reshape, is no kernel call on the native backend.
  return tf.util.arraysEqual(reduced.shape, shape) ? (reduced === dy ? tf.clone(dy) : reduced) : tf.reshape(reduced, shape);
}

function binaryShapes(saved: tf.Tensor[]): { a: tf.Tensor; b: tf.Tensor; outShape: number[] } {
  const [a, b] = saved;
  return { a, b, outShape: assertAndGetBroadcastShape(a.shape, b.shape) };
}

/** dy reshaped so that it broadcasts against x after a reduction over `axes`. */
function expandReduced(dy: tf.Tensor, x: tf.Tensor, axes: number[]): tf.Tensor {
  const shape = x.shape.slice();
  for (const axis of axes) shape[axis] = 1;
  return tf.reshape(dy, shape);
}

/** As the originals' cast(x, 'float32'), without the copy wasm's Cast makes when x is float32 already. */
function float(x: tf.Tensor): tf.Tensor {
  return x.dtype === 'float32' ? x : tf.cast(x, 'float32');
}

type Dy = tf.Tensor | tf.Tensor[];
const single = (dy: Dy): tf.Tensor => dy as tf.Tensor;

const GRADIENTS: tf.GradConfig[] = [
  {
    kernelName: tf.Add,
    inputsToSave: ['a', 'b'],
    gradFunc: (dy, saved) => {
      const { a, b, outShape } = binaryShapes(saved);
      return { a: () => unbroadcast(single(dy), a.shape, outShape), b: () => unbroadcast(single(dy), b.shape, outShape) };
    },
  },
  {
    kernelName: tf.Sub,
    inputsToSave: ['a', 'b'],
    gradFunc: (dy, saved) => {
      const { a, b, outShape } = binaryShapes(saved);
      return { a: () => unbroadcast(single(dy), a.shape, outShape), b: () => tf.neg(unbroadcast(single(dy), b.shape, outShape)) };
    },
  },
  {
    kernelName: tf.Multiply,
    inputsToSave: ['a', 'b'],
    gradFunc: (dy, saved) => {
      const { a, b, outShape } = binaryShapes(saved);
      return {
        a: () => unbroadcast(tf.mul(single(dy), float(b)), a.shape, outShape),
        b: () => unbroadcast(tf.mul(single(dy), float(a)), b.shape, outShape),
      };
    },
  },
  {
    kernelName: tf.RealDiv,
    inputsToSave: ['a', 'b'],
    gradFunc: (dy, saved) => {
      const { a, b, outShape } = binaryShapes(saved);
      return {
        a: () => unbroadcast(tf.div(single(dy), float(b)), a.shape, outShape),
        b: () => {
          const scaled = unbroadcast(tf.mul(single(dy), float(a)), b.shape, outShape);
          return tf.neg(tf.div(scaled, float(tf.square(b))));
        },
      };
    },
  },
  {
    kernelName: tf.Maximum,
    inputsToSave: ['a', 'b'],
    gradFunc: (dy, saved) => {
      const [a, b] = saved;
      return {
        a: () => tf.mul(single(dy), float(tf.greaterEqual(a, b))),
        b: () => tf.mul(single(dy), float(tf.less(a, b))),
      };
    },
  },
  { kernelName: tf.Neg, gradFunc: (dy) => ({ x: () => tf.neg(single(dy)) }) },
  {
    kernelName: tf.Square,
    inputsToSave: ['x'],
    gradFunc: (dy, saved) => ({ x: () => tf.mul(single(dy), tf.mul(float(saved[0]), 2)) }),
  },
  {
    kernelName: tf.Sqrt,
    inputsToSave: ['x'],
    gradFunc: (dy, saved) => ({ x: () => tf.div(single(dy), tf.mul(tf.sqrt(float(saved[0])), 2)) }),
  },
  {
    kernelName: tf.Rsqrt,
    inputsToSave: ['x'],
    gradFunc: (dy, saved) => ({ x: () => tf.neg(tf.div(single(dy), tf.mul(tf.pow(saved[0], 1.5), 2))) }),
  },
  { kernelName: tf.Exp, outputsToSave: [true], gradFunc: (dy, saved) => ({ x: () => tf.mul(single(dy), saved[0]) }) },
  {
    kernelName: tf.Log,
    inputsToSave: ['x'],
    gradFunc: (dy, saved) => ({ x: () => tf.div(single(dy), float(saved[0])) }),
  },
  {
    kernelName: tf.Relu,
    inputsToSave: ['x'],
    gradFunc: (dy, saved) => ({ x: () => tf.mul(single(dy), float(tf.step(saved[0]))) }),
  },
  {
    kernelName: tf.Tanh,
    outputsToSave: [true],
    gradFunc: (dy, saved) => ({ x: () => tf.mul(tf.sub(1, tf.square(saved[0])), single(dy)) }),
  },
  {
    kernelName: tf.Sigmoid,
    outputsToSave: [true],
    gradFunc: (dy, saved) => ({ x: () => tf.mul(single(dy), tf.mul(saved[0], tf.sub(1, saved[0]))) }),
  },
  {
    kernelName: tf.Erf,
    inputsToSave: ['x'],
    gradFunc: (dy, saved) => ({
      x: () => tf.mul(single(dy), tf.mul(tf.exp(tf.neg(tf.square(saved[0]))), 2 / Math.sqrt(Math.PI))),
    }),
  },
  {
    kernelName: tf.Softmax,
    outputsToSave: [true],
    gradFunc: (dy, saved, attrs) => {
      const [y] = saved;
      const { dim } = attrs as unknown as { dim: number };
      const dyTimesY = tf.mul(single(dy), y);
      return { logits: () => tf.sub(dyTimesY, tf.mul(tf.sum(dyTimesY, [dim], true), y)) };
    },
  },
  {
    kernelName: tf.Sum,
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved;
      const axes = tf.util.parseAxisParam((attrs as unknown as { axis: number | number[] }).axis, x.shape);
      return { x: () => tf.mul(expandReduced(single(dy), x, axes), tf.ones(x.shape, 'float32')) };
    },
  },
  {
    kernelName: tf.Mean,
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved;
      const axes = tf.util.parseAxisParam((attrs as unknown as { axis: number | number[] }).axis, x.shape);
      const reduceSize = tf.util.sizeFromShape(computeOutAndReduceShapes(x.shape, axes)[1]);
      // A broadcasting multiply (wasm's Tile, behind tf.broadcastTo, is twice as slow); divided while still small.
      return { x: () => tf.mul(tf.div(expandReduced(single(dy), x, axes), reduceSize), tf.ones(x.shape, 'float32')) };
    },
  },
  {
    kernelName: tf.Reshape,
    inputsToSave: ['x'],
    gradFunc: (dy, saved) => ({ x: () => tf.reshape(single(dy), saved[0].shape) }),
  },
  {
    kernelName: tf.ExpandDims,
    inputsToSave: ['input'],
    gradFunc: (dy, saved) => ({ input: () => tf.reshape(single(dy), saved[0].shape) }),
  },
  {
    kernelName: tf.Transpose,
    gradFunc: (dy, _saved, attrs) => {
      const { perm } = attrs as unknown as { perm: number[] };
      return { x: () => tf.transpose(single(dy), getUndoAxesPermutation(perm)) };
    },
  },
  { kernelName: tf.Cast, gradFunc: (dy) => ({ x: () => tf.clone(single(dy)) }) },
  {
    kernelName: tf.Concat,
    saveAllInputs: true,
    gradFunc: (dy, saved, attrs) => {
      const axis = tf.util.parseAxisParam((attrs as unknown as { axis: number }).axis, saved[0].shape)[0];
      const parts = tf.split(
        single(dy),
        saved.map((tensor) => tensor.shape[axis]),
        axis,
      );
      return Object.fromEntries(parts.map((part, index) => [index, () => part]));
    },
  },
  {
    kernelName: tf.Slice,
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved;
      const { begin, size } = attrs as unknown as { begin: number | number[]; size: number | number[] };
      const [start, length] = tf.slice_util.parseSliceParams(x, begin, size);
      const paddings = x.shape.map((extent, axis): [number, number] => [start[axis], extent - start[axis] - length[axis]]);
      return { x: () => tf.pad(single(dy), paddings) };
    },
  },
  {
    // batchDims 0 only (what the model uses): dy scattered back with UnsortedSegmentSum.
    kernelName: tf.GatherV2,
    inputsToSave: ['x', 'indices'],
    gradFunc: (dy, saved, attrs) => {
      const [x, indices] = saved;
      const { axis, batchDims } = attrs as unknown as { axis: number; batchDims: number };
      if (batchDims !== 0) throw new Error('gather gradient with batchDims != 0 is not supported');
      const parsedAxis = tf.util.parseAxisParam(axis, x.shape)[0];
      return {
        x: () => {
          const outerShape = x.shape.slice(0, parsedAxis);
          const innerShape = x.shape.slice(parsedAxis + 1);
          const outerDims = outerShape.length;
          const values = tf.reshape(single(dy), [...outerShape, indices.size, ...innerShape]);
          const transposeDims = [outerDims, ...range(0, outerDims), ...range(outerDims + 1, outerDims + 1 + innerShape.length)];
          const flatIndices = tf.reshape(indices, [indices.size]) as tf.Tensor1D;
          // axis 0 (an embedding lookup): the permutation is the identity, and wasm's Transpose would still copy
          // the [vocab, d_model] sum (~35 ms at 32128 x 256)
          if (outerDims === 0) return tf.unsortedSegmentSum(values, flatIndices, x.shape[parsedAxis]);
          const summed = tf.unsortedSegmentSum(tf.transpose(values, transposeDims), flatIndices, x.shape[parsedAxis]);
          return tf.transpose(summed, getUndoAxesPermutation(transposeDims));
        },
        indices: () => indices,
      };
    },
  },
];

function range(start: number, stop: number): number[] {
  return Array.from({ length: stop - start }, (_, index) => start + index);
}

/** Registers the gradients above for kernels that have none, or for all of them with `override` (idempotent). */
export function registerGradients(options: { override?: boolean } = {}): void {
  for (const config of GRADIENTS) {
    if (options.override || tf.getGradient(config.kernelName) == null) tf.registerGradient(config);
  }
}
