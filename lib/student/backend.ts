/**
 * The TensorFlow.js backend the student runs on, chosen once per process.
 *
 * Order: `@tensorflow/tfjs-node-gpu`, then `@tensorflow/tfjs-node` (native TensorFlow; optional packages, loaded
 * at run time when installed), else the WebAssembly backend. Never the pure-JS `cpu` backend: it is ~27x slower
 * than wasm and its `gather` gradient explodes memory (docs/toolchain.md), so training on it is not an option.
 *
 * tfjs-core's CommonJS build registers no gradients at all; gradients.ts registers the ones the model needs.
 *
 * Two fixes make wasm trainable (measured, docs/toolchain.md):
 * - wasm has no `UnsortedSegmentSum` kernel, which the gradient of `tf.gather` (embedding lookup) needs; a small
 *   JS kernel over the wasm heap provides it.
 * - wasm `matMul` with `transposeA`/`transposeB`, which autodiff uses for matMul gradients, is ~10x slower than an
 *   explicit `tf.transpose` followed by a plain matMul; `matMul` below is a custom-gradient matMul that does that.
 *   The model uses it for every matrix product.
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

/** Selects and initialises the backend; calling it again (with the same preference) returns the same answer. */
export function initBackend(options: { prefer?: BackendPreference } = {}): Promise<BackendInfo> {
  const prefer = options.prefer ?? 'auto';
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
  const nativeOrder: ('node-gpu' | 'node')[] =
    prefer === 'auto' ? ['node-gpu', 'node'] : prefer === 'wasm' ? [] : [prefer];
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
    throw new ZsdError(
      'internal',
      `no usable TensorFlow.js backend (the pure-JS cpu backend is deliberately not used): ${failures.join('; ')}`,
    );
  }
}

type NativeOutcome = { kind: 'ready'; info: BackendInfo } | { kind: 'unavailable'; reason: string };

async function tryNativeBackend(packageName: string): Promise<NativeOutcome> {
  try {
    require(packageName);
  } catch (error) {
    return { kind: 'unavailable', reason: isModuleNotFound(error) ? 'not installed' : String(error) };
  }
  // The native package registers 'tensorflow' on its own copy of tfjs-core; it is usable only when that copy is ours.
  if (tf.findBackendFactory('tensorflow') === null) {
    return { kind: 'unavailable', reason: 'installed against a different @tensorflow/tfjs-core' };
  }
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

function registerWasmKernelFixes(): void {
  if (tf.getKernel(tf.UnsortedSegmentSum, 'wasm') !== undefined) return;
  tf.registerKernel({ kernelName: tf.UnsortedSegmentSum, backendName: 'wasm', kernelFunc: unsortedSegmentSumWasm });
}

function unsortedSegmentSumWasm(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
}): tf.TensorInfo {
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

const matMulExplicitTransposes = tf.customGrad((...inputs: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [a, b, save] = inputs as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
  save([a, b]);
  return {
    value: tf.matMul(a, b),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [savedA, savedB] = saved;
      return [tf.matMul(dy, transposeLastTwo(savedB)), tf.matMul(transposeLastTwo(savedA), dy)];
    },
  };
});

/**
 * `a @ b` for [m, k] x [k, n] or batched [batch, m, k] x [batch, k, n] (same batch size, no broadcasting).
 * Use it instead of `tf.matMul` for anything that is differentiated.
 */
export function matMul(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  if (a.rank !== b.rank || (a.rank !== 2 && a.rank !== 3) || (a.rank === 3 && a.shape[0] !== b.shape[0])) {
    throw new ZsdError('internal', `matMul expects two matrices or two equal batches, got [${a.shape}] and [${b.shape}]`);
  }
  return matMulExplicitTransposes(a, b);
}
