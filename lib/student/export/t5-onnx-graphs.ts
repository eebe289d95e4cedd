/**
 * T5ForConditionalGeneration as the two ONNX graphs transformers.js runs for a text2text model, computed as zsd's
 * t5-model.ts computes it (eval mode), with the input and output names of optimum's T5 export:
 *
 * - encoder_model.onnx: input_ids, attention_mask (int64 [batch_size, encoder_sequence_length]) ->
 *   last_hidden_state (float [batch_size, encoder_sequence_length, d_model]).
 * - decoder_model_merged.onnx: encoder_attention_mask, input_ids, encoder_hidden_states,
 *   past_key_values.{i}.decoder.{key,value} ([batch_size, heads, past_decoder_sequence_length, d_kv]),
 *   past_key_values.{i}.encoder.{key,value} ([batch_size, heads, encoder_sequence_length_out, d_kv]), use_cache_branch
 *   (bool [1]) -> logits, present.{i}.decoder.{key,value}, present.{i}.encoder.{key,value}. Keys are stored like
 *   values ([.., sequence, d_kv], not transposed), as optimum stores them. With use_cache_branch false (the first
 *   step, past tensors of length 0) the cross-attention keys and values are computed from encoder_hidden_states;
 *   with it true they are the past ones passed through (an If node, as in optimum's merged decoder).
 *
 * The numerics that make T5 T5, as in t5-model.ts: RMS layer norm x * (1 / sqrt(mean(x^2) + eps)) * w; no 1/sqrt(d_kv)
 * scaling of the scores; the relative position bias of block 0 shared by every layer of a stack; additive masks
 * of float32's minimum; gated or plain feed-forward with relu / gelu (erf) / gelu_new (tanh) / silu; decoder output
 * times d_model^-0.5 before the lm_head when scaleDecoderOutputs.
 *
 * Relative positions become buckets through a table computed here with zsd's own relativePositionBucket: the
 * bucket is constant beyond relative_attention_max_distance, so the graph clamps key - query to +-clampDistance
 * and gathers a [2 clampDistance + 1, heads] bias table (the decoder's with the causal mask folded in: float32 min
 * added where the key is after the query, as t5-model.ts adds its causal mask to the position bias).
 *
 * Linear weights are stored transposed ([in, out]) for MatMul. With `quantize`, every matrix is stored as int8
 * with one float scale per output channel (symmetric, zero point 0) and a DequantizeLinear before its use; norms
 * and position biases stay float32.
 */
import { ZsdError } from '../../core/errors';
import type { HostTensor } from '../safetensors';
import type { T5Config } from '../t5-config';
import { FLOAT32_MIN, relativePositionBucket } from '../t5-model';
import { attribute, GraphBuilder } from './onnx-graph-builder';
import { float32Bytes, type OnnxGraph, type OnnxTensor, type OnnxValueInfo } from './onnx-protobuf';

export interface T5GraphOptions {
  /** int8 weights with per-channel scales (DequantizeLinear) instead of float32 */
  quantize?: boolean;
}

/** Symbolic dimension names (transformers.js fills the empty past with batch_size and 0 for the others). */
const BATCH = 'batch_size';
const ENCODER_LENGTH = 'encoder_sequence_length';
const DECODER_LENGTH = 'decoder_sequence_length';
const PAST_DECODER_LENGTH = 'past_decoder_sequence_length';
const PRESENT_DECODER_LENGTH = 'past_decoder_sequence_length + 1';
const ENCODER_LENGTH_OUT = 'encoder_sequence_length_out';

/** Names of the decoder's cache inputs and outputs, in optimum's order per layer. */
export function pastKeyValueNames(config: T5Config, prefix: 'past_key_values' | 'present'): string[] {
  const names: string[] = [];
  for (let layer = 0; layer < config.numDecoderLayers; layer++) {
    for (const part of ['decoder.key', 'decoder.value', 'encoder.key', 'encoder.value']) names.push(`${prefix}.${layer}.${part}`);
  }
  return names;
}

/**
 * The distance beyond which T5's bucket no longer changes, or an error naming the config field when the bucket
 * function does not saturate there (max_distance not above the exact range makes log(max_distance / max_exact) <= 0).
 */
export function bucketClampDistance(config: T5Config, file: string): number {
  const buckets = config.relativeAttentionNumBuckets;
  const maxDistance = config.relativeAttentionMaxDistance;
  const largestExactRange = Math.floor(buckets / 2); // the decoder's (unidirectional) max_exact
  if (buckets < 4 || maxDistance <= largestExactRange) {
    throw new ZsdError(
      'invalid-file',
      `${maxDistance} with relative_attention_num_buckets ${buckets}: the ONNX export needs relative_attention_num_buckets >= 4 and relative_attention_max_distance > relative_attention_num_buckets / 2, so that the bucket is constant beyond max_distance`,
      { file, key: buckets < 4 ? 'relative_attention_num_buckets' : 'relative_attention_max_distance' },
    );
  }
  const clamp = maxDistance;
  for (const bidirectional of [true, false]) {
    const saturated = relativePositionBucket(-clamp, bidirectional, buckets, maxDistance);
    const far = relativePositionBucket(-clamp * 64 - 1, bidirectional, buckets, maxDistance);
    const farForward = relativePositionBucket(clamp * 64 + 1, bidirectional, buckets, maxDistance);
    if (saturated !== far || relativePositionBucket(clamp, bidirectional, buckets, maxDistance) !== farForward) {
      throw new ZsdError('internal', `relative position buckets do not saturate at ${clamp}`, { file, key: 'relative_attention_max_distance' });
    }
  }
  return clamp;
}

/** The [2 clamp + 1, heads] bias by relative position (key - query + clamp), from the [buckets, heads] table. */
function positionBiasTable(config: T5Config, table: HostTensor, bidirectional: boolean, clamp: number): Float32Array {
  const heads = config.numHeads;
  const values = new Float32Array((2 * clamp + 1) * heads);
  for (let relative = -clamp; relative <= clamp; relative++) {
    const bucket = relativePositionBucket(relative, bidirectional, config.relativeAttentionNumBuckets, config.relativeAttentionMaxDistance);
    for (let head = 0; head < heads; head++) {
      const bias = table.data[bucket * heads + head];
      // the decoder's causal mask, added to the position bias in float32 as t5-model.ts adds it
      values[(relative + clamp) * heads + head] = !bidirectional && relative > 0 ? Math.fround(bias + FLOAT32_MIN) : bias;
    }
  }
  return values;
}

/** [rows, columns] -> [columns, rows], in 32 x 32 tiles (a plain double loop writes a new cache line per value). */
function transpose2d(tensor: HostTensor): Float32Array {
  const [rows, columns] = tensor.shape;
  const data = tensor.data;
  const out = new Float32Array(rows * columns);
  const tile = 32;
  for (let rowStart = 0; rowStart < rows; rowStart += tile) {
    const rowEnd = Math.min(rowStart + tile, rows);
    for (let columnStart = 0; columnStart < columns; columnStart += tile) {
      const columnEnd = Math.min(columnStart + tile, columns);
      for (let row = rowStart; row < rowEnd; row++) {
        for (let column = columnStart; column < columnEnd; column++) out[column * rows + row] = data[row * columns + column];
      }
    }
  }
  return out;
}

/**
 * Symmetric int8 per channel along `axis` of a 2-D [rows, columns] matrix: scale = max |w| / 127 per channel
 * (1 for an all-zero channel), q = round(w / scale).
 */
export function quantizeInt8(values: Float32Array, rows: number, columns: number, axis: 0 | 1): { quantized: Int8Array; scales: Float32Array } {
  const channels = axis === 0 ? rows : columns;
  const scales = new Float32Array(channels);
  for (let row = 0; row < rows; row++) {
    for (let column = 0; column < columns; column++) {
      const channel = axis === 0 ? row : column;
      scales[channel] = Math.max(scales[channel], Math.abs(values[row * columns + column]));
    }
  }
  for (let channel = 0; channel < channels; channel++) scales[channel] = scales[channel] === 0 ? 1 : scales[channel] / 127;
  const quantized = new Int8Array(values.length);
  for (let row = 0; row < rows; row++) {
    for (let column = 0; column < columns; column++) {
      const scale = scales[axis === 0 ? row : column];
      quantized[row * columns + column] = Math.max(-127, Math.min(127, Math.round(values[row * columns + column] / scale)));
    }
  }
  return { quantized, scales };
}

/** Reads the checkpoint's tensors into initializers: vectors and tables in the root graph, matrices where used. */
class WeightStore {
  private readonly stored = new Map<string, string>();

  constructor(
    private readonly root: GraphBuilder,
    private readonly tensors: ReadonlyMap<string, HostTensor>,
    private readonly quantize: boolean,
  ) {}

  private tensor(name: string): HostTensor {
    const tensor = this.tensors.get(name);
    if (tensor === undefined) throw new ZsdError('internal', `T5 parameter ${name} missing for the ONNX export`);
    return tensor;
  }

  /** A 1-D float32 weight (layer norms), as an initializer named as the parameter. */
  vector(name: string): string {
    return this.remember(name, () => {
      const tensor = this.tensor(name);
      return this.root.initializer({ name, dataType: 'float', dims: tensor.shape, rawData: float32Bytes(tensor.data) });
    });
  }

  /** A float32 table that is never quantized (position biases). */
  table(name: string, dims: number[], values: Float32Array): string {
    return this.remember(name, () => this.root.initializer({ name, dataType: 'float', dims, rawData: float32Bytes(values) }));
  }

  /**
   * The matrix of parameter `name` as float [rows, columns] in `builder`: as stored ([out, in]) or transposed
   * ([in, out], for x @ W^T). Quantized: int8 per output channel, dequantized by a node in `builder`. The
   * initializers belong to `builder`'s graph (an If branch keeps its own: onnxruntime's int8 MatMul fusion looks
   * for a DequantizeLinear's weights in the graph of the node). A matrix is used from one graph only.
   */
  matrix(builder: GraphBuilder, name: string, layout: 'stored' | 'transposed'): string {
    const tensor = this.tensor(name);
    const [out, input] = tensor.shape;
    const dims = layout === 'stored' ? [out, input] : [input, out];
    const initializerName = layout === 'stored' ? name : `${name}.transposed`;
    const values = () => (layout === 'stored' ? tensor.data : transpose2d(tensor));
    if (!this.quantize) {
      return this.remember(initializerName, () => builder.initializer({ name: initializerName, dataType: 'float', dims, rawData: float32Bytes(values()) }));
    }
    const axis = layout === 'stored' ? 0 : 1; // the output channel
    const [quantizedName, scaleName, zeroPointName] = this.rememberQuantized(builder, initializerName, dims, axis, values);
    return builder.op('DequantizeLinear', [quantizedName, scaleName, zeroPointName], { axis: attribute.int(axis) });
  }

  /**
   * Rows of the embedding `name` ([vocab, d]) for int64 ids, as float [..., d]. Quantized, only the rows gathered
   * are dequantized (int8 row times its scale), not the whole table at every call.
   */
  embedding(builder: GraphBuilder, name: string, ids: string): string {
    if (!this.quantize) return builder.op('Gather', [this.matrix(builder, name, 'stored'), ids], { axis: attribute.int(0) });
    const tensor = this.tensor(name);
    const [quantizedName, scaleName] = this.rememberQuantized(builder, name, tensor.shape, 0, () => tensor.data);
    const rows = builder.op('Cast', [builder.op('Gather', [quantizedName, ids], { axis: attribute.int(0) })], { to: attribute.int(1) });
    const scales = builder.op('Unsqueeze', [builder.op('Gather', [scaleName, ids], { axis: attribute.int(0) }), builder.int64([-1])]);
    return builder.op('Mul', [rows, scales]);
  }

  /** The int8 matrix, its scales and zero points, as initializers of the graph that uses them (see matrix). */
  private rememberQuantized(builder: GraphBuilder, name: string, dims: number[], axis: 0 | 1, values: () => Float32Array): [string, string, string] {
    const quantizedName = `${name}.int8`;
    const scaleName = `${name}.scale`;
    const zeroPointName = `${name}.zero_point`;
    this.remember(quantizedName, () => {
      const { quantized, scales } = quantizeInt8(values(), dims[0], dims[1], axis);
      const channels = scales.length;
      const tensors: OnnxTensor[] = [
        { name: quantizedName, dataType: 'int8', dims, rawData: new Uint8Array(quantized.buffer) },
        { name: scaleName, dataType: 'float', dims: [channels], rawData: float32Bytes(scales) },
        { name: zeroPointName, dataType: 'int8', dims: [channels], rawData: new Uint8Array(channels) },
      ];
      for (const tensor of tensors) builder.initializer(tensor);
      return quantizedName;
    });
    return [quantizedName, scaleName, zeroPointName];
  }

  private remember(name: string, create: () => string): string {
    let stored = this.stored.get(name);
    if (stored === undefined) {
      stored = create();
      this.stored.set(name, stored);
    }
    return stored;
  }
}

/** The T5 computations on graph values, shared by the encoder and decoder graphs. */
class T5GraphOps {
  constructor(
    readonly config: T5Config,
    readonly weights: WeightStore,
  ) {}

  /** x @ W^T for the linear weight `name` ([out, in] in the checkpoint). */
  linear(builder: GraphBuilder, x: string, name: string): string {
    return builder.op('MatMul', [x, this.weights.matrix(builder, name, 'transposed')]);
  }

  rmsNorm(builder: GraphBuilder, x: string, weightName: string): string {
    const variance = builder.op('ReduceMean', [builder.op('Mul', [x, x])], { axes: attribute.ints([-1]), keepdims: attribute.int(1) });
    const inverse = builder.op('Reciprocal', [builder.op('Sqrt', [builder.op('Add', [variance, builder.float([this.config.layerNormEpsilon])])])]);
    return builder.op('Mul', [this.weights.vector(weightName), builder.op('Mul', [x, inverse])]);
  }

  /** [b, t, h*d] -> [b, h, t, d] */
  splitHeads(builder: GraphBuilder, x: string, output?: string): string {
    const reshaped = builder.op('Reshape', [x, builder.int64([0, 0, this.config.numHeads, this.config.dKv])]);
    return builder.op('Transpose', [reshaped], { perm: attribute.ints([0, 2, 1, 3]) }, output);
  }

  /** softmax(q k^T + bias) v through the output projection; q [b, h, q, d], k and v [b, h, k, d]. */
  attend(builder: GraphBuilder, attention: string, queries: string, keys: string, values: string, bias: string): string {
    const scores = builder.op('MatMul', [queries, builder.op('Transpose', [keys], { perm: attribute.ints([0, 1, 3, 2]) })]);
    const weights = builder.op('Softmax', [builder.op('Add', [scores, bias])], { axis: attribute.int(-1) });
    const context = builder.op('Transpose', [builder.op('MatMul', [weights, values])], { perm: attribute.ints([0, 2, 1, 3]) });
    const merged = builder.op('Reshape', [context, builder.int64([0, 0, this.config.numHeads * this.config.dKv])]);
    return this.linear(builder, merged, `${attention}.o.weight`);
  }

  feedForward(builder: GraphBuilder, prefix: string, hidden: string): string {
    const normed = this.rmsNorm(builder, hidden, `${prefix}.layer_norm.weight`);
    const dense = `${prefix}.DenseReluDense`;
    const inner = this.config.isGatedAct
      ? builder.op('Mul', [
          this.activation(builder, this.linear(builder, normed, `${dense}.wi_0.weight`)),
          this.linear(builder, normed, `${dense}.wi_1.weight`),
        ])
      : this.activation(builder, this.linear(builder, normed, `${dense}.wi.weight`));
    return this.linear(builder, inner, `${dense}.wo.weight`);
  }

  activation(builder: GraphBuilder, x: string): string {
    switch (this.config.denseActFn) {
      case 'relu':
        return builder.op('Relu', [x]);
      case 'gelu_new':
      case 'gelu_pytorch_tanh': {
        // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        const cubic = builder.op('Add', [x, builder.op('Mul', [builder.op('Mul', [x, builder.op('Mul', [x, x])]), builder.float([0.044715])])]);
        const tanh = builder.op('Tanh', [builder.op('Mul', [cubic, builder.float([Math.sqrt(2 / Math.PI)])])]);
        return builder.op('Mul', [builder.op('Mul', [x, builder.float([0.5])]), builder.op('Add', [tanh, builder.float([1])])]);
      }
      case 'gelu': {
        const erf = builder.op('Erf', [builder.op('Mul', [x, builder.float([Math.SQRT1_2])])]);
        return builder.op('Mul', [builder.op('Mul', [x, builder.float([0.5])]), builder.op('Add', [erf, builder.float([1])])]);
      }
      case 'silu':
      case 'swish':
        return builder.op('Mul', [x, builder.op('Sigmoid', [x])]);
    }
  }

  /** Additive padding mask [b, 1, 1, k] from an int64 0/1 mask [b, k]. */
  paddingBias(builder: GraphBuilder, mask: string): string {
    const blocked = builder.op('Sub', [builder.float([1]), builder.op('Cast', [mask], { to: attribute.int(1) })]);
    return builder.op('Unsqueeze', [builder.op('Mul', [blocked, builder.float([FLOAT32_MIN])]), builder.int64([1, 2])]);
  }

  /**
   * The position bias [1, h, q, k] for queries at positions queryPositions (int64 [q]) against keys at keyPositions
   * (int64 [k]), from a [2 clamp + 1, h] table indexed by clamp(key - query) + clamp.
   */
  positionBias(builder: GraphBuilder, table: string, clamp: number, queryPositions: string, keyPositions: string): string {
    const relative = builder.op('Sub', [
      builder.op('Unsqueeze', [keyPositions, builder.int64([0])]),
      builder.op('Unsqueeze', [queryPositions, builder.int64([1])]),
    ]);
    const clamped = builder.op('Min', [builder.op('Max', [relative, builder.int64([-clamp], [])]), builder.int64([clamp], [])]);
    const bias = builder.op('Gather', [table, builder.op('Add', [clamped, builder.int64([clamp], [])])], { axis: attribute.int(0) }); // [q, k, h]
    return builder.op('Unsqueeze', [builder.op('Transpose', [bias], { perm: attribute.ints([2, 0, 1]) }), builder.int64([0])]);
  }

  /** The size of `axis` of x, as an int64 scalar. */
  dimension(builder: GraphBuilder, x: string, axis: number): string {
    return builder.op('Gather', [builder.op('Shape', [x]), builder.int64([axis], [])], { axis: attribute.int(0) });
  }
}

/** The encoder graph (encoder_model.onnx). `file` names the checkpoint in errors. */
export function buildT5EncoderGraph(config: T5Config, tensors: ReadonlyMap<string, HostTensor>, file: string, options: T5GraphOptions = {}): OnnxGraph {
  const builder = new GraphBuilder();
  const weights = new WeightStore(builder, tensors, options.quantize ?? false);
  const ops = new T5GraphOps(config, weights);
  const clamp = bucketClampDistance(config, file);
  const heads = config.numHeads;
  const relativeBias = 'encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight';
  const table = weights.table(
    'encoder.position_bias_by_relative_position',
    [2 * clamp + 1, heads],
    positionBiasTable(config, tensors.get(relativeBias)!, true, clamp),
  );

  let hidden = weights.embedding(builder, 'shared.weight', 'input_ids');
  const length = ops.dimension(builder, 'input_ids', 1);
  const positions = builder.op('Range', [builder.int64([0], []), length, builder.int64([1], [])]);
  const bias = builder.op('Add', [ops.positionBias(builder, table, clamp, positions, positions), ops.paddingBias(builder, 'attention_mask')]);
  for (let block = 0; block < config.numLayers; block++) {
    const prefix = `encoder.block.${block}.layer`;
    const attention = `${prefix}.0.SelfAttention`;
    const normed = ops.rmsNorm(builder, hidden, `${prefix}.0.layer_norm.weight`);
    const queries = ops.splitHeads(builder, ops.linear(builder, normed, `${attention}.q.weight`));
    const keys = ops.splitHeads(builder, ops.linear(builder, normed, `${attention}.k.weight`));
    const values = ops.splitHeads(builder, ops.linear(builder, normed, `${attention}.v.weight`));
    hidden = builder.op('Add', [hidden, ops.attend(builder, attention, queries, keys, values, bias)]);
    hidden = builder.op('Add', [hidden, ops.feedForward(builder, `${prefix}.1`, hidden)]);
  }
  const normed = ops.rmsNorm(builder, hidden, 'encoder.final_layer_norm.weight');
  builder.op('Identity', [normed], undefined, 'last_hidden_state');
  return builder.graph(
    'zsd_t5_encoder',
    [
      { name: 'input_ids', dataType: 'int64', shape: [BATCH, ENCODER_LENGTH] },
      { name: 'attention_mask', dataType: 'int64', shape: [BATCH, ENCODER_LENGTH] },
    ],
    [{ name: 'last_hidden_state', dataType: 'float', shape: [BATCH, ENCODER_LENGTH, config.dModel] }],
  );
}

/** The merged decoder graph with past key values (decoder_model_merged.onnx). */
export function buildT5DecoderGraph(config: T5Config, tensors: ReadonlyMap<string, HostTensor>, file: string, options: T5GraphOptions = {}): OnnxGraph {
  const builder = new GraphBuilder();
  const weights = new WeightStore(builder, tensors, options.quantize ?? false);
  const ops = new T5GraphOps(config, weights);
  const clamp = bucketClampDistance(config, file);
  const heads = config.numHeads;
  const layers = config.numDecoderLayers;
  const relativeBias = 'decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight';
  const table = weights.table(
    'decoder.position_bias_by_relative_position',
    [2 * clamp + 1, heads],
    positionBiasTable(config, tensors.get(relativeBias)!, false, clamp),
  );
  const past = (layer: number, part: string) => `past_key_values.${layer}.${part}`;
  const present = (layer: number, part: string) => `present.${layer}.${part}`;

  // Cross-attention keys and values: computed from the encoder output on the first step, passed through after.
  const fromCache = builder.subgraph('use_cache/');
  const fromEncoder = builder.subgraph('compute_cross/');
  const branchOutputs = (branch: GraphBuilder, name: (layer: number, part: string) => string): OnnxValueInfo[] => {
    const outputs: OnnxValueInfo[] = [];
    for (let layer = 0; layer < layers; layer++) {
      for (const part of ['encoder.key', 'encoder.value']) outputs.push({ name: name(layer, part), dataType: 'float' });
    }
    return outputs;
  };
  const cachedName = (layer: number, part: string) => `use_cache/${present(layer, part)}`;
  const computedName = (layer: number, part: string) => `compute_cross/${present(layer, part)}`;
  for (let layer = 0; layer < layers; layer++) {
    const attention = `decoder.block.${layer}.layer.1.EncDecAttention`;
    fromCache.op('Identity', [past(layer, 'encoder.key')], undefined, cachedName(layer, 'encoder.key'));
    fromCache.op('Identity', [past(layer, 'encoder.value')], undefined, cachedName(layer, 'encoder.value'));
    ops.splitHeads(fromEncoder, ops.linear(fromEncoder, 'encoder_hidden_states', `${attention}.k.weight`), computedName(layer, 'encoder.key'));
    ops.splitHeads(fromEncoder, ops.linear(fromEncoder, 'encoder_hidden_states', `${attention}.v.weight`), computedName(layer, 'encoder.value'));
  }
  const crossNames: string[] = [];
  for (let layer = 0; layer < layers; layer++) crossNames.push(present(layer, 'encoder.key'), present(layer, 'encoder.value'));
  builder.opWithOutputs('If', ['use_cache_branch'], crossNames, {
    then_branch: attribute.graph(fromCache.graph('use_cache_branch', [], branchOutputs(fromCache, cachedName))),
    else_branch: attribute.graph(fromEncoder.graph('compute_cross_attention', [], branchOutputs(fromEncoder, computedName))),
  });

  let hidden = weights.embedding(builder, 'shared.weight', 'input_ids');
  const pastLength = ops.dimension(builder, past(0, 'decoder.key'), 2);
  const totalLength = builder.op('Add', [pastLength, ops.dimension(builder, 'input_ids', 1)]);
  const one = builder.int64([1], []);
  const queryPositions = builder.op('Range', [pastLength, totalLength, one]);
  const keyPositions = builder.op('Range', [builder.int64([0], []), totalLength, one]);
  const selfBias = ops.positionBias(builder, table, clamp, queryPositions, keyPositions);
  const crossBias = ops.paddingBias(builder, 'encoder_attention_mask');
  for (let layer = 0; layer < layers; layer++) {
    const prefix = `decoder.block.${layer}.layer`;
    const selfAttention = `${prefix}.0.SelfAttention`;
    let normed = ops.rmsNorm(builder, hidden, `${prefix}.0.layer_norm.weight`);
    const queries = ops.splitHeads(builder, ops.linear(builder, normed, `${selfAttention}.q.weight`));
    const newKeys = ops.splitHeads(builder, ops.linear(builder, normed, `${selfAttention}.k.weight`));
    const newValues = ops.splitHeads(builder, ops.linear(builder, normed, `${selfAttention}.v.weight`));
    const keys = builder.op('Concat', [past(layer, 'decoder.key'), newKeys], { axis: attribute.int(2) }, present(layer, 'decoder.key'));
    const values = builder.op('Concat', [past(layer, 'decoder.value'), newValues], { axis: attribute.int(2) }, present(layer, 'decoder.value'));
    hidden = builder.op('Add', [hidden, ops.attend(builder, selfAttention, queries, keys, values, selfBias)]);

    const crossAttention = `${prefix}.1.EncDecAttention`;
    normed = ops.rmsNorm(builder, hidden, `${prefix}.1.layer_norm.weight`);
    const crossQueries = ops.splitHeads(builder, ops.linear(builder, normed, `${crossAttention}.q.weight`));
    const crossAttended = ops.attend(builder, crossAttention, crossQueries, present(layer, 'encoder.key'), present(layer, 'encoder.value'), crossBias);
    hidden = builder.op('Add', [hidden, crossAttended]);
    hidden = builder.op('Add', [hidden, ops.feedForward(builder, `${prefix}.2`, hidden)]);
  }
  let output = ops.rmsNorm(builder, hidden, 'decoder.final_layer_norm.weight');
  if (config.scaleDecoderOutputs) output = builder.op('Mul', [output, builder.float([config.dModel ** -0.5])]);
  // Tied: float32 transposes the stored embedding (onnxruntime folds that once at load; the file holds it once);
  // int8 stores a transposed copy, whose DequantizeLinear + MatMul onnxruntime runs as one int8 product.
  const lmHead = tensors.has('lm_head.weight')
    ? weights.matrix(builder, 'lm_head.weight', 'transposed')
    : options.quantize
      ? weights.matrix(builder, 'shared.weight', 'transposed')
      : builder.op('Transpose', [weights.matrix(builder, 'shared.weight', 'stored')], { perm: attribute.ints([1, 0]) });
  builder.op('MatMul', [output, lmHead], undefined, 'logits');

  const inputs: OnnxValueInfo[] = [
    { name: 'encoder_attention_mask', dataType: 'int64', shape: [BATCH, ENCODER_LENGTH] },
    { name: 'input_ids', dataType: 'int64', shape: [BATCH, DECODER_LENGTH] },
    { name: 'encoder_hidden_states', dataType: 'float', shape: [BATCH, ENCODER_LENGTH, config.dModel] },
  ];
  const outputs: OnnxValueInfo[] = [{ name: 'logits', dataType: 'float', shape: [BATCH, DECODER_LENGTH, config.vocabSize] }];
  for (let layer = 0; layer < layers; layer++) {
    for (const part of ['decoder.key', 'decoder.value', 'encoder.key', 'encoder.value']) {
      const isDecoder = part.startsWith('decoder');
      inputs.push({ name: past(layer, part), dataType: 'float', shape: [BATCH, heads, isDecoder ? PAST_DECODER_LENGTH : ENCODER_LENGTH_OUT, config.dKv] });
      outputs.push({
        name: present(layer, part),
        dataType: 'float',
        shape: [BATCH, heads, isDecoder ? PRESENT_DECODER_LENGTH : ENCODER_LENGTH_OUT, config.dKv],
      });
    }
  }
  inputs.push({ name: 'use_cache_branch', dataType: 'bool', shape: [1] });
  return builder.graph('zsd_t5_decoder_merged', inputs, outputs);
}
