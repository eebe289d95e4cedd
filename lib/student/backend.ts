/**
 * The TensorFlow.js backend the student runs on, chosen once per process.
 *
 * Order: `@tensorflow/tfjs-node-gpu`, then `@tensorflow/tfjs-node` (native TensorFlow; optional packages, loaded
 * at run time when installed), else the WebAssembly backend. Never the pure-JS `cpu` backend: it is ~27x slower
 * than wasm and its `gather` gradient explodes memory (docs/toolchain.md), so training on it is not an option.
 *
 * tfjs-core's CommonJS build registers no gradients at all; gradients.ts registers the ones the model needs.
 * `ZSD_BACKEND` (auto | wasm | node | node-gpu) pins the choice for a whole process (tests, scripts).
 *
 * On the native backend (installed by `npm run native-backend`) each kernel call costs overhead, so products with
 * transposed operands stay single BatchMatMulV2 kernels, batches are not split, and the lm_head's cross-entropy is
 * TensorFlow's fused kernel (sparseSoftmaxCrossEntropyNative).
 *
 * Two fixes make wasm trainable (measured, docs/toolchain.md):
 * - wasm has no `UnsortedSegmentSum` kernel, which the gradient of `tf.gather` (embedding lookup) needs; a small
 *   JS kernel over the wasm heap provides it.
 * - wasm `matMul` with `transposeA`/`transposeB`, which autodiff uses for matMul gradients, is ~10x slower than an
 *   explicit `tf.transpose` followed by a plain matMul; `matMul` below is a custom-gradient matMul that does that.
 *   The model uses it for every attention product; linearProduct does the same for x @ W^T.
 *
 * And kernels that make a training step faster on wasm (measured with `npm run bench -- train-step`):
 * - Slice reads the heap in place (wasm's copies the whole input first);
 * - a batch of matrix products runs as one XNNPACK product per matrix (wasm sends batches to a naive loop);
 * - the cross-entropy over the vocabulary (forward, and its gradient one column window at a time, with subnormals
 *   flushed) and gelu_new are single JS passes over the heap instead of chains of wasm kernels.
 * Each has a tf-ops equivalent used on other backends, tested against it.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-backend-wasm'; // registers the 'wasm' backend factory
import { ZsdError } from '../core/errors';
import { registerGradients } from './gradients';

export type BackendPreference = 'auto' | 'wasm' | 'node' | 'node-gpu';

export interface BackendInfo {
  /** The tfjs backend name: 'tensorflow' (tfjs-node or tfjs-node-gpu) or 'wasm'. */
  name: string;
  /** For people: which package, and for wasm whether SIMD is on. */
  description: string;
}

const NATIVE_PACKAGES: Record<'node' | 'node-gpu', string> = {
  'node-gpu': '@tensorflow/tfjs-node-gpu',
  node: '@tensorflow/tfjs-node',
};

const initialised = new Map<BackendPreference, Promise<BackendInfo>>();

const PREFERENCES: readonly BackendPreference[] = ['auto', 'wasm', 'node', 'node-gpu'];

/**
 * The preference 'auto' stands for: `ZSD_BACKEND` when set (so a whole test run or script can be pinned to one
 * backend), else 'auto'. A value outside the four is an error naming the variable.
 */
export function backendPreferenceFromEnvironment(environment: NodeJS.ProcessEnv = process.env): BackendPreference {
  const value = environment.ZSD_BACKEND;
  if (value === undefined || value === '') return 'auto';
  if (!(PREFERENCES as readonly string[]).includes(value)) {
    throw new ZsdError('usage', `ZSD_BACKEND=${value}: expected one of ${PREFERENCES.join(', ')}`);
  }
  return value as BackendPreference;
}

/** Selects and initialises the backend; calling it again (with the same preference) returns the same answer. */
export function initBackend(options: { prefer?: BackendPreference } = {}): Promise<BackendInfo> {
  const asked = options.prefer ?? 'auto';
  const prefer = asked === 'auto' ? backendPreferenceFromEnvironment() : asked;
  let pending = initialised.get(prefer);
  if (pending === undefined) {
    pending = selectBackend(prefer);
    initialised.set(prefer, pending);
    pending.catch(() => initialised.delete(prefer)); // a failed attempt may be retried
  }
  return pending;
}

async function selectBackend(prefer: BackendPreference): Promise<BackendInfo> {
  registerGradients(); // tfjs-core's CommonJS build registers none (gradients.ts)
  const nativeOrder: ('node-gpu' | 'node')[] = prefer === 'auto' ? ['node-gpu', 'node'] : prefer === 'wasm' ? [] : [prefer];
  const failures: string[] = [];
  for (const kind of nativeOrder) {
    const outcome = await tryNativeBackend(NATIVE_PACKAGES[kind]);
    if (outcome.kind === 'ready') return outcome.info;
    failures.push(`${NATIVE_PACKAGES[kind]}: ${outcome.reason}`);
  }
  if (prefer === 'node' || prefer === 'node-gpu') {
    throw new ZsdError('not-found', `backend ${prefer} requested but unavailable (${failures.join('; ')})`);
  }
  try {
    return await initWasmBackend();
  } catch (error) {
    failures.push(`@tensorflow/tfjs-backend-wasm: ${error instanceof Error ? error.message : String(error)}`);
    throw new ZsdError('internal', `no usable TensorFlow.js backend (the pure-JS cpu backend is deliberately not used): ${failures.join('; ')}`);
  }
}

type NativeOutcome = { kind: 'ready'; info: BackendInfo } | { kind: 'unavailable'; reason: string };

async function tryNativeBackend(packageName: string): Promise<NativeOutcome> {
  // TensorFlow reads these when it loads. oneDNN's custom kernels change float summation order (and print a notice
  // to stderr at load); measured no faster for these models, so off unless the user asks for them.
  process.env.TF_ENABLE_ONEDNN_OPTS ??= '0';
  process.env.TF_CPP_MIN_LOG_LEVEL ??= '1';
  try {
    require(packageName);
  } catch (error) {
    return { kind: 'unavailable', reason: isModuleNotFound(error) ? 'not installed' : String(error) };
  }
  // The native package registers 'tensorflow' on its own copy of tfjs-core; it is usable only when that copy is ours.
  if (tf.findBackendFactory('tensorflow') === null) {
    return { kind: 'unavailable', reason: 'installed against a different @tensorflow/tfjs-core' };
  }
  // tfjs-node loads the union package @tensorflow/tfjs, which registers tfjs-core's own gradients over zsd's; zsd's
  // (gradients.ts: same formulas, no Cast of float32 tensors) are put back: Cast calls per svamp step 264 -> 76.
  registerGradients({ override: true });
  registerNativeKernels();
  if (!(await tf.setBackend('tensorflow'))) return { kind: 'unavailable', reason: 'failed to initialise' };
  await tf.ready();
  return { kind: 'ready', info: { name: 'tensorflow', description: `${packageName} (native TensorFlow)` } };
}

function isModuleNotFound(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: string }).code === 'MODULE_NOT_FOUND';
}

async function initWasmBackend(): Promise<BackendInfo> {
  registerWasmKernelFixes();
  if (!(await tf.setBackend('wasm'))) throw new Error('tf.setBackend("wasm") failed');
  await tf.ready();
  if (tf.getBackend() !== 'wasm') throw new Error(`expected the wasm backend, got ${tf.getBackend()}`);
  const simd = Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'));
  return {
    name: 'wasm',
    description: `@tensorflow/tfjs-backend-wasm (SIMD ${simd ? 'on' : 'off'}, single-threaded)`,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// UnsortedSegmentSum for wasm: out[segmentIds[i], ...] += x[i, ...]. segmentIds has the shape of a prefix of x.

let wasmKernelsFixed = false;

function registerWasmKernelFixes(): void {
  if (wasmKernelsFixed) return;
  wasmKernelsFixed = true;
  if (tf.getKernel(tf.UnsortedSegmentSum, 'wasm') === undefined) {
    tf.registerKernel({ kernelName: tf.UnsortedSegmentSum, backendName: 'wasm', kernelFunc: unsortedSegmentSumWasm });
  }
  // wasm's own Slice copies its whole input out of the heap (readSync) before copying the slice: 1.3 ms to take
  // 128 x 128 floats out of a 32 x 128 x 128 tensor. This one reads the heap in place.
  if (tf.getKernel(tf.Slice, 'wasm') !== undefined) tf.unregisterKernel(tf.Slice, 'wasm');
  tf.registerKernel({ kernelName: tf.Slice, backendName: 'wasm', kernelFunc: sliceWasm });
  if (tf.getKernel(SOFTMAX_GRADIENT_COLUMNS, 'wasm') === undefined) {
    tf.registerKernel({ kernelName: SOFTMAX_GRADIENT_COLUMNS, backendName: 'wasm', kernelFunc: softmaxGradientColumnsWasm });
  }
  if (tf.getKernel(SOFTMAX_CROSS_ENTROPY_FORWARD, 'wasm') === undefined) {
    tf.registerKernel({ kernelName: SOFTMAX_CROSS_ENTROPY_FORWARD, backendName: 'wasm', kernelFunc: softmaxCrossEntropyForwardWasm });
  }
  if (tf.getKernel(GELU_TANH, 'wasm') === undefined) {
    tf.registerKernel({ kernelName: GELU_TANH, backendName: 'wasm', kernelFunc: geluTanhWasm });
    tf.registerKernel({ kernelName: GELU_TANH_GRADIENT, backendName: 'wasm', kernelFunc: geluTanhGradientWasm });
  }
}

/** exp(x) for x <= ~20: exp(r) 2^k with |r| <= ln2 / 2 and a degree-7 Taylor polynomial, relative error < 1e-8. */
function fastExp(value: number): number {
  const x = value > -120 ? value : -120; // below, exp is 0 in float32 anyway
  const k = ((x * Math.LOG2E + 180.5) | 0) - 180;
  const r = x - k * Math.LN2;
  const polynomial = 1 + r * (1 + r * (0.5 + r * (1 / 6 + r * (1 / 24 + r * (1 / 120 + r * (1 / 720 + r * (1 / 5040)))))));
  return polynomial * POWERS_OF_TWO[k + 180];
}

// ---------------------------------------------------------------------------------------------------------------
// gelu with the tanh approximation (transformers' NewGELUActivation, T5 v1.1's gated-gelu), in one pass each way.

const GELU_TANH = 'ZsdGeluTanh';
const GELU_TANH_GRADIENT = 'ZsdGeluTanhGradient';
const GELU_SCALE = Math.sqrt(2 / Math.PI);
const GELU_CUBIC = 0.044715;

/**
 * 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) with its gradient. As tf ops this is 9 kernels forward and about
 * twice that backward over [batch, length, d_ff]; on wasm it is one JS pass each way (tanh from the fast exp, in
 * doubles), elsewhere the same tf ops as before.
 */
export const geluTanh = tf.customGrad((...inputs: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [x, save] = inputs as [tf.Tensor, tf.GradSaveFunc];
  if (tf.getBackend() !== 'wasm') {
    save([x]);
    // The derivative in closed form: tf.grad here would start a nested gradient tape inside the outer one's
    // backward pass, and tfjs-core then drops the outer tape (variableGrads fails on 'null').
    return { value: geluTanhOps(x), gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => geluTanhGradientOps(saved[0], dy) };
  }
  const [value, tanh] = tf.engine().runKernel(GELU_TANH, { x }, {}) as unknown as [tf.Tensor, tf.Tensor];
  save([x, tanh]);
  return {
    value,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.engine().runKernel(GELU_TANH_GRADIENT, { dy, x: saved[0], tanh: saved[1] }, {}) as tf.Tensor,
  };
});

/** geluTanh in tf ops (backends other than wasm; exported for its test). */
export function geluTanhOps(x: tf.Tensor): tf.Tensor {
  const cubic = tf.add(x, tf.mul(tf.mul(x, tf.square(x)), GELU_CUBIC));
  return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.tanh(tf.mul(cubic, GELU_SCALE))));
}

/** dy * d/dx geluTanh(x) = dy (0.5 (1 + t) + 0.5 x (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 x^2)), t = tanh(u). */
export function geluTanhGradientOps(x: tf.Tensor, dy: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const square = tf.square(x);
    const t = tf.tanh(tf.mul(tf.add(x, tf.mul(tf.mul(x, square), GELU_CUBIC)), GELU_SCALE));
    const inner = tf.mul(tf.add(tf.mul(square, 3 * GELU_CUBIC), 1), GELU_SCALE);
    const derivative = tf.mul(tf.add(tf.add(1, t), tf.mul(tf.mul(x, tf.sub(1, tf.square(t))), inner)), 0.5);
    return tf.mul(dy, derivative);
  });
}

function geluTanhWasm(args: { inputs: tf.NamedTensorInfoMap; backend: unknown }): tf.TensorInfo[] {
  const backend = args.backend as BackendWasm;
  const { x } = args.inputs as Record<string, tf.TensorInfo>;
  const valueOut = backend.makeOutput(x.shape, 'float32');
  const tanhOut = backend.makeOutput(x.shape, 'float32');
  const input = backend.typedArrayFromHeap(x) as Float32Array;
  const value = backend.typedArrayFromHeap(valueOut) as Float32Array;
  const tanh = backend.typedArrayFromHeap(tanhOut) as Float32Array;
  for (let i = 0; i < input.length; i++) {
    const v = input[i];
    const u = GELU_SCALE * (v + GELU_CUBIC * v * v * v);
    // tanh u = sign(u) (1 - e) / (1 + e), e = exp(-2|u|) in (0, 1]; doubles keep 1 - e exact enough near 0
    const e = fastExp(-2 * Math.abs(u));
    const t = u < 0 ? (e - 1) / (1 + e) : (1 - e) / (1 + e);
    tanh[i] = t;
    value[i] = 0.5 * v * (1 + t);
  }
  return [valueOut, tanhOut];
}

function geluTanhGradientWasm(args: { inputs: tf.NamedTensorInfoMap; backend: unknown }): tf.TensorInfo {
  const backend = args.backend as BackendWasm;
  const { dy, x, tanh } = args.inputs as Record<string, tf.TensorInfo>;
  const out = backend.makeOutput(x.shape, 'float32');
  const upstream = backend.typedArrayFromHeap(dy) as Float32Array;
  const input = backend.typedArrayFromHeap(x) as Float32Array;
  const t = backend.typedArrayFromHeap(tanh) as Float32Array;
  const gradient = backend.typedArrayFromHeap(out) as Float32Array;
  for (let i = 0; i < input.length; i++) {
    const v = input[i];
    const ti = t[i];
    // d/dx 0.5 x (1 + tanh u) = 0.5 (1 + t) + 0.5 x (1 - t^2) du/dx, du/dx = sqrt(2/pi) (1 + 3 * 0.044715 x^2)
    const derivative = 0.5 * (1 + ti) + 0.5 * v * (1 - ti * ti) * GELU_SCALE * (1 + 3 * GELU_CUBIC * v * v);
    gradient[i] = upstream[i] * derivative;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// The cross-entropy forward pass over [rows, V] logits, in one pass per row.

const SOFTMAX_CROSS_ENTROPY_FORWARD = 'ZsdSoftmaxCrossEntropyForward';

/**
 * For logits [rows, V] and targets [rows] int32: exponentials = exp(logits - row max) [rows, V], their row sums
 * [rows, 1] and each row's cross-entropy log(sum) - (logit[target] - max) [rows]. On wasm one JS pass per row
 * (max, then exp and sum) replaces wasm's Max, Sub, Exp (scalar expf, ~10 ns a value), Sum, Gather and Log: ~50 ms
 * instead of ~125 ms for [256, 32128]. Its exp: exp(r) 2^k with |r| <= ln2 / 2 and the degree-7 Taylor polynomial,
 * relative error < 1e-8 (float32 spacing is 6e-8); sums and losses in doubles.
 */
export function softmaxCrossEntropyForward(logits: tf.Tensor, targets: tf.Tensor): [tf.Tensor, tf.Tensor, tf.Tensor] {
  if (tf.getBackend() === 'wasm') {
    return tf.engine().runKernel(SOFTMAX_CROSS_ENTROPY_FORWARD, { logits, targets }, {}) as unknown as [tf.Tensor, tf.Tensor, tf.Tensor];
  }
  return softmaxCrossEntropyForwardOps(logits, targets);
}

/** softmaxCrossEntropyForward in tf ops (backends other than wasm; exported for its test). */
export function softmaxCrossEntropyForwardOps(logits: tf.Tensor, targets: tf.Tensor): [tf.Tensor, tf.Tensor, tf.Tensor] {
  return tf.tidy(() => {
    const [rows, vocab] = logits.shape as number[];
    const shifted = tf.sub(logits, tf.max(logits, 1, true));
    const exponentials = tf.exp(shifted);
    const sums = tf.sum(exponentials, 1, true);
    const cells = tf.add(tf.mul(tf.range(0, rows, 1, 'int32'), tf.scalar(vocab, 'int32')), targets);
    const targetLogits = tf.gather(tf.reshape(shifted, [rows * vocab]), cells);
    return [exponentials, sums, tf.sub(tf.reshape(tf.log(sums), [rows]), targetLogits)];
  });
}

/** 2^k for k in [-180, 19]: the scale of the fast exp. */
const POWERS_OF_TWO = Float64Array.from({ length: 200 }, (_, index) => 2 ** (index - 180));

function softmaxCrossEntropyForwardWasm(args: { inputs: tf.NamedTensorInfoMap; backend: unknown }): tf.TensorInfo[] {
  const backend = args.backend as BackendWasm;
  const { logits, targets } = args.inputs as Record<string, tf.TensorInfo>;
  const [rows, vocab] = logits.shape;
  const exponentialsOut = backend.makeOutput([rows, vocab], 'float32');
  const sumsOut = backend.makeOutput([rows, 1], 'float32');
  const lossesOut = backend.makeOutput([rows], 'float32');
  // Views over the heap are taken after the allocations: an allocation may grow (and so move) the heap.
  const values = backend.typedArrayFromHeap(logits) as Float32Array;
  const targetIds = backend.typedArrayFromHeap(targets) as Int32Array;
  const exponentials = backend.typedArrayFromHeap(exponentialsOut) as Float32Array;
  const sums = backend.typedArrayFromHeap(sumsOut) as Float32Array;
  const losses = backend.typedArrayFromHeap(lossesOut) as Float32Array;
  for (let row = 0; row < rows; row++) {
    const base = row * vocab;
    let max = -Infinity;
    for (let column = 0; column < vocab; column++) if (values[base + column] > max) max = values[base + column];
    let sum = 0;
    for (let column = 0; column < vocab; column++) {
      // exp(x) = exp(r) 2^k, x = k ln2 + r; below -120 the result is 0 in float32 anyway
      const shifted = values[base + column] - max;
      const x = shifted > -120 ? shifted : -120;
      const k = ((x * Math.LOG2E + 180.5) | 0) - 180;
      const r = x - k * Math.LN2;
      const polynomial = 1 + r * (1 + r * (0.5 + r * (1 / 6 + r * (1 / 24 + r * (1 / 120 + r * (1 / 720 + r * (1 / 5040)))))));
      const value = polynomial * POWERS_OF_TWO[k + 180];
      exponentials[base + column] = value;
      sum += value;
    }
    sums[row] = sum;
    losses[row] = Math.log(sum) - (values[base + targetIds[row]] - max);
  }
  return [exponentialsOut, sumsOut, lossesOut];
}

// ---------------------------------------------------------------------------------------------------------------
// The cross-entropy with its gradient in one native kernel.

const SPARSE_SOFTMAX_CROSS_ENTROPY = 'ZsdSparseSoftmaxCrossEntropy';

/** The subset of tfjs-node's NodeJSKernelBackend this file calls (tfjs-node is an optional, untyped dependency). */
interface NativeKernelBackend {
  binding: { TF_ATTR_TYPE: number; TF_FLOAT: number; TF_INT32: number };
  executeMultipleOutputs(name: string, attributes: unknown[], inputs: tf.TensorInfo[], outputs: number): tf.TensorInfo[];
}

/**
 * For logits [rows, V] and targets [rows] int32: each row's cross-entropy [rows] and d(row loss)/d(logits) =
 * softmax - one-hot [rows, V], by TensorFlow's SparseSoftmaxCrossEntropyWithLogits (one kernel, threaded, the
 * gradient computed with the loss). Native backend only; wasm computes the same in softmaxCrossEntropyForward and
 * softmaxCrossEntropyGradientColumns.
 */
export function sparseSoftmaxCrossEntropyNative(logits: tf.Tensor, targets: tf.Tensor): [tf.Tensor, tf.Tensor] {
  return tf.engine().runKernel(SPARSE_SOFTMAX_CROSS_ENTROPY, { logits, targets }, {}) as unknown as [tf.Tensor, tf.Tensor];
}

function registerNativeKernels(): void {
  if (tf.getKernel(SPARSE_SOFTMAX_CROSS_ENTROPY, 'tensorflow') !== undefined) return;
  tf.registerKernel({
    kernelName: SPARSE_SOFTMAX_CROSS_ENTROPY,
    backendName: 'tensorflow',
    kernelFunc: (args) => {
      const backend = args.backend as unknown as NativeKernelBackend;
      const { logits, targets } = args.inputs as Record<string, tf.TensorInfo>;
      const { TF_ATTR_TYPE, TF_FLOAT, TF_INT32 } = backend.binding;
      const attributes = [
        { name: 'T', type: TF_ATTR_TYPE, value: TF_FLOAT },
        { name: 'Tlabels', type: TF_ATTR_TYPE, value: TF_INT32 },
      ];
      return backend.executeMultipleOutputs('SparseSoftmaxCrossEntropyWithLogits', attributes, [logits, targets], 2);
    },
  });
}

// ---------------------------------------------------------------------------------------------------------------
// The cross-entropy gradient over a window of vocabulary columns, in one pass.

const SOFTMAX_GRADIENT_COLUMNS = 'ZsdSoftmaxCrossEntropyGradientColumns';

/**
 * Below this magnitude a gradient entry is written as 0. Subnormal floats make every float operation on them
 * microcoded on x86: with them in the softmax gradient (probabilities of very unlikely tokens, ~9% of entries at
 * random init) the two lm_head gradient products ran at half speed (670 ms instead of 318 ms, batch 8 x 64).
 * Entries this small change no sum that float32 can represent at the sizes of a gradient.
 */
const FLUSH_BELOW = 1e-30;

/**
 * d(mean cross-entropy)/d(logits) for the vocabulary columns [from, from + size):
 *   exponentials[r, c] / sums[r] * scale - (c == targets[r] ? scale : 0), entries below FLUSH_BELOW set to 0,
 * for exponentials = exp(logits - row max) [rows, V], sums [rows, 1] their row sums, targets [rows] int32 and scale a
 * scalar (d loss / count). Out: [rows, size]. On wasm one JS pass over the heap replaces div, mul, a dense
 * scatterND, sub and slice (~400 ms of kernels for [512, 32128]); elsewhere the same as tf ops.
 */
export function softmaxCrossEntropyGradientColumns(
  exponentials: tf.Tensor,
  sums: tf.Tensor,
  targets: tf.Tensor,
  scale: tf.Tensor,
  from: number,
  size: number,
): tf.Tensor {
  if (tf.getBackend() === 'wasm') {
    return tf.engine().runKernel(SOFTMAX_GRADIENT_COLUMNS, { exponentials, sums, targets, scale }, { from, size } as unknown as tf.NamedAttrMap) as tf.Tensor;
  }
  return softmaxCrossEntropyGradientColumnsOps(exponentials, sums, targets, scale, from, size);
}

/** softmaxCrossEntropyGradientColumns in tf ops (backends other than wasm; exported for its test). */
export function softmaxCrossEntropyGradientColumnsOps(
  exponentials: tf.Tensor,
  sums: tf.Tensor,
  targets: tf.Tensor,
  scale: tf.Tensor,
  from: number,
  size: number,
): tf.Tensor {
  return tf.tidy(() => {
    const rows = exponentials.shape[0];
    const window = tf.slice(exponentials, [0, from], [rows, size]);
    const probabilities = tf.mul(tf.div(window, sums), scale);
    const oneHot = tf.mul(tf.cast(tf.oneHot(tf.sub(targets, tf.scalar(from, 'int32')) as tf.Tensor1D, size), 'float32'), scale);
    const gradient = tf.sub(probabilities, oneHot);
    return tf.mul(gradient, tf.cast(tf.greaterEqual(tf.abs(gradient), FLUSH_BELOW), 'float32'));
  });
}

function softmaxGradientColumnsWasm(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const backend = args.backend as BackendWasm;
  const { exponentials, sums, targets, scale } = args.inputs as Record<string, tf.TensorInfo>;
  const { from, size } = args.attrs as unknown as { from: number; size: number };
  const [rows, vocab] = exponentials.shape;
  const out = backend.makeOutput([rows, size], 'float32');
  // Views over the heap are taken after the allocation: an allocation may grow (and so move) the heap.
  const output = backend.typedArrayFromHeap(out) as Float32Array;
  const values = backend.typedArrayFromHeap(exponentials) as Float32Array;
  const rowSums = backend.typedArrayFromHeap(sums) as Float32Array;
  const targetIds = backend.typedArrayFromHeap(targets) as Int32Array;
  const factor = (backend.typedArrayFromHeap(scale) as Float32Array)[0];
  for (let row = 0; row < rows; row++) {
    const perEntry = factor / rowSums[row];
    const source = row * vocab + from;
    const target = row * size;
    for (let column = 0; column < size; column++) {
      const value = values[source + column] * perEntry;
      output[target + column] = value < FLUSH_BELOW && value > -FLUSH_BELOW ? 0 : value;
    }
    const hit = targetIds[row] - from;
    if (hit >= 0 && hit < size) output[target + hit] -= factor;
  }
  return out;
}

function sliceWasm(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const backend = args.backend as BackendWasm;
  const { x } = args.inputs as { x: tf.TensorInfo };
  const { begin, size } = args.attrs as unknown as { begin: number | number[]; size: number | number[] };
  if (x.dtype === 'string') throw new ZsdError('internal', 'slicing string tensors is not supported on wasm');
  const [start, extent] = tf.slice_util.parseSliceParams(x as tf.Tensor, begin, size);
  const out = backend.makeOutput(extent, x.dtype);
  const total = tf.util.sizeFromShape(extent);
  if (total === 0) return out;
  // Views over the heap are taken after the allocation: an allocation may grow (and so move) the heap.
  const input = backend.typedArrayFromHeap(x) as Float32Array | Int32Array | Uint8Array;
  const output = backend.typedArrayFromHeap(out) as Float32Array | Int32Array | Uint8Array;
  const strides = tf.util.computeStrides(x.shape);
  const rank = x.shape.length;
  if (rank === 0 || tf.slice_util.isSliceContinous(x.shape, start, extent)) {
    const offset = rank === 0 ? 0 : tf.slice_util.computeFlatOffset(start, strides);
    output.set(input.subarray(offset, offset + total));
    return out;
  }
  // Copy runs along the last axis; an odometer walks the outer axes.
  const run = extent[rank - 1];
  const index = new Array<number>(rank - 1).fill(0);
  for (let written = 0; written < total; written += run) {
    let offset = start[rank - 1];
    for (let axis = 0; axis < rank - 1; axis++) offset += (start[axis] + index[axis]) * strides[axis];
    output.set(input.subarray(offset, offset + run), written);
    for (let axis = rank - 2; axis >= 0; axis--) {
      if (++index[axis] < extent[axis]) break;
      index[axis] = 0;
    }
  }
  return out;
}

function unsortedSegmentSumWasm(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const backend = args.backend as BackendWasm;
  const { x, segmentIds } = args.inputs as { x: tf.TensorInfo; segmentIds: tf.TensorInfo };
  const numSegments = (args.attrs as unknown as { numSegments: number }).numSegments;
  const rows = tf.util.sizeFromShape(segmentIds.shape);
  const innerShape = x.shape.slice(segmentIds.shape.length);
  const inner = tf.util.sizeFromShape(innerShape);
  const out = backend.makeOutput([numSegments, ...innerShape], x.dtype);
  // Views over the heap are taken after the allocation: an allocation may grow (and so move) the heap.
  const output = backend.typedArrayFromHeap(out) as Float32Array | Int32Array;
  const values = backend.typedArrayFromHeap(x) as Float32Array | Int32Array;
  const ids = backend.typedArrayFromHeap(segmentIds) as Int32Array;
  output.fill(0);
  for (let row = 0; row < rows; row++) {
    const segment = ids[row];
    if (segment < 0 || segment >= numSegments) continue; // as TensorFlow: out-of-range ids are dropped
    const from = row * inner;
    const to = segment * inner;
    for (let k = 0; k < inner; k++) output[to + k] += values[from + k];
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// matMul with a gradient made of explicit transposes and plain matMuls.

function transposeLastTwo(x: tf.Tensor): tf.Tensor {
  return x.rank === 2 ? tf.transpose(x) : tf.transpose(x, [0, 2, 1]);
}

/**
 * Below this many multiply-adds per matrix of a batch, wasm's own batched loop is kept (e.g. one decoding position
 * against a cache): per-matrix kernel calls cost more than they save there.
 */
const PER_MATRIX_MIN_WORK = 16 * 16 * 16;

/**
 * a @ b for rank 2, or for rank 3 one product per batch entry. wasm sends only unbatched, untransposed products to
 * XNNPACK; a batch goes to a naive loop at ~2.3 GFLOP/s (attention: 32 x [128, 64] x [64, 128]). One XNNPACK
 * product per matrix, on row slices of the batch (contiguous, read in place by sliceWasm), is several times faster.
 */
function plainProduct(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  if (a.rank === 2) return tf.matMul(a, b);
  const [batch, rows, inner] = a.shape;
  const columns = b.shape[2] as number;
  if (batch === 1 || rows * inner * columns < PER_MATRIX_MIN_WORK) return tf.matMul(a, b);
  return tf.tidy(() => {
    const flatA = tf.reshape(a, [batch * rows, inner]);
    const flatB = tf.reshape(b, [batch * inner, columns]);
    const products: tf.Tensor[] = [];
    for (let entry = 0; entry < batch; entry++) {
      const left = tf.slice(flatA, [entry * rows, 0], [rows, inner]);
      const right = tf.slice(flatB, [entry * inner, 0], [inner, columns]);
      products.push(tf.matMul(left, right));
      tf.dispose([left, right]);
    }
    return tf.reshape(tf.concat(products, 0), [batch, rows, columns]);
  });
}

/**
 * On the native backend a product with transposed operands is one kernel (BatchMatMulV2's adj_x / adj_y), and a
 * batch is one kernel too: no explicit transposes, no per-matrix split (each tfjs-node kernel call costs tens of
 * microseconds of overhead, which dominates a small model).
 */
const matMulNative = tf.customGrad((...inputs: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [a, b, save] = inputs as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
  save([a, b]);
  return {
    value: tf.matMul(a, b),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [tf.matMul(dy, saved[1], false, true), tf.matMul(saved[0], dy, true, false)],
  };
});

const linearNative = tf.customGrad((...inputs: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [x, weight, save] = inputs as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
  save([x, weight]);
  return {
    value: tf.matMul(x, weight, false, true),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [tf.matMul(dy, saved[1]), tf.matMul(dy, saved[0], true, false)],
  };
});

const matMulExplicitTransposes = tf.customGrad((...inputs: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [a, b, save] = inputs as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
  save([a, b]);
  return {
    value: plainProduct(a, b),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [savedA, savedB] = saved;
      return [plainProduct(dy, transposeLastTwo(savedB)), plainProduct(transposeLastTwo(savedA), dy)];
    },
  };
});

const linearWithWeightGradient = tf.customGrad((...inputs: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [x, weight, save] = inputs as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
  save([x, weight]);
  return {
    value: tf.matMul(x, tf.transpose(weight)),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [savedX, savedWeight] = saved;
      return [tf.matMul(dy, savedWeight), tf.matMul(tf.transpose(dy), savedX)];
    },
  };
});

/**
 * x @ weight^T for x [rows, in] and a PyTorch Linear weight [out, in], differentiable. Through `matMul(x,
 * transpose(weight))` the backward pass would transpose the weight twice more (for d x, and d weight^T back to
 * d weight); here d x = dy @ weight and d weight = dy^T @ x come out in place, with one transpose (of dy).
 */
export function linearProduct(x: tf.Tensor, weight: tf.Tensor): tf.Tensor {
  if (x.rank !== 2 || weight.rank !== 2 || x.shape[1] !== weight.shape[1]) {
    throw new ZsdError('internal', `linearProduct expects [rows, in] and [out, in], got [${x.shape}] and [${weight.shape}]`);
  }
  return tf.getBackend() === 'wasm' ? linearWithWeightGradient(x, weight) : linearNative(x, weight);
}

/**
 * `a @ b` for [m, k] x [k, n] or batched [batch, m, k] x [batch, k, n] (same batch size, no broadcasting).
 * Use it instead of `tf.matMul` for anything that is differentiated.
 */
export function matMul(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  if (a.rank !== b.rank || (a.rank !== 2 && a.rank !== 3) || (a.rank === 3 && a.shape[0] !== b.shape[0])) {
    throw new ZsdError('internal', `matMul expects two matrices or two equal batches, got [${a.shape}] and [${b.shape}]`);
  }
  return tf.getBackend() === 'wasm' ? matMulExplicitTransposes(a, b) : matMulNative(a, b);
}
