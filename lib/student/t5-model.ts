/**
 * The T5 encoder-decoder (T5ForConditionalGeneration) in TensorFlow.js, computed as Hugging Face transformers'
 * modeling_t5.py does in PyTorch, so that checkpoints move both ways and numbers agree to float32 rounding
 * (check-model.ts pins that against tensors PyTorch computed).
 *
 * What T5 does that other transformers do not, all reproduced here:
 * - T5LayerNorm is an RMS norm: x * rsqrt(mean(x^2) + eps) * weight; no mean subtraction, no bias.
 * - Attention scores are not scaled by 1/sqrt(d_kv). Instead of position embeddings, a learned bias per
 *   (relative-position bucket, head) is added to the scores. Only block 0 of each stack owns
 *   `relative_attention_bias`; its bias is reused by every layer of that stack. Buckets are bidirectional in the
 *   encoder and causal in the decoder; cross-attention has no position bias.
 * - Masks are additive (float32's minimum where attention is not allowed), folded into the position bias.
 * - num_heads * d_kv may differ from d_model.
 * - With `scaleDecoderOutputs` (original T5; `tie_word_embeddings` in transformers 4) the decoder output is
 *   multiplied by d_model^-0.5 before the lm_head. The lm_head is `lm_head.weight` when the checkpoint is untied,
 *   else the shared embedding.
 *
 * Parameters are tf.Variables keyed by their Hugging Face names, in PyTorch layout ([out, in] for linear layers).
 * Matrix products that are differentiated go through backend.ts (linearProduct for x @ W^T, matMul for attention,
 * lmHeadCrossEntropy's own backward for the vocabulary projection): gradients shaped for what wasm runs fast.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ZsdError } from '../core/errors';
import { geluTanh, linearProduct, matMul, softmaxCrossEntropyForward, softmaxCrossEntropyGradientColumns, sparseSoftmaxCrossEntropyNative } from './backend';
import type { HostTensor } from './safetensors';
import type { T5Config } from './t5-config';

/** torch.finfo(torch.float32).min: what Hugging Face adds to the scores where attention is masked out. */
export const FLOAT32_MIN = -3.4028234663852886e38;
/** Label value that the loss ignores (PyTorch CrossEntropyLoss's ignore_index). */
export const IGNORE_INDEX = -100;

// ---------------------------------------------------------------------------------------------------------------
// Parameter names and shapes

type Stack = 'encoder' | 'decoder';

/** Every parameter of T5ForConditionalGeneration for this config, in Hugging Face's order, with its shape. */
export function t5ParameterShapes(config: T5Config): Map<string, number[]> {
  const shapes = new Map<string, number[]>();
  const inner = config.numHeads * config.dKv;
  shapes.set('shared.weight', [config.vocabSize, config.dModel]);
  const addStack = (stack: Stack, layers: number) => {
    for (let block = 0; block < layers; block++) {
      const prefix = `${stack}.block.${block}.layer`;
      const attentions = [`${prefix}.0.SelfAttention`];
      if (stack === 'decoder') attentions.push(`${prefix}.1.EncDecAttention`);
      for (const attention of attentions) {
        shapes.set(`${attention}.q.weight`, [inner, config.dModel]);
        shapes.set(`${attention}.k.weight`, [inner, config.dModel]);
        shapes.set(`${attention}.v.weight`, [inner, config.dModel]);
        shapes.set(`${attention}.o.weight`, [config.dModel, inner]);
        if (block === 0 && attention.endsWith('SelfAttention')) {
          shapes.set(`${attention}.relative_attention_bias.weight`, [config.relativeAttentionNumBuckets, config.numHeads]);
        }
        shapes.set(`${attention.slice(0, attention.lastIndexOf('.'))}.layer_norm.weight`, [config.dModel]);
      }
      const feedForward = `${prefix}.${stack === 'encoder' ? 1 : 2}`;
      if (config.isGatedAct) {
        shapes.set(`${feedForward}.DenseReluDense.wi_0.weight`, [config.dFf, config.dModel]);
        shapes.set(`${feedForward}.DenseReluDense.wi_1.weight`, [config.dFf, config.dModel]);
      } else {
        shapes.set(`${feedForward}.DenseReluDense.wi.weight`, [config.dFf, config.dModel]);
      }
      shapes.set(`${feedForward}.DenseReluDense.wo.weight`, [config.dModel, config.dFf]);
      shapes.set(`${feedForward}.layer_norm.weight`, [config.dModel]);
    }
    shapes.set(`${stack}.final_layer_norm.weight`, [config.dModel]);
  };
  addStack('encoder', config.numLayers);
  addStack('decoder', config.numDecoderLayers);
  if (!config.tieWordEmbeddings) shapes.set('lm_head.weight', [config.vocabSize, config.dModel]);
  return shapes;
}

export type ParameterProblem =
  | { kind: 'missing'; name: string; expectedShape: number[] }
  | { kind: 'wrong-shape'; name: string; expectedShape: number[]; actualShape: number[] }
  | { kind: 'unexpected'; name: string; actualShape: number[] };

/** Missing, mis-shaped and unexpected tensors, against what the config calls for (empty when all is well). */
export function findParameterProblems(config: T5Config, tensors: ReadonlyMap<string, { shape: number[] }>): ParameterProblem[] {
  const expected = t5ParameterShapes(config);
  const problems: ParameterProblem[] = [];
  for (const [name, expectedShape] of expected) {
    const tensor = tensors.get(name);
    if (tensor === undefined) problems.push({ kind: 'missing', name, expectedShape });
    else if (!sameShape(tensor.shape, expectedShape)) {
      problems.push({ kind: 'wrong-shape', name, expectedShape, actualShape: tensor.shape });
    }
  }
  for (const [name, tensor] of tensors) {
    if (!expected.has(name)) problems.push({ kind: 'unexpected', name, actualShape: tensor.shape });
  }
  return problems;
}

export function describeParameterProblem(problem: ParameterProblem): string {
  switch (problem.kind) {
    case 'missing':
      return `missing tensor ${problem.name} (expected shape [${problem.expectedShape.join(', ')}])`;
    case 'wrong-shape':
      return `tensor ${problem.name} has shape [${problem.actualShape.join(', ')}], expected [${problem.expectedShape.join(', ')}]`;
    case 'unexpected':
      return `unexpected tensor ${problem.name} (shape [${problem.actualShape.join(', ')}]) that this T5 config has no parameter for`;
  }
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((size, axis) => size === b[axis]);
}

// ---------------------------------------------------------------------------------------------------------------
// How the math reads parameters

/**
 * `stored` gives a parameter as kept (PyTorch layout); `transposed` gives a linear weight as [in, out] for
 * `x @ W^T`. During training the transpose is recomputed (it is part of the differentiated graph); for generation
 * InferenceParameters transposes each weight once.
 */
export interface ParameterSource {
  stored(name: string): tf.Tensor;
  transposed(name: string): tf.Tensor;
  /** x @ W^T for the linear weight `name` (stored [out, in]); x is [..., in]. */
  linear(x: tf.Tensor, name: string): tf.Tensor;
}

class LiveParameters implements ParameterSource {
  constructor(private readonly variables: ReadonlyMap<string, tf.Variable>) {}
  stored(name: string): tf.Tensor {
    const variable = this.variables.get(name);
    if (variable === undefined) throw new ZsdError('internal', `T5 parameter ${name} does not exist`);
    return variable;
  }
  transposed(name: string): tf.Tensor {
    return tf.transpose(this.stored(name));
  }
  linear(x: tf.Tensor, name: string): tf.Tensor {
    const weight = this.stored(name);
    const [outFeatures, inFeatures] = weight.shape;
    const flat = linearProduct(tf.reshape(x, [x.size / inFeatures, inFeatures]), weight);
    return tf.reshape(flat, [...x.shape.slice(0, -1), outFeatures]);
  }
}

/** Parameters frozen for inference: transposes are computed once, kept across tidy scopes, freed by dispose(). */
export class InferenceParameters implements ParameterSource {
  private readonly transposes = new Map<string, tf.Tensor>();
  constructor(private readonly live: LiveParameters) {}
  stored(name: string): tf.Tensor {
    return this.live.stored(name);
  }
  transposed(name: string): tf.Tensor {
    let transposed = this.transposes.get(name);
    if (transposed === undefined) {
      transposed = tf.keep(this.live.transposed(name));
      this.transposes.set(name, transposed);
    }
    return transposed;
  }
  linear(x: tf.Tensor, name: string): tf.Tensor {
    return linear(x, this.transposed(name));
  }
  dispose(): void {
    for (const tensor of this.transposes.values()) tensor.dispose();
    this.transposes.clear();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Building blocks

/** x @ W^T for a PyTorch Linear weight W [out, in] given transposed as [in, out]; x is [..., in]. */
function linear(x: tf.Tensor, weightTransposed: tf.Tensor): tf.Tensor {
  const [inFeatures, outFeatures] = weightTransposed.shape;
  const rows = x.size / inFeatures;
  const flat = matMul(tf.reshape(x, [rows, inFeatures]), weightTransposed);
  return tf.reshape(flat, [...x.shape.slice(0, -1), outFeatures]);
}

/** T5LayerNorm: root-mean-square normalisation, no mean subtraction, no bias. */
function rmsNorm(x: tf.Tensor, weight: tf.Tensor, epsilon: number): tf.Tensor {
  const variance = tf.mean(tf.square(x), -1, true);
  return tf.mul(weight, tf.mul(x, tf.rsqrt(tf.add(variance, epsilon))));
}

function activation(name: string, x: tf.Tensor): tf.Tensor {
  switch (name) {
    case 'relu':
      return tf.relu(x);
    case 'gelu_new':
    case 'gelu_pytorch_tanh':
      // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), transformers' NewGELUActivation (one pass each way on wasm)
      return geluTanh(x);
    case 'gelu':
      return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2))));
    case 'silu':
    case 'swish':
      return tf.mul(x, tf.sigmoid(x));
    default:
      throw new ZsdError('usage', `T5 activation ${name} is not supported (relu, gelu, gelu_new, silu)`);
  }
}

/**
 * Hugging Face's T5Attention._relative_position_bucket for one relative position (key - query). PyTorch computes
 * the logarithmic part in float32 and truncates toward zero; the float32 roundings are reproduced with fround.
 */
export function relativePositionBucket(relativePosition: number, bidirectional: boolean, numBuckets: number, maxDistance: number): number {
  let buckets = numBuckets;
  let bucket = 0;
  let distance: number;
  if (bidirectional) {
    buckets = Math.floor(buckets / 2);
    if (relativePosition > 0) bucket += buckets;
    distance = Math.abs(relativePosition);
  } else {
    distance = -Math.min(relativePosition, 0);
  }
  const maxExact = Math.floor(buckets / 2);
  if (distance < maxExact) return bucket + distance;
  const f = Math.fround;
  const logRatio = f(Math.log(f(distance / maxExact)));
  const scaled = f(f(logRatio / f(Math.log(maxDistance / maxExact))) * (buckets - maxExact));
  return bucket + Math.min(maxExact + Math.trunc(scaled), buckets - 1);
}

/** Buckets for queries at positions queryOffset.. (queryLength of them) against keys 0..keyLength-1, as [q, k]. */
function positionBuckets(config: T5Config, bidirectional: boolean, queryOffset: number, queryLength: number, keyLength: number): tf.Tensor2D {
  const buckets = new Int32Array(queryLength * keyLength);
  for (let query = 0; query < queryLength; query++) {
    for (let key = 0; key < keyLength; key++) {
      buckets[query * keyLength + key] = relativePositionBucket(
        key - (queryOffset + query),
        bidirectional,
        config.relativeAttentionNumBuckets,
        config.relativeAttentionMaxDistance,
      );
    }
  }
  return tf.tensor2d(buckets, [queryLength, keyLength], 'int32');
}

/** The learned relative-position bias [1, heads, q, k] from a [buckets, heads] table. */
function positionBias(table: tf.Tensor, buckets: tf.Tensor2D): tf.Tensor {
  return tf.expandDims(tf.transpose(tf.gather(table, buckets), [2, 0, 1]), 0);
}

/** Additive padding mask [b, 1, 1, k] from a 0/1 attention mask [b, k]: 0 where allowed, float32 min elsewhere. */
function paddingMaskBias(attentionMask: tf.Tensor): tf.Tensor {
  const [batch, length] = attentionMask.shape;
  const blocked = tf.sub(1, tf.cast(attentionMask, 'float32'));
  return tf.reshape(tf.mul(blocked, FLOAT32_MIN), [batch, 1, 1, length]);
}

/** Additive causal mask [1, 1, q, k] for queries at queryOffset.. against keys 0..k-1. */
function causalMaskBias(queryOffset: number, queryLength: number, keyLength: number): tf.Tensor {
  const mask = new Float32Array(queryLength * keyLength);
  for (let query = 0; query < queryLength; query++) {
    for (let key = queryOffset + query + 1; key < keyLength; key++) mask[query * keyLength + key] = FLOAT32_MIN;
  }
  return tf.tensor4d(mask, [1, 1, queryLength, keyLength]);
}

/** [b, t, h*d] -> [b, h, t, d] */
function splitHeads(x: tf.Tensor, heads: number): tf.Tensor {
  const [batch, length, width] = x.shape;
  return tf.transpose(tf.reshape(x, [batch, length, heads, width / heads]), [0, 2, 1, 3]);
}

/** [b, t, h*d] -> keys transposed for the score product, [b, h, d, t] */
function splitHeadsTransposed(x: tf.Tensor, heads: number): tf.Tensor {
  const [batch, length, width] = x.shape;
  return tf.transpose(tf.reshape(x, [batch, length, heads, width / heads]), [0, 2, 3, 1]);
}

// ---------------------------------------------------------------------------------------------------------------
// The model

export interface T5Batch {
  /** [batch, source] int32 */
  inputIds: tf.Tensor2D;
  /** [batch, source] 0/1 */
  attentionMask: tf.Tensor2D;
  /** [batch, target] int32; -100 where the loss ignores the position */
  labels?: tf.Tensor2D;
  /** [batch, target] int32; defaults to labels shifted right (decoder start token first, -100 -> pad) */
  decoderInputIds?: tf.Tensor2D;
  /** [batch, target] 0/1; default all ones (the causal mask always applies) */
  decoderAttentionMask?: tf.Tensor2D;
}

export type T5Output = {
  /** [batch, target, vocab] */
  logits: tf.Tensor3D;
  /** [batch, source, d_model], after the encoder's final layer norm */
  encoderHiddenState: tf.Tensor3D;
  /** mean cross-entropy over label positions != -100, when labels were given */
  loss?: tf.Scalar;
};

export interface RunOptions {
  /** dropout on (config.dropoutRate); false (eval mode) by default */
  training?: boolean;
  /**
   * lossFn only: label smoothing ε in [0, 1) (transformers' label_smoothing_factor): each position's loss is
   * (1 - ε) * -log p(label) + ε * mean over the vocabulary of -log p. 0 (the default) is the plain cross-entropy.
   */
  labelSmoothing?: number;
}

/** Per decoder layer: self-attention keys [b, h, d, t] and values [b, h, t, d] so far, cross-attention ones fixed. */
export type DecoderLayerCache = {
  selfKeysTransposed: tf.Tensor;
  selfValues: tf.Tensor;
  crossKeysTransposed: tf.Tensor;
  crossValues: tf.Tensor;
};

/** What incremental decoding carries from step to step. Owned by the caller; free with disposeDecoderCache. */
export type DecoderCache = {
  /** decoder positions already processed */
  length: number;
  /** [b, 1, 1, source]: the encoder padding mask for cross-attention */
  encoderMaskBias: tf.Tensor;
  layers: DecoderLayerCache[];
};

export function disposeDecoderCache(cache: DecoderCache): void {
  cache.encoderMaskBias.dispose();
  for (const layer of cache.layers) {
    tf.dispose([layer.selfKeysTransposed, layer.selfValues, layer.crossKeysTransposed, layer.crossValues]);
  }
}

/**
 * The cache with its self-attention rows in the given order (beam search: the beams that survive a step). Rows must
 * come from the same source sequences as before (beams of one input), since the cross-attention tensors and the
 * encoder mask are shared with the old cache, not gathered. The old cache's self-attention tensors stay valid.
 */
export function reorderSelfAttentionCache(cache: DecoderCache, rows: number[]): DecoderCache {
  return tf.tidy(() => {
    const indices = tf.tensor1d(rows, 'int32');
    return {
      ...cache,
      layers: cache.layers.map((layer) => ({
        ...layer,
        selfKeysTransposed: tf.gather(layer.selfKeysTransposed, indices),
        selfValues: tf.gather(layer.selfValues, indices),
      })),
    };
  });
}

/** labels shifted right: decoder start token first, -100 replaced by the pad id (modeling_t5 `_shift_right`). */
export function shiftRight(labels: number[][], decoderStartTokenId: number, padTokenId: number): number[][] {
  return labels.map((row) => [decoderStartTokenId, ...row.slice(0, -1)].map((id) => (id === IGNORE_INDEX ? padTokenId : id)));
}

export class T5Model {
  private readonly live: LiveParameters;
  private dropoutCalls = 0;

  private constructor(
    readonly config: T5Config,
    /** Hugging Face name -> variable, PyTorch layout */
    readonly parameters: ReadonlyMap<string, tf.Variable>,
    private dropoutSeed: number,
  ) {
    this.live = new LiveParameters(parameters);
    tf.tidy(() => {
      activation(config.denseActFn, tf.scalar(0)); // fails early on an unsupported activation
    });
  }

  /** From float32 host tensors named as Hugging Face names them; throws ZsdError on any missing/extra/mis-shaped one. */
  static fromHostTensors(config: T5Config, tensors: ReadonlyMap<string, HostTensor>): T5Model {
    const problems = findParameterProblems(config, tensors);
    if (problems.length > 0) {
      throw new ZsdError('invalid-file', problems.map(describeParameterProblem).join('; '), { key: problems[0].name });
    }
    const parameters = new Map<string, tf.Variable>();
    for (const name of t5ParameterShapes(config).keys()) {
      const host = tensors.get(name)!;
      parameters.set(name, variableFrom(tf.tensor(host.data, host.shape, 'float32')));
    }
    return new T5Model(config, parameters, 0);
  }

  /**
   * Fresh weights as transformers' T5PreTrainedModel._init_weights with initializer_factor 1.0: layer norms 1;
   * shared and an untied lm_head N(0, 1); q N(0, (d_model d_kv)^-1/2); k, v N(0, d_model^-1/2); o N(0, (heads d_kv)^-1/2);
   * relative_attention_bias N(0, d_model^-1/2); wi* N(0, d_model^-1/2); wo N(0, d_ff^-1/2).
   */
  static randomInit(config: T5Config, seed: number): T5Model {
    const parameters = new Map<string, tf.Variable>();
    let index = 0;
    for (const [name, shape] of t5ParameterShapes(config)) {
      const std = initialStd(config, name);
      const value = std === undefined ? tf.ones(shape, 'float32') : tf.randomNormal(shape, 0, std, 'float32', initSeed(seed * 100_003 + index));
      parameters.set(name, variableFrom(value));
      index++;
    }
    return new T5Model(config, parameters, seed);
  }

  /**
   * Restarts the dropout masks' random sequence (training mode). Each dropout call draws the next seed of the
   * sequence, so a run is reproducible from its seed; randomInit seeds it with its own seed, loading with 0.
   */
  seedDropout(seed: number): void {
    this.dropoutSeed = seed;
    this.dropoutCalls = 0;
  }

  /** The trainable variables, for optimizer.minimize(..., varList). */
  trainableVariables(): tf.Variable[] {
    return [...this.parameters.values()];
  }

  /** Parameters frozen for inference (see InferenceParameters); dispose when done. */
  inferenceParameters(): InferenceParameters {
    return new InferenceParameters(this.live);
  }

  /** Logits, encoder output and (with labels) the loss. The caller disposes the returned tensors. */
  forward(batch: T5Batch, options: RunOptions = {}): T5Output {
    const training = options.training ?? false;
    return tf.tidy(() => {
      const encoderHiddenState = this.encoderStack(this.live, batch.inputIds, batch.attentionMask, training);
      const decoderInputIds = batch.decoderInputIds ?? this.decoderInputsFromLabels(batch);
      const cache = this.crossAttentionCache(this.live, encoderHiddenState, batch.attentionMask);
      const decoderHidden = this.decoderStack(this.live, decoderInputIds, cache, training, batch.decoderAttentionMask);
      const logits = this.lmHead(this.live, decoderHidden) as tf.Tensor3D;
      const output: T5Output = { logits, encoderHiddenState: encoderHiddenState as tf.Tensor3D };
      if (batch.labels !== undefined) output.loss = crossEntropy(logits, batch.labels);
      return output;
    });
  }

  /** The scalar loss, for tf.variableGrads / optimizer.minimize (which manage the tensors). */
  lossFn(batch: T5Batch, options: RunOptions = {}): tf.Scalar {
    if (batch.labels === undefined) throw new ZsdError('usage', 'the loss needs labels');
    const training = options.training ?? false;
    const decoderInputIds = batch.decoderInputIds ?? this.decoderInputsFromLabels(batch);
    const [encoderEmbeddings, decoderEmbeddings] = this.embedTogether(batch.inputIds, decoderInputIds);
    const encoderHidden = this.encoderStack(this.live, batch.inputIds, batch.attentionMask, training, encoderEmbeddings);
    const cache = this.crossAttentionCache(this.live, encoderHidden, batch.attentionMask);
    const decoderHidden = this.decoderStack(this.live, decoderInputIds, cache, training, batch.decoderAttentionMask, decoderEmbeddings);
    return this.labelLoss(decoderHidden, batch.labels, options.labelSmoothing ?? 0);
  }

  /**
   * The encoder's and the decoder's token embeddings from one gather. Differentiated, shared.weight then gets one
   * [vocab, d] scatter of both stacks' rows instead of two and their sum (~100 ms a step at vocab 32128, where
   * the work per row is nothing and the dense [vocab, d] passes are everything).
   */
  private embedTogether(inputIds: tf.Tensor2D, decoderInputIds: tf.Tensor2D): [tf.Tensor, tf.Tensor] {
    const width = this.config.dModel;
    const [encoderRows, decoderRows] = [inputIds.size, decoderInputIds.size];
    const ids = tf.concat([tf.reshape(inputIds, [encoderRows]), tf.reshape(decoderInputIds, [decoderRows])]);
    const rows = tf.gather(this.live.stored('shared.weight'), ids);
    return [
      tf.reshape(tf.slice(rows, [0, 0], [encoderRows, width]), [...inputIds.shape, width]),
      tf.reshape(tf.slice(rows, [encoderRows, 0], [decoderRows, width]), [...decoderInputIds.shape, width]),
    ];
  }

  /**
   * The mean cross-entropy of lossFn with the lm_head applied only at positions whose label is not -100: the
   * vocabulary projection (and its softmax) is most of a step's work with V = 32128, and padded targets cost
   * nothing this way. Same value and gradients as crossEntropy(lmHead(all positions)), which forward() keeps for
   * the logits.
   */
  private labelLoss(decoderHidden: tf.Tensor, labels: tf.Tensor2D, labelSmoothing: number): tf.Scalar {
    const [batch, length, width] = decoderHidden.shape as number[];
    const { positions, targets } = countedPositions(labels, this.config.vocabSize);
    if (positions.length === 0) return crossEntropy(this.lmHead(this.live, decoderHidden), labels); // NaN, as PyTorch
    let hidden = tf.reshape(decoderHidden, [batch * length, width]);
    if (positions.length < batch * length) hidden = tf.gather(hidden, tf.tensor1d(positions, 'int32'));
    if (this.config.scaleDecoderOutputs) hidden = tf.mul(hidden, this.config.dModel ** -0.5);
    const weight = this.parameters.has('lm_head.weight') ? 'lm_head.weight' : 'shared.weight';
    return lmHeadCrossEntropy(hidden, this.live.stored(weight), targets, labelSmoothing);
  }

  /** Encoder output [b, source, d_model] (eval mode). The caller disposes it. */
  encode(inputIds: tf.Tensor2D, attentionMask: tf.Tensor2D, parameters: ParameterSource = this.live): tf.Tensor3D {
    return tf.tidy(() => this.encoderStack(parameters, inputIds, attentionMask, false) as tf.Tensor3D);
  }

  /** An empty decoder cache over an encoder output: cross-attention keys and values computed once. */
  startDecoding(encoderHidden: tf.Tensor, attentionMask: tf.Tensor2D, parameters: ParameterSource = this.live): DecoderCache {
    return tf.tidy(() => this.crossAttentionCache(parameters, encoderHidden, attentionMask));
  }

  /**
   * Feeds new decoder tokens [b, t] (usually t = 1) after the cached ones; returns the logits of the last new
   * position [b, vocab] and the extended cache. The old cache stays valid (the caller disposes it); the new one
   * shares its cross-attention tensors and encoder mask, so dispose only the self-attention part of the old one
   * (disposeSelfAttentionCache).
   */
  decodeStep(tokens: tf.Tensor2D, cache: DecoderCache, parameters: ParameterSource = this.live): { logits: tf.Tensor2D; cache: DecoderCache } {
    const { config } = this;
    return tf.tidy(() => {
      const next: DecoderCache = { ...cache, layers: cache.layers.map((layer) => ({ ...layer })) };
      const hidden = this.decoderStack(parameters, tokens, next, false);
      const [batch, length] = hidden.shape;
      const last = tf.slice(hidden, [0, length - 1, 0], [batch, 1, config.dModel]);
      const logits = tf.reshape(this.lmHead(parameters, last), [batch, config.vocabSize]) as tf.Tensor2D;
      return { logits, cache: next };
    });
  }

  /** float32 copies of every parameter, by Hugging Face name (no tied lm_head: it is the shared embedding). */
  toHostTensors(): Map<string, HostTensor> {
    const tensors = new Map<string, HostTensor>();
    for (const [name, variable] of this.parameters) {
      tensors.set(name, { shape: [...variable.shape], data: variable.dataSync() as Float32Array });
    }
    return tensors;
  }

  dispose(): void {
    for (const variable of this.parameters.values()) variable.dispose();
  }

  // -------------------------------------------------------------------------------------------------------------

  private decoderInputsFromLabels(batch: T5Batch): tf.Tensor2D {
    if (batch.labels === undefined) throw new ZsdError('usage', 'the decoder needs decoderInputIds or labels');
    const shifted = shiftRight(batch.labels.arraySync(), this.config.decoderStartTokenId, this.config.padTokenId);
    return tf.tensor2d(shifted, batch.labels.shape, 'int32');
  }

  private dropout(x: tf.Tensor, training: boolean): tf.Tensor {
    const rate = this.config.dropoutRate;
    if (!training || rate === 0) return x;
    return tf.mul(x, dropoutMask(x.shape, rate, this.dropoutSeed * 1_000_003 + this.dropoutCalls++));
  }

  private encoderStack(parameters: ParameterSource, inputIds: tf.Tensor2D, attentionMask: tf.Tensor2D, training: boolean, embeddings?: tf.Tensor): tf.Tensor {
    const { config } = this;
    const length = inputIds.shape[1];
    let hidden = this.dropout(embeddings ?? tf.gather(parameters.stored('shared.weight'), inputIds), training);
    const bias = tf.add(
      positionBias(parameters.stored('encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight'), positionBuckets(config, true, 0, length, length)),
      paddingMaskBias(attentionMask),
    );
    for (let block = 0; block < config.numLayers; block++) {
      const prefix = `encoder.block.${block}.layer`;
      const normed = rmsNorm(hidden, parameters.stored(`${prefix}.0.layer_norm.weight`), config.layerNormEpsilon);
      const attention = `${prefix}.0.SelfAttention`;
      const queries = splitHeads(parameters.linear(normed, `${attention}.q.weight`), config.numHeads);
      const keys = splitHeadsTransposed(parameters.linear(normed, `${attention}.k.weight`), config.numHeads);
      const values = splitHeads(parameters.linear(normed, `${attention}.v.weight`), config.numHeads);
      const attended = this.attend(parameters, attention, queries, keys, values, bias, training);
      hidden = tf.add(hidden, this.dropout(attended, training));
      hidden = tf.add(hidden, this.dropout(this.feedForward(parameters, `${prefix}.1`, hidden, training), training));
    }
    return this.dropout(rmsNorm(hidden, parameters.stored('encoder.final_layer_norm.weight'), config.layerNormEpsilon), training);
  }

  private crossAttentionCache(parameters: ParameterSource, encoderHidden: tf.Tensor, attentionMask: tf.Tensor2D): DecoderCache {
    const { config } = this;
    const [batch] = encoderHidden.shape;
    const layers: DecoderLayerCache[] = [];
    for (let block = 0; block < config.numDecoderLayers; block++) {
      const attention = `decoder.block.${block}.layer.1.EncDecAttention`;
      layers.push({
        selfKeysTransposed: tf.zeros([batch, config.numHeads, config.dKv, 0]),
        selfValues: tf.zeros([batch, config.numHeads, 0, config.dKv]),
        crossKeysTransposed: splitHeadsTransposed(parameters.linear(encoderHidden, `${attention}.k.weight`), config.numHeads),
        crossValues: splitHeads(parameters.linear(encoderHidden, `${attention}.v.weight`), config.numHeads),
      });
    }
    return { length: 0, encoderMaskBias: paddingMaskBias(attentionMask), layers };
  }

  /**
   * The decoder over new tokens [b, t] after cache.length cached positions; extends cache's self-attention keys
   * and values in place (the cache object is the caller's fresh copy). Returns the final hidden state [b, t, d].
   */
  private decoderStack(
    parameters: ParameterSource,
    decoderInputIds: tf.Tensor2D,
    cache: DecoderCache,
    training: boolean,
    decoderAttentionMask?: tf.Tensor2D,
    embeddings?: tf.Tensor,
  ): tf.Tensor {
    const { config } = this;
    const offset = cache.length;
    const length = decoderInputIds.shape[1];
    const keyLength = offset + length;
    let hidden = this.dropout(embeddings ?? tf.gather(parameters.stored('shared.weight'), decoderInputIds), training);
    let selfBias = tf.add(
      positionBias(
        parameters.stored('decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight'),
        positionBuckets(config, false, offset, length, keyLength),
      ),
      causalMaskBias(offset, length, keyLength),
    );
    if (decoderAttentionMask !== undefined) {
      // where both the causal and the padding mask block, float32 min is added once (as Hugging Face's combined mask)
      selfBias = tf.maximum(tf.add(selfBias, paddingMaskBias(decoderAttentionMask)), FLOAT32_MIN);
    }
    for (let block = 0; block < config.numDecoderLayers; block++) {
      const prefix = `decoder.block.${block}.layer`;
      const layerCache = cache.layers[block];

      const selfAttention = `${prefix}.0.SelfAttention`;
      let normed = rmsNorm(hidden, parameters.stored(`${prefix}.0.layer_norm.weight`), config.layerNormEpsilon);
      const queries = splitHeads(parameters.linear(normed, `${selfAttention}.q.weight`), config.numHeads);
      const newKeys = splitHeadsTransposed(parameters.linear(normed, `${selfAttention}.k.weight`), config.numHeads);
      const newValues = splitHeads(parameters.linear(normed, `${selfAttention}.v.weight`), config.numHeads);
      const keys = offset === 0 ? newKeys : tf.concat([layerCache.selfKeysTransposed, newKeys], 3);
      const values = offset === 0 ? newValues : tf.concat([layerCache.selfValues, newValues], 2);
      layerCache.selfKeysTransposed = keys;
      layerCache.selfValues = values;
      const attended = this.attend(parameters, selfAttention, queries, keys, values, selfBias, training);
      hidden = tf.add(hidden, this.dropout(attended, training));

      const crossAttention = `${prefix}.1.EncDecAttention`;
      normed = rmsNorm(hidden, parameters.stored(`${prefix}.1.layer_norm.weight`), config.layerNormEpsilon);
      const crossQueries = splitHeads(parameters.linear(normed, `${crossAttention}.q.weight`), config.numHeads);
      const crossAttended = this.attend(
        parameters,
        crossAttention,
        crossQueries,
        layerCache.crossKeysTransposed,
        layerCache.crossValues,
        cache.encoderMaskBias,
        training,
      );
      hidden = tf.add(hidden, this.dropout(crossAttended, training));

      hidden = tf.add(hidden, this.dropout(this.feedForward(parameters, `${prefix}.2`, hidden, training), training));
    }
    cache.length = keyLength;
    return this.dropout(rmsNorm(hidden, parameters.stored('decoder.final_layer_norm.weight'), config.layerNormEpsilon), training);
  }

  /**
   * softmax(q k^T + bias) v, then the output projection. queries [b, h, q, d], keysTransposed [b, h, d, k],
   * values [b, h, k, d], bias broadcastable to [b, h, q, k]. No 1/sqrt(d) scaling (T5).
   */
  private attend(
    parameters: ParameterSource,
    attention: string,
    queries: tf.Tensor,
    keysTransposed: tf.Tensor,
    values: tf.Tensor,
    bias: tf.Tensor,
    training: boolean,
  ): tf.Tensor {
    const [batch, heads, queryLength, depth] = queries.shape as number[];
    const keyLength = keysTransposed.shape[3] as number;
    const scores = tf.reshape(matMul(tf.reshape(queries, [batch * heads, queryLength, depth]), tf.reshape(keysTransposed, [batch * heads, depth, keyLength])), [
      batch,
      heads,
      queryLength,
      keyLength,
    ]);
    const weights = this.dropout(tf.softmax(tf.add(scores, bias)), training);
    const context = matMul(tf.reshape(weights, [batch * heads, queryLength, keyLength]), tf.reshape(values, [batch * heads, keyLength, depth]));
    const merged = tf.reshape(tf.transpose(tf.reshape(context, [batch, heads, queryLength, depth]), [0, 2, 1, 3]), [batch, queryLength, heads * depth]);
    return parameters.linear(merged, `${attention}.o.weight`);
  }

  /** T5LayerFF: x -> wo(act(wi x)) or wo(act(wi_0 x) * wi_1 x), on the layer-normed input. */
  private feedForward(parameters: ParameterSource, prefix: string, hidden: tf.Tensor, training: boolean): tf.Tensor {
    const { config } = this;
    const normed = rmsNorm(hidden, parameters.stored(`${prefix}.layer_norm.weight`), config.layerNormEpsilon);
    const dense = `${prefix}.DenseReluDense`;
    const inner = config.isGatedAct
      ? tf.mul(activation(config.denseActFn, parameters.linear(normed, `${dense}.wi_0.weight`)), parameters.linear(normed, `${dense}.wi_1.weight`))
      : activation(config.denseActFn, parameters.linear(normed, `${dense}.wi.weight`));
    return parameters.linear(this.dropout(inner, training), `${dense}.wo.weight`);
  }

  private lmHead(parameters: ParameterSource, decoderHidden: tf.Tensor): tf.Tensor {
    const { config } = this;
    const scaled = config.scaleDecoderOutputs ? tf.mul(decoderHidden, config.dModel ** -0.5) : decoderHidden;
    const weight = this.parameters.has('lm_head.weight') ? 'lm_head.weight' : 'shared.weight';
    return parameters.linear(scaled, weight);
  }
}

/** Dispose the self-attention tensors of a cache that a later decodeStep superseded (cross tensors are shared). */
export function disposeSelfAttentionCache(cache: DecoderCache): void {
  for (const layer of cache.layers) tf.dispose([layer.selfKeysTransposed, layer.selfValues]);
}

/** Flat positions (b * length + t) whose label is not -100, and their labels; throws on a label outside the vocabulary. */
function countedPositions(labels: tf.Tensor2D, vocab: number): { positions: Int32Array; targets: Int32Array } {
  const values = labels.dataSync();
  const positions: number[] = [];
  const targets: number[] = [];
  for (let position = 0; position < values.length; position++) {
    const label = values[position];
    if (label === IGNORE_INDEX) continue;
    if (!(label >= 0 && label < vocab)) throw new ZsdError('usage', `label ${label} outside the vocabulary (size ${vocab})`);
    positions.push(position);
    targets.push(label);
  }
  return { positions: Int32Array.from(positions), targets: Int32Array.from(targets) };
}

/**
 * Mean cross-entropy over positions whose label is not -100 (PyTorch CrossEntropyLoss(ignore_index=-100)), from
 * logits [b, t, V], computed stably: log-sum-exp of the logits minus their row maximum. Its gradient,
 * (softmax - onehot(label)) * valid / count, reuses the forward pass's exponentials, which saves a pass over the
 * [b*t, V] logits compared with differentiating through tf.logSoftmax (a measurable part of a step with V = 32128).
 */
export function crossEntropy(logits: tf.Tensor, labels: tf.Tensor2D): tf.Scalar {
  const [batch, length, vocab] = logits.shape as number[];
  const rows = batch * length;
  const targets = new Int32Array(rows); // ignored positions point at token 0, with weight 0
  const flatTargets = new Int32Array(rows);
  const counted = new Float32Array(rows);
  let count = 0;
  labels.arraySync().forEach((row, b) =>
    row.forEach((label, t) => {
      const position = b * length + t;
      flatTargets[position] = position * vocab;
      if (label === IGNORE_INDEX) return;
      if (!(label >= 0 && label < vocab)) throw new ZsdError('usage', `label ${label} outside the vocabulary (size ${vocab})`);
      targets[position] = label;
      flatTargets[position] += label;
      counted[position] = 1;
      count++;
    }),
  );
  const targetCells = tf.tensor2d(
    Array.from(targets, (target, position) => [position, target]),
    [rows, 2],
    'int32',
  );
  const valid = tf.tensor1d(counted);
  const meanLoss = tf.customGrad((...inputs: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [flatLogits, save] = inputs as [tf.Tensor, tf.GradSaveFunc];
    const shifted = tf.sub(flatLogits, tf.max(flatLogits, 1, true));
    const exponentials = tf.exp(shifted);
    const sums = tf.sum(exponentials, 1, true);
    const targetLogits = tf.gather(tf.reshape(shifted, [rows * vocab]), tf.tensor1d(flatTargets, 'int32'));
    const perPosition = tf.sub(tf.reshape(tf.log(sums), [rows]), targetLogits);
    save([exponentials, sums, targetCells, valid]);
    return {
      value: tf.div(tf.sum(tf.mul(perPosition, valid)), count) as tf.Scalar,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [savedExponentials, savedSums, savedCells, savedValid] = saved;
        const scale = tf.mul(savedValid, tf.div(dy, count)); // [rows]
        const probabilitiesScaled = tf.mul(tf.div(savedExponentials, savedSums), tf.reshape(scale, [rows, 1]));
        // minus scale at each target cell (the one-hot term); wasm's oneHot ignores its dtype, scatterND does not
        return tf.sub(probabilitiesScaled, tf.scatterND(savedCells, scale, [rows, vocab]));
      },
    };
  });
  return meanLoss(tf.reshape(logits, [rows, vocab])) as tf.Scalar;
}

/**
 * tf.randomNormal takes a seed of 0 as "no seed" and draws from Math.random, so the first parameter of seed 0 would
 * differ from run to run: 0 becomes another fixed seed (the others stay as they were, so runs keep their inits).
 */
function initSeed(seed: number): number {
  return seed === 0 ? 0x9e3779b9 : seed;
}

/**
 * The multiplier of inverted dropout (as tf.dropout: kept with probability 1 - rate, scaled by 1 / (1 - rate)),
 * drawn from xorshift128 seeded by `seed`. tf.dropout draws through seedrandom at ~11 ns a number, ~14M numbers a
 * step here (~150 ms); this loop takes ~1-2 ns. The gradient is that of the multiplication: dy * mask.
 */
export function dropoutMask(shape: number[], rate: number, seed: number): tf.Tensor {
  const size = tf.util.sizeFromShape(shape);
  const mask = new Float32Array(size);
  const scale = 1 / (1 - rate);
  const threshold = Math.floor(rate * 2 ** 31); // kept when the 31-bit draw is >= rate * 2^31
  // seed words through murmur3's finaliser, so that nearby seeds start far apart
  const mix = (value: number) => {
    let h = value | 0;
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    return h ^ (h >>> 16);
  };
  const low = seed >>> 0;
  const high = Math.floor(seed / 2 ** 32) >>> 0;
  // all state in int32 (V8 keeps it unboxed); the draw is the top 31 bits
  let x = mix(low ^ 0x9e3779b9) | 1;
  let y = mix(high ^ 0x7f4a7c15);
  let z = mix((low + 0x6a09e667) | 0);
  let w = mix((high + 0xbb67ae85) | 0);
  for (let i = 0; i < size; i++) {
    const t = x ^ (x << 11);
    x = y;
    y = z;
    z = w;
    w = w ^ (w >>> 19) ^ t ^ (t >>> 8);
    mask[i] = w >>> 1 >= threshold ? scale : 0;
  }
  return tf.tensor(mask, shape, 'float32');
}

/** Vocabulary rows per chunk in lmHeadCrossEntropy's backward pass (2048 of 32128: best of 1024..8032 measured). */
const VOCABULARY_CHUNK = 2048;

/**
 * meanCrossEntropy(hidden @ weight^T, targets) for hidden [rows, d] and an lm_head weight [V, d] (PyTorch layout),
 * with a backward pass shaped for wasm. With P = d loss / d logits [rows, V]:
 * - d hidden = P @ weight, as a sum over vocabulary chunks: XNNPACK does not block its inner dimension, and one
 *   product with inner size 32128 runs at about half speed (745 ms vs ~350 ms in chunks, batch 8 x 64);
 * - d weight = P^T @ hidden, chunk by chunk, already in the weight's layout (no transpose of a [d, V] gradient).
 * Same values as differentiating meanCrossEntropy(linear(hidden, weight^T)) up to float32 summation order.
 */
export function lmHeadCrossEntropy(hidden: tf.Tensor, weight: tf.Tensor, targets: Int32Array, labelSmoothing = 0): tf.Scalar {
  const [rows, width] = hidden.shape as number[];
  const vocab = weight.shape[0] as number;
  const count = targets.length;
  if (!(labelSmoothing >= 0 && labelSmoothing < 1)) throw new ZsdError('usage', `label smoothing must be in [0, 1), got ${labelSmoothing}`);
  const targetIds = tf.tensor1d(targets, 'int32');
  const smoothing = labelSmoothing > 0 ? labelSmoothingTerms(targets, vocab, labelSmoothing) : undefined;
  if (tf.getBackend() !== 'wasm') return lmHeadCrossEntropyNative(hidden, weight, targetIds, count, smoothing);
  const loss = tf.customGrad((...inputs: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x, w, save] = inputs as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    const logits = tf.matMul(x, tf.transpose(w));
    const [exponentials, sums, perPosition] = softmaxCrossEntropyForward(logits, targetIds);
    save([x, w, exponentials, sums, targetIds]);
    const total = smoothing === undefined ? tf.sum(perPosition) : tf.add(tf.sum(perPosition), smoothing.lossTerm(logits));
    return {
      value: tf.div(total, count) as tf.Scalar,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [savedX, savedW, savedExponentials, savedSums, savedTargets] = saved;
        const scale = tf.div(dy, count);
        let hiddenGradient: tf.Tensor | undefined;
        const weightGradients: tf.Tensor[] = [];
        for (let from = 0; from < vocab; from += VOCABULARY_CHUNK) {
          const size = Math.min(VOCABULARY_CHUNK, vocab - from);
          // d loss / d logits for these columns (softmax - one-hot, scaled; subnormals flushed: see backend.ts)
          let chunk = softmaxCrossEntropyGradientColumns(savedExponentials, savedSums, savedTargets, scale, from, size);
          if (smoothing !== undefined) chunk = tf.add(chunk, tf.mul(smoothing.gradientTerm(from, size), scale));
          const part = tf.matMul(chunk, tf.slice(savedW, [from, 0], [size, width]));
          hiddenGradient = hiddenGradient === undefined ? part : tf.add(hiddenGradient, part);
          weightGradients.push(tf.matMul(tf.transpose(chunk), savedX));
        }
        return [hiddenGradient!, tf.concat(weightGradients, 0)];
      },
    };
  });
  return loss(hidden, weight) as tf.Scalar;
}

/**
 * lmHeadCrossEntropy on the native backend: one product for the logits, TensorFlow's fused cross-entropy (loss and
 * softmax - one-hot in one kernel), and one product for each gradient. No vocabulary chunks: TensorFlow's matMul
 * blocks its inner dimension itself, and every extra kernel call costs overhead there.
 */
function lmHeadCrossEntropyNative(hidden: tf.Tensor, weight: tf.Tensor, targetIds: tf.Tensor, count: number, smoothing?: LabelSmoothingTerms): tf.Scalar {
  const loss = tf.customGrad((...inputs: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x, w, save] = inputs as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    const logits = tf.matMul(x, w, false, true);
    const [perPosition, crossEntropyGradients] = sparseSoftmaxCrossEntropyNative(logits, targetIds);
    let total = tf.sum(perPosition);
    let logitGradients = crossEntropyGradients;
    if (smoothing !== undefined) {
      total = tf.add(total, smoothing.lossTerm(logits));
      logitGradients = tf.add(logitGradients, smoothing.gradientTerm(0, logits.shape[1] as number));
    }
    save([x, w, logitGradients]);
    return {
      value: tf.div(total, count) as tf.Scalar,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [savedX, savedW, savedGradients] = saved;
        const scaled = tf.mul(savedGradients, tf.div(dy, count));
        return [tf.matMul(scaled, savedW), tf.matMul(scaled, savedX, true, false)];
      },
    };
  });
  return loss(hidden, weight) as tf.Scalar;
}

/**
 * Label smoothing as a correction of the plain cross-entropy, for logits z [rows, V] and the rows' targets:
 * (1 - ε)(lse(z) - z_target) + ε(lse(z) - mean(z)) = (lse(z) - z_target) + ε(z_target - mean(z)), whose gradient is
 * (softmax - onehot) + ε(onehot - 1/V). So lossTerm(z) = ε * sum over rows of (z_target - mean(z)) is added to the
 * summed cross-entropy, and gradientTerm(from, size) = ε(onehot - 1/V) for vocabulary columns [from, from + size) to
 * its gradient (both before the division by the count of positions).
 */
interface LabelSmoothingTerms {
  lossTerm(logits: tf.Tensor): tf.Scalar;
  gradientTerm(from: number, size: number): tf.Tensor;
}

function labelSmoothingTerms(targets: Int32Array, vocab: number, epsilon: number): LabelSmoothingTerms {
  const rows = targets.length;
  const oneHotColumns = (from: number, size: number) => {
    const cells: number[] = [];
    for (let row = 0; row < rows; row++) {
      const column = targets[row] - from;
      if (column >= 0 && column < size) cells.push(row, column);
    }
    if (cells.length === 0) return tf.zeros([rows, size]);
    // scatterND, not oneHot: wasm's oneHot ignores its dtype
    return tf.scatterND(tf.tensor2d(cells, [cells.length / 2, 2], 'int32'), tf.ones([cells.length / 2]), [rows, size]);
  };
  return {
    lossTerm: (logits) => tf.mul(tf.sub(tf.sum(tf.mul(logits, oneHotColumns(0, vocab))), tf.div(tf.sum(logits), vocab)), epsilon) as tf.Scalar,
    gradientTerm: (from, size) => tf.mul(tf.sub(oneHotColumns(from, size), 1 / vocab), epsilon),
  };
}

/** A trainable variable holding `initial`'s values; `initial` itself is released (the variable shares its data). */
function variableFrom(initial: tf.Tensor): tf.Variable {
  const variable = tf.variable(initial, true);
  initial.dispose();
  return variable;
}

function initialStd(config: T5Config, name: string): number | undefined {
  if (name.endsWith('layer_norm.weight')) return undefined; // ones
  if (name === 'shared.weight' || name === 'lm_head.weight') return 1;
  if (name.endsWith('relative_attention_bias.weight')) return config.dModel ** -0.5;
  if (name.endsWith('.q.weight')) return (config.dModel * config.dKv) ** -0.5;
  if (name.endsWith('.k.weight') || name.endsWith('.v.weight')) return config.dModel ** -0.5;
  if (name.endsWith('.o.weight')) return (config.numHeads * config.dKv) ** -0.5;
  if (name.endsWith('.wo.weight')) return config.dFf ** -0.5;
  if (/\.wi(_[01])?\.weight$/.test(name)) return config.dModel ** -0.5;
  throw new ZsdError('internal', `no initialisation rule for T5 parameter ${name}`);
}
