/**
 * Optimizers and learning-rate schedules for the student, computed as the PyTorch stack of the study computes them,
 * so that a run here follows the same update rule as a run with transformers' Trainer:
 *
 * - AdamW: torch.optim.AdamW (single-tensor path, amsgrad off): decoupled weight decay p *= 1 - lr * wd first, then
 *   m = lerp(m, g, 1 - beta1), v = beta2 v + (1 - beta2) g^2, p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
 *   (eps outside the square root, after the bias correction of v).
 * - Adafactor: transformers.optimization.Adafactor (relative step, parameter scaling, warm-up init, update clipping at
 *   clip_threshold, decay rate -0.8, optional first moment, factored second moments for parameters of rank >= 2).
 * - Schedules: transformers' get_constant_schedule(_with_warmup), get_linear_schedule_with_warmup and
 *   get_cosine_schedule_with_warmup, indexed as Trainer does: the k-th update (k = 0, 1, ...) uses the multiplier
 *   at k, so with warm-up the first update has learning rate 0.
 * - clipGradientsByGlobalNorm: torch.nn.utils.clip_grad_norm_ (coefficient max_norm / (norm + 1e-6), at most 1).
 *
 * Parameters are tf.Variables keyed by name (T5Model.parameters); gradients come keyed the same way. As in PyTorch,
 * a parameter without a gradient in an update is left alone (no decay, no step count). State lives in tensors
 * between updates and converts to host arrays (`state()` / `loadState()`) for checkpoints; saveOptimizerState writes
 * it as a safetensors file plus a JSON sidecar.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { ZsdError } from '../core/errors';
import { writeFileAtomic } from '../core/paths';
import { readSafetensors, writeSafetensors, type HostTensor } from './safetensors';

export type NamedVariables = ReadonlyMap<string, tf.Variable>;
export type NamedGradients = ReadonlyMap<string, tf.Tensor>;

export type OptimizerKind = 'adamw' | 'adafactor';

/** Everything an optimizer carries between updates, on the host (for checkpoints). */
export interface OptimizerState {
  kind: OptimizerKind;
  /** the options it was built with, to refuse resuming with different ones */
  options: Record<string, unknown>;
  /** per parameter: updates applied to it so far (PyTorch's state[p]["step"]) */
  steps: Record<string, number>;
  /** slot tensors named `<parameter>/<slot>` (adamw: exp_avg, exp_avg_sq; adafactor: exp_avg, exp_avg_sq(_row, _col)) */
  tensors: Map<string, HostTensor>;
}

export interface Optimizer {
  readonly kind: OptimizerKind;
  /**
   * One update of every parameter that has a gradient. `learningRate` is the scheduled rate; Adafactor with
   * relative steps ignores it (its rate follows from the step count and the parameter's scale, as in transformers).
   */
  apply(gradients: NamedGradients, learningRate: number): void;
  state(): OptimizerState;
  /** Replaces the state (after checking it was made by an optimizer of this kind with the same options). */
  loadState(state: OptimizerState): void;
  /** Frees the slot tensors (not the parameters). */
  dispose(): void;
}

// ---------------------------------------------------------------------------------------------------------------
// Shared bookkeeping

abstract class SlotOptimizer implements Optimizer {
  abstract readonly kind: OptimizerKind;
  protected readonly slots = new Map<string, Map<string, tf.Tensor>>();
  protected readonly steps = new Map<string, number>();

  constructor(protected readonly variables: NamedVariables) {}

  abstract apply(gradients: NamedGradients, learningRate: number): void;
  protected abstract optionsRecord(): Record<string, unknown>;

  protected variable(name: string): tf.Variable {
    const variable = this.variables.get(name);
    if (variable === undefined) throw new ZsdError('internal', `gradient for ${name}, which is not a parameter of this optimizer`);
    return variable;
  }

  protected checkGradient(name: string, variable: tf.Variable, gradient: tf.Tensor): void {
    if (gradient.shape.length !== variable.shape.length || gradient.shape.some((size, axis) => size !== variable.shape[axis])) {
      throw new ZsdError('internal', `gradient for ${name} has shape [${gradient.shape}], the parameter [${variable.shape}]`);
    }
  }

  /** Swaps in new slot tensors and a new parameter value, freeing the old ones. */
  protected commit(name: string, variable: tf.Variable, newValue: tf.Tensor, newSlots: Record<string, tf.Tensor>): void {
    variable.assign(newValue);
    newValue.dispose(); // the variable holds its own reference to the data
    let slots = this.slots.get(name);
    if (slots === undefined) {
      slots = new Map();
      this.slots.set(name, slots);
    }
    for (const [slot, tensor] of Object.entries(newSlots)) {
      slots.get(slot)?.dispose();
      slots.set(slot, tensor);
    }
  }

  state(): OptimizerState {
    const tensors = new Map<string, HostTensor>();
    for (const [name, slots] of this.slots) {
      for (const [slot, tensor] of slots) {
        tensors.set(`${name}/${slot}`, { shape: [...tensor.shape], data: Float32Array.from(tensor.dataSync() as Float32Array) });
      }
    }
    return { kind: this.kind, options: this.optionsRecord(), steps: Object.fromEntries(this.steps), tensors };
  }

  loadState(state: OptimizerState): void {
    if (state.kind !== this.kind) {
      throw new ZsdError('invalid-file', `optimizer state is for ${state.kind}, this optimizer is ${this.kind}`, { key: 'kind' });
    }
    const options = this.optionsRecord();
    for (const key of new Set([...Object.keys(options), ...Object.keys(state.options)])) {
      if (JSON.stringify(options[key]) !== JSON.stringify(state.options[key])) {
        throw new ZsdError(
          'invalid-file',
          `optimizer state was made with ${key} = ${JSON.stringify(state.options[key])}, this optimizer has ${JSON.stringify(options[key])}`,
          { key: `options.${key}` },
        );
      }
    }
    const incoming = new Map<string, Map<string, tf.Tensor>>();
    try {
      for (const [key, host] of state.tensors) {
        const cut = key.lastIndexOf('/');
        const name = key.slice(0, cut);
        if (cut < 0 || !this.variables.has(name)) throw new ZsdError('invalid-file', `optimizer state has ${key}, which names no parameter`, { key });
        if (!(name in state.steps)) throw new ZsdError('invalid-file', `optimizer state has ${key} but no step count for ${name}`, { key });
        let slots = incoming.get(name);
        if (slots === undefined) {
          slots = new Map();
          incoming.set(name, slots);
        }
        slots.set(key.slice(cut + 1), tf.tensor(host.data, host.shape, 'float32'));
      }
    } catch (error) {
      for (const slots of incoming.values()) for (const tensor of slots.values()) tensor.dispose();
      throw error;
    }
    this.dispose();
    for (const [name, slots] of incoming) this.slots.set(name, slots);
    for (const [name, step] of Object.entries(state.steps)) this.steps.set(name, step);
  }

  dispose(): void {
    for (const slots of this.slots.values()) for (const tensor of slots.values()) tensor.dispose();
    this.slots.clear();
    this.steps.clear();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// AdamW

export interface AdamWOptions {
  /** default 0.9 */
  beta1?: number;
  /** default 0.999 */
  beta2?: number;
  /** default 1e-8 */
  epsilon?: number;
  /** decoupled weight decay; default 0.01 (torch.optim.AdamW's default; transformers' Trainer passes 0 unless told) */
  weightDecay?: number;
  /** parameters that get no weight decay (transformers' Trainer: biases and layer norms); default none */
  noDecay?: readonly string[];
}

export class AdamW extends SlotOptimizer {
  readonly kind = 'adamw';
  private readonly beta1: number;
  private readonly beta2: number;
  private readonly epsilon: number;
  private readonly weightDecay: number;
  private readonly noDecay: ReadonlySet<string>;

  constructor(variables: NamedVariables, options: AdamWOptions = {}) {
    super(variables);
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.epsilon = options.epsilon ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0.01;
    this.noDecay = new Set(options.noDecay ?? []);
    for (const [key, value, low, high] of [
      ['beta1', this.beta1, 0, 1],
      ['beta2', this.beta2, 0, 1],
    ] as const) {
      if (!(value >= low && value < high)) throw new ZsdError('usage', `AdamW ${key} must be in [0, 1), got ${value}`);
    }
    if (!(this.epsilon >= 0)) throw new ZsdError('usage', `AdamW epsilon must be >= 0, got ${this.epsilon}`);
    if (!(this.weightDecay >= 0)) throw new ZsdError('usage', `AdamW weight decay must be >= 0, got ${this.weightDecay}`);
  }

  protected optionsRecord(): Record<string, unknown> {
    return this.hyperparameters();
  }

  hyperparameters(): { beta1: number; beta2: number; epsilon: number; weightDecay: number; noDecay: string[] } {
    return { beta1: this.beta1, beta2: this.beta2, epsilon: this.epsilon, weightDecay: this.weightDecay, noDecay: [...this.noDecay].sort() };
  }

  /** The state of an update computed elsewhere (the data-parallel engine's fused AdamW): every parameter at `step`. */
  loadMoments(step: number, tensors: Map<string, HostTensor>): void {
    const steps = Object.fromEntries([...this.variables.keys()].map((name) => [name, step]));
    this.loadState({ kind: this.kind, options: this.optionsRecord(), steps, tensors });
  }

  apply(gradients: NamedGradients, learningRate: number): void {
    if (!(learningRate >= 0)) throw new ZsdError('internal', `learning rate must be >= 0, got ${learningRate}`);
    for (const [name, gradient] of gradients) {
      const variable = this.variable(name);
      this.checkGradient(name, variable, gradient);
      const step = (this.steps.get(name) ?? 0) + 1;
      const slots = this.slots.get(name);
      const decay = this.noDecay.has(name) ? 0 : this.weightDecay;
      // The scalars PyTorch computes in Python doubles.
      const biasCorrection1 = 1 - this.beta1 ** step;
      const biasCorrection2Sqrt = Math.sqrt(1 - this.beta2 ** step);
      const stepSize = learningRate / biasCorrection1;
      const [value, expAvg, expAvgSq] = tf.tidy(() => {
        const previousAvg = slots?.get('exp_avg') ?? tf.zerosLike(variable);
        const previousAvgSq = slots?.get('exp_avg_sq') ?? tf.zerosLike(variable);
        const decayed = decay !== 0 ? tf.mul(variable, 1 - learningRate * decay) : variable;
        // exp_avg.lerp_(grad, 1 - beta1), exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        const avg = tf.add(previousAvg, tf.mul(tf.sub(gradient, previousAvg), 1 - this.beta1));
        const avgSq = tf.add(tf.mul(previousAvgSq, this.beta2), tf.mul(tf.square(gradient), 1 - this.beta2));
        const denominator = tf.add(tf.div(tf.sqrt(avgSq), biasCorrection2Sqrt), this.epsilon);
        return [tf.add(decayed, tf.mul(tf.div(avg, denominator), -stepSize)), avg, avgSq];
      });
      this.commit(name, variable, value, { exp_avg: expAvg, exp_avg_sq: expAvgSq });
      this.steps.set(name, step);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Adafactor

export interface AdafactorOptions {
  /** external learning rate; only without relativeStep (transformers refuses both) */
  relativeStep?: boolean;
  /** default true: the step size is scaled by max(eps2, RMS(parameter)) */
  scaleParameter?: boolean;
  /** default false: relative step min(1e-6 t, 1/sqrt(t)) instead of min(1e-2, 1/sqrt(t)) */
  warmupInit?: boolean;
  /** default [1e-30, 1e-3]: added to the squared gradient; floor of the parameter scale */
  epsilon?: [number, number];
  /** default 1.0: the update's RMS is clipped to this */
  clipThreshold?: number;
  /** default -0.8: beta2 at step t is 1 - t^decayRate */
  decayRate?: number;
  /** default null (no first moment) */
  beta1?: number | null;
  /** default 0 */
  weightDecay?: number;
}

export class Adafactor extends SlotOptimizer {
  readonly kind = 'adafactor';
  private readonly options: Required<AdafactorOptions>;

  constructor(variables: NamedVariables, options: AdafactorOptions = {}) {
    super(variables);
    this.options = {
      relativeStep: options.relativeStep ?? true,
      scaleParameter: options.scaleParameter ?? true,
      warmupInit: options.warmupInit ?? false,
      epsilon: options.epsilon ?? [1e-30, 1e-3],
      clipThreshold: options.clipThreshold ?? 1.0,
      decayRate: options.decayRate ?? -0.8,
      beta1: options.beta1 ?? null,
      weightDecay: options.weightDecay ?? 0,
    };
    if (this.options.warmupInit && !this.options.relativeStep) {
      throw new ZsdError('usage', 'Adafactor warmupInit requires relativeStep (as in transformers)');
    }
    if (this.options.beta1 !== null && !(this.options.beta1 >= 0 && this.options.beta1 < 1)) {
      throw new ZsdError('usage', `Adafactor beta1 must be in [0, 1) or null, got ${this.options.beta1}`);
    }
  }

  protected optionsRecord(): Record<string, unknown> {
    return { ...this.options };
  }

  /** The rate before the parameter scale: the external one, or transformers' relative step. */
  private relativeStepSize(step: number, learningRate: number): number {
    if (!this.options.relativeStep) return learningRate;
    const minStep = this.options.warmupInit ? 1e-6 * step : 1e-2;
    return Math.min(minStep, 1 / Math.sqrt(step));
  }

  apply(gradients: NamedGradients, learningRate: number): void {
    const { epsilon, clipThreshold, decayRate, beta1, weightDecay, scaleParameter } = this.options;
    if (!this.options.relativeStep && !(learningRate >= 0)) throw new ZsdError('internal', `learning rate must be >= 0, got ${learningRate}`);
    for (const [name, gradient] of gradients) {
      const variable = this.variable(name);
      this.checkGradient(name, variable, gradient);
      const step = (this.steps.get(name) ?? 0) + 1;
      const slots = this.slots.get(name);
      const factored = gradient.rank >= 2;
      const beta2t = 1 - step ** decayRate;
      const stepSize = this.relativeStepSize(step, learningRate);
      const result = tf.tidy(() => {
        const newSlots: Record<string, tf.Tensor> = {};
        // lr = max(eps2, RMS(p)) * step size, RMS taken before the update (kept on the device: no sync per parameter)
        const rate = scaleParameter ? tf.mul(tf.maximum(rootMeanSquare(variable), epsilon[1]), stepSize) : tf.scalar(stepSize);
        const squared = tf.add(tf.square(gradient), epsilon[0]);
        let update: tf.Tensor;
        if (factored) {
          const rank = gradient.rank;
          const rowShape = gradient.shape.slice(0, -1);
          const columnShape = [...gradient.shape.slice(0, -2), gradient.shape[rank - 1]];
          const row = tf.add(tf.mul(slots?.get('exp_avg_sq_row') ?? tf.zeros(rowShape), beta2t), tf.mul(tf.mean(squared, rank - 1), 1 - beta2t));
          const column = tf.add(tf.mul(slots?.get('exp_avg_sq_col') ?? tf.zeros(columnShape), beta2t), tf.mul(tf.mean(squared, rank - 2), 1 - beta2t));
          const rowFactor = tf.expandDims(tf.rsqrt(tf.div(row, tf.mean(row, rank - 2, true))), -1);
          const columnFactor = tf.expandDims(tf.rsqrt(column), -2);
          update = tf.mul(tf.mul(rowFactor, columnFactor), gradient);
          newSlots.exp_avg_sq_row = row;
          newSlots.exp_avg_sq_col = column;
        } else {
          const averageSquare = tf.add(tf.mul(slots?.get('exp_avg_sq') ?? tf.zerosLike(gradient), beta2t), tf.mul(squared, 1 - beta2t));
          update = tf.mul(tf.rsqrt(averageSquare), gradient);
          newSlots.exp_avg_sq = averageSquare;
        }
        update = tf.div(update, tf.maximum(tf.div(rootMeanSquare(update), clipThreshold), 1));
        update = tf.mul(update, rate);
        if (beta1 !== null) {
          update = tf.add(tf.mul(slots?.get('exp_avg') ?? tf.zerosLike(gradient), beta1), tf.mul(update, 1 - beta1));
          newSlots.exp_avg = update;
        }
        let value: tf.Tensor = variable;
        if (weightDecay !== 0) value = tf.add(value, tf.mul(value, tf.mul(rate, -weightDecay)));
        return { value: tf.sub(value, update), newSlots };
      });
      this.commit(name, variable, result.value, result.newSlots);
      this.steps.set(name, step);
    }
  }
}

/** tensor.norm(2) / numel ** 0.5, as transformers' Adafactor._rms. */
function rootMeanSquare(x: tf.Tensor): tf.Scalar {
  return tf.div(tf.sqrt(tf.sum(tf.square(x))), Math.sqrt(x.size));
}

// ---------------------------------------------------------------------------------------------------------------
// Building from a config, saving and loading

export type OptimizerConfig = ({ kind: 'adamw' } & AdamWOptions) | ({ kind: 'adafactor' } & AdafactorOptions);

export function createOptimizer(variables: NamedVariables, config: OptimizerConfig): Optimizer {
  switch (config.kind) {
    case 'adamw':
      return new AdamW(variables, config);
    case 'adafactor':
      return new Adafactor(variables, config);
    default:
      throw new ZsdError('usage', `unknown optimizer ${JSON.stringify((config as { kind: unknown }).kind)}; expected adamw or adafactor`);
  }
}

export const OPTIMIZER_TENSORS_FILE = 'optimizer.safetensors';
export const OPTIMIZER_STATE_FILE = 'optimizer.json';

/** Writes optimizer.safetensors (slot tensors, F32: exact) and optimizer.json (kind, options, step counts) into a directory. */
export function saveOptimizerState(directory: string, state: OptimizerState): void {
  fs.mkdirSync(directory, { recursive: true });
  const tensors = [...state.tensors].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  writeSafetensors(path.join(directory, OPTIMIZER_TENSORS_FILE), tensors, { metadata: { format: 'zsd-optimizer' } });
  const sidecar = { formatVersion: 1, kind: state.kind, options: state.options, steps: state.steps };
  writeFileAtomic(path.join(directory, OPTIMIZER_STATE_FILE), `${JSON.stringify(sidecar, null, 2)}\n`);
}

export function loadOptimizerState(directory: string): OptimizerState {
  const file = path.join(directory, OPTIMIZER_STATE_FILE);
  let sidecar: { formatVersion?: unknown; kind?: unknown; options?: unknown; steps?: unknown };
  try {
    sidecar = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ZsdError('invalid-file', `cannot read the optimizer state: ${(error as Error).message}`, { file });
  }
  if (sidecar.formatVersion !== 1)
    throw new ZsdError('invalid-file', `expected formatVersion 1, got ${JSON.stringify(sidecar.formatVersion)}`, { file, key: 'formatVersion' });
  if (sidecar.kind !== 'adamw' && sidecar.kind !== 'adafactor')
    throw new ZsdError('invalid-file', 'expected kind "adamw" or "adafactor"', { file, key: 'kind' });
  if (typeof sidecar.options !== 'object' || sidecar.options === null) throw new ZsdError('invalid-file', 'expected an object', { file, key: 'options' });
  const steps = sidecar.steps as Record<string, unknown> | null;
  if (typeof steps !== 'object' || steps === null || Object.values(steps).some((step) => !Number.isInteger(step) || (step as number) < 1)) {
    throw new ZsdError('invalid-file', 'expected an object of positive integer step counts', { file, key: 'steps' });
  }
  return {
    kind: sidecar.kind,
    options: sidecar.options as Record<string, unknown>,
    steps: steps as Record<string, number>,
    tensors: readSafetensors(path.join(directory, OPTIMIZER_TENSORS_FILE)),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Gradient clipping

/**
 * torch.nn.utils.clip_grad_norm_: the global L2 norm over all gradients; when it exceeds maxNorm every gradient is
 * multiplied by maxNorm / (norm + 1e-6) (PyTorch multiplies by the coefficient clamped to 1 always; multiplying by
 * exactly 1 changes nothing, so the tensors are returned as they are then). Returns new tensors (the caller
 * disposes the old ones unless they are returned unchanged) and the norm before clipping.
 */
export function clipGradientsByGlobalNorm(gradients: NamedGradients, maxNorm: number): { gradients: Map<string, tf.Tensor>; norm: number } {
  const norm = globalGradientNorm(gradients);
  const coefficient = Math.min(Math.fround(maxNorm / Math.fround(norm + 1e-6)), 1);
  if (coefficient >= 1) return { gradients: new Map(gradients), norm };
  const clipped = new Map<string, tf.Tensor>();
  for (const [name, gradient] of gradients) clipped.set(name, tf.mul(gradient, coefficient));
  return { gradients: clipped, norm };
}

/** sqrt(sum over gradients of ||g||^2), as torch: the norm of the per-tensor norms (float32). */
export function globalGradientNorm(gradients: NamedGradients): number {
  if (gradients.size === 0) return 0;
  return tf.tidy(() => {
    const norms = [...gradients.values()].map((gradient) => tf.sqrt(tf.sum(tf.square(gradient))));
    return tf.sqrt(tf.sum(tf.square(tf.stack(norms)))).dataSync()[0];
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Learning-rate schedules

export type ScheduleKind = 'constant' | 'linear' | 'cosine';
export const SCHEDULE_KINDS: readonly ScheduleKind[] = ['constant', 'linear', 'cosine'];

export interface ScheduleConfig {
  kind: ScheduleKind;
  /** updates with a linearly rising rate (0 at the first update); default 0 */
  warmupSteps?: number;
  /** all updates of the run (linear and cosine decay to 0 at this step) */
  totalSteps: number;
  /** cosine only: number of cosine waves (transformers' num_cycles, default 0.5: one half-wave down to 0) */
  cycles?: number;
}

/**
 * The multiplier of the base learning rate for the update with index `step` (0 for the first update), as
 * transformers' schedules' lr_lambda(current_step).
 */
export function scheduleMultiplier(schedule: ScheduleConfig, step: number): number {
  const warmup = schedule.warmupSteps ?? 0;
  if (step < warmup) return step / Math.max(1, warmup);
  switch (schedule.kind) {
    case 'constant':
      return 1;
    case 'linear':
      return Math.max(0, (schedule.totalSteps - step) / Math.max(1, schedule.totalSteps - warmup));
    case 'cosine': {
      const progress = (step - warmup) / Math.max(1, schedule.totalSteps - warmup);
      return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * (schedule.cycles ?? 0.5) * 2 * progress)));
    }
    default:
      throw new ZsdError(
        'usage',
        `unknown learning-rate schedule ${JSON.stringify((schedule as { kind: unknown }).kind)}; expected ${SCHEDULE_KINDS.join(', ')}`,
      );
  }
}

export function learningRateAt(baseLearningRate: number, schedule: ScheduleConfig, step: number): number {
  return baseLearningRate * scheduleMultiplier(schedule, step);
}
