/**
 * torch.optim.AdamW (single-tensor path, amsgrad off) as one pass over a range of flat float32 arrays, the update
 * rule of optimizers.ts's AdamW:
 *     p *= 1 - lr * wd;  m = m + (1 - beta1) (g - m);  v = beta2 v + (1 - beta2) g^2;
 *     p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
 * where g is the sum of the given gradient arrays (one per worker, each already weighted). Why a loop instead of
 * tf ops: the tf version makes ~10 passes over 26M floats through wasm kernels (~170 ms on one core); this is one
 * pass, and the workers of the parallel engine each run it on their own slice of the parameters at the same time.
 * Arithmetic is in doubles, rounded to float32 once per stored value (tf rounds after every op: the two differ in
 * the last bits).
 */
import type { FlatLayout } from './flat-parameters';

export interface FusedAdamWOptions {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  weightDecay: number;
  /** parameters without weight decay */
  noDecay: readonly string[];
  /** the update's number, 1 for the first (bias corrections) */
  step: number;
  /** multiplies the gradients first (gradient clipping's coefficient); default 1 */
  gradientScale?: number;
}

export interface FlatAdamWState {
  parameters: Float32Array;
  expAvg: Float32Array;
  expAvgSq: Float32Array;
}

export function fusedAdamWRange(
  layout: FlatLayout,
  state: FlatAdamWState,
  gradients: readonly Float32Array[],
  from: number,
  to: number,
  options: FusedAdamWOptions,
): void {
  const { learningRate, beta1, beta2, epsilon, step } = options;
  const stepSize = learningRate / (1 - beta1 ** step);
  const biasCorrection2Sqrt = Math.sqrt(1 - beta2 ** step);
  const noDecay = new Set(options.noDecay);
  const [first, ...others] = gradients;
  // more than two arrays: fold the rest into the first over this range (the gradient buffers are scratch)
  const second = others.length > 0 ? others[0] : undefined;
  for (const extra of others.slice(1)) for (let i = from; i < to; i++) first[i] += extra[i];
  for (const entry of layout.entries) {
    const start = Math.max(from, entry.offset);
    const end = Math.min(to, entry.offset + entry.size);
    if (start >= end) continue;
    const keep = noDecay.has(entry.name) ? 1 : 1 - learningRate * options.weightDecay;
    const coefficients = { keep, beta1, beta2, stepSize, biasCorrection2Sqrt, epsilon, scale: options.gradientScale ?? 1 };
    if (second === undefined) adamWOne(state, first, start, end, coefficients);
    else adamWTwo(state, first, second, start, end, coefficients);
  }
}

interface Coefficients {
  keep: number;
  beta1: number;
  beta2: number;
  stepSize: number;
  biasCorrection2Sqrt: number;
  epsilon: number;
  /** the gradient's multiplier */
  scale: number;
}

// Two monomorphic loops (one gradient array, or the sum of two) keep V8's inner loop free of branches and array
// lookups: ~5 ns per parameter, which is the memory traffic (8 float arrays touched); a general loop took 10-15 ns.

function adamWOne(state: FlatAdamWState, gradient: Float32Array, start: number, end: number, c: Coefficients): void {
  const { parameters, expAvg, expAvgSq } = state;
  const { keep, beta2, stepSize, epsilon, scale } = c;
  const oneMinusBeta1 = 1 - c.beta1;
  const oneMinusBeta2 = 1 - beta2;
  const inverseCorrection2 = 1 / c.biasCorrection2Sqrt;
  for (let i = start; i < end; i++) {
    const g = gradient[i] * scale;
    const m = expAvg[i] + oneMinusBeta1 * (g - expAvg[i]);
    const v = beta2 * expAvgSq[i] + oneMinusBeta2 * g * g;
    expAvg[i] = m;
    expAvgSq[i] = v;
    parameters[i] = parameters[i] * keep - (stepSize * m) / (Math.sqrt(v) * inverseCorrection2 + epsilon);
  }
}

function adamWTwo(state: FlatAdamWState, first: Float32Array, second: Float32Array, start: number, end: number, c: Coefficients): void {
  const { parameters, expAvg, expAvgSq } = state;
  const { keep, beta2, stepSize, epsilon, scale } = c;
  const oneMinusBeta1 = 1 - c.beta1;
  const oneMinusBeta2 = 1 - beta2;
  const inverseCorrection2 = 1 / c.biasCorrection2Sqrt;
  for (let i = start; i < end; i++) {
    const g = (first[i] + second[i]) * scale;
    const m = expAvg[i] + oneMinusBeta1 * (g - expAvg[i]);
    const v = beta2 * expAvgSq[i] + oneMinusBeta2 * g * g;
    expAvg[i] = m;
    expAvgSq[i] = v;
    parameters[i] = parameters[i] * keep - (stepSize * m) / (Math.sqrt(v) * inverseCorrection2 + epsilon);
  }
}
