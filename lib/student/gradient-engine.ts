/**
 * Gradients of one micro-step, summed between optimizer updates. The computation sits behind GradientEngine so that a
 * data-parallel engine (parallel/: worker threads, each with a replica) can replace the single-threaded one.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ZsdError } from '../core/errors';
import { labelTokens, lossCoefficients, microStepLoss, rationaleShares, type MicroStepLoss } from './loss-weighting';
import type { HostTensor } from './safetensors';
import type { T5Model } from './t5-model';
import type { EncodedBatch } from './batches';

// ---------------------------------------------------------------------------------------------------------------
// Gradients

/**
 * Sums of gradients by parameter name, between optimizer updates. `add` takes ownership of the tensor it is given.
 * A data-parallel engine adds each worker's gradients (addHost for arrays that come back from a worker).
 */
export class GradientAccumulator {
  private readonly sums = new Map<string, tf.Tensor>();

  add(name: string, gradient: tf.Tensor): void {
    const previous = this.sums.get(name);
    if (previous === undefined) {
      this.sums.set(name, gradient);
      return;
    }
    this.sums.set(name, tf.add(previous, gradient));
    previous.dispose();
    gradient.dispose();
  }

  addHost(name: string, data: Float32Array, shape: number[]): void {
    this.add(name, tf.tensor(data, shape, 'float32'));
  }

  get size(): number {
    return this.sums.size;
  }

  /** The sums, handed over to the caller (who disposes them); the accumulator is empty afterwards. */
  take(): Map<string, tf.Tensor> {
    const taken = new Map(this.sums);
    this.sums.clear();
    return taken;
  }

  dispose(): void {
    for (const tensor of this.sums.values()) tensor.dispose();
    this.sums.clear();
  }
}

export interface MicroStepOptions {
  alpha: number;
  /** multiplies the loss before differentiation (1 / micro-steps of the update) */
  scale: number;
  /** the dropout seed of each batch of the step, in batch order */
  dropoutSeeds: readonly number[];
  /** label smoothing ε of the cross-entropy (RunOptions.labelSmoothing; default 0) */
  labelSmoothing?: number;
}

/**
 * Computes one micro-step: forward and backward over its batches in training mode, adding
 * scale * d(loss)/d(parameter) to `into`. The parameters are the model's; after an optimizer update (or a
 * checkpoint load) `parametersChanged` is awaited, for engines that hold replicas.
 */
export interface GradientEngine {
  step(batches: readonly EncodedBatch[], options: MicroStepOptions, into: GradientAccumulator): Promise<MicroStepLoss>;
  parametersChanged?(): Promise<void>;
  dispose?(): void;
}

/**
 * An engine that can also run AdamW itself, where its gradients are (the data-parallel engine: fused over shared
 * memory in its workers, parallel/fused-adamw.ts), so the main thread neither receives the gradients nor updates
 * its model between updates. The trainer takes this path for AdamW without gradient accumulation; its model is then
 * stale until `copyParametersTo` (before evaluating or saving), and the optimizer's state moves between the engine
 * and optimizers.ts's AdamW at checkpoints and on resume.
 */
export interface FusedAdamWEngine extends GradientEngine {
  stepInPlace(batches: readonly EncodedBatch[], options: MicroStepOptions): Promise<{ loss: MicroStepLoss; differentiated: boolean }>;
  gradientNorm(): Promise<number>;
  applyAdamW(options: {
    learningRate: number;
    beta1: number;
    beta2: number;
    epsilon: number;
    weightDecay: number;
    noDecay: readonly string[];
    gradientScale: number;
  }): Promise<void>;
  copyParametersTo(model: T5Model): void;
  adamWState(): { step: number; tensors: Map<string, HostTensor> };
  loadAdamWState(step: number, tensors: ReadonlyMap<string, HostTensor>): void;
}

export function isFusedAdamWEngine(engine: GradientEngine): engine is FusedAdamWEngine {
  return typeof (engine as Partial<FusedAdamWEngine>).stepInPlace === 'function' && typeof (engine as Partial<FusedAdamWEngine>).applyAdamW === 'function';
}

/** The single-threaded engine: one backward pass per batch (lower peak memory than one graph for the whole step). */
export class LocalGradientEngine implements GradientEngine {
  private readonly namesByVariable: Map<string, string>;

  constructor(private readonly model: T5Model) {
    this.namesByVariable = new Map([...model.parameters].map(([name, variable]) => [variable.name, name]));
  }

  async step(batches: readonly EncodedBatch[], options: MicroStepOptions, into: GradientAccumulator): Promise<MicroStepLoss> {
    const coefficients = lossCoefficients(batches, options.alpha);
    const shares = rationaleShares(batches);
    if (options.dropoutSeeds.length !== batches.length) throw new ZsdError('internal', 'one dropout seed per batch is needed');
    const variables = this.model.trainableVariables();
    const batchLosses: number[] = [];
    for (const [index, batch] of batches.entries()) {
      // an explain batch without label tokens contributes 0 (its mean is undefined)
      let batchLoss = 0;
      if (labelTokens(batch) > 0) {
        this.model.seedDropout(options.dropoutSeeds[index]);
        const lossOf = () =>
          this.model.lossFn(
            {
              inputIds: tf.tensor2d(batch.inputIds, undefined, 'int32'),
              attentionMask: tf.tensor2d(batch.attentionMask, undefined, 'int32'),
              labels: tf.tensor2d(batch.labels, undefined, 'int32'),
            },
            { training: true, labelSmoothing: options.labelSmoothing },
          );
        const factor = coefficients[index] * options.scale;
        if (factor === 0) {
          batchLoss = tf.tidy(() => lossOf().dataSync()[0]); // reported, not differentiated
        } else {
          const { value, grads } = tf.variableGrads(() => {
            const loss = lossOf();
            batchLoss = loss.dataSync()[0];
            return tf.mul(loss, factor) as tf.Scalar;
          }, variables);
          value.dispose();
          for (const [variableName, gradient] of Object.entries(grads)) {
            const name = this.namesByVariable.get(variableName);
            if (name === undefined) {
              gradient.dispose();
              throw new ZsdError('internal', `gradient for variable ${variableName}, which is not a model parameter`);
            }
            into.add(name, gradient);
          }
        }
      }
      batchLosses.push(batchLoss);
    }
    return microStepLoss(batches, coefficients, shares, batchLosses);
  }
}

/** A 31-bit seed for one batch's dropout masks, from the run seed, the micro-step and the batch's place in it. */
export function dropoutSeedFor(seed: number, microStep: number, batch: number): number {
  let hash = 0x811c9dc5;
  for (const value of [seed, microStep, batch]) {
    // FNV-1a over the 32-bit halves, then a murmur3 finaliser
    for (const word of [value >>> 0, Math.floor(value / 2 ** 32) >>> 0]) {
      hash = Math.imul(hash ^ word, 0x01000193);
    }
  }
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 1;
}
